package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"enlace/server/config"
)

// connect opens the configured Redis (a single server, a Sentinel-managed
// primary or a Redis Cluster) and checks that it answers.
func connect(ctx context.Context, cfg *config.Config) (redis.UniversalClient, error) {
	r := cfg.Redis
	t := r.Timeout
	opts := &redis.UniversalOptions{
		Addrs:    r.Addrs,
		Username: r.Username, Password: r.Password, DB: r.DB,
		MasterName:       r.MasterName,
		SentinelUsername: r.SentinelUsername, SentinelPassword: r.SentinelPassword,
		DialTimeout: t, ReadTimeout: t, WriteTimeout: t, PoolTimeout: t, PoolSize: r.PoolSize,
		// No retries: a state-transition script retried after a timeout
		// runs twice when the first try was only slow, and the second run
		// takes the first for a replay (a code "used twice" revokes its
		// connection). Retries would also multiply the timeout. The pool
		// checks idle connections before use, so a Redis restart does not
		// need them. A cluster's MOVED and ASK redirections (a failover, a
		// resharding) are followed all the same: they are not retries of a
		// command that may have run.
		MaxRetries: -1,
		// The pub/sub subscription of the app cache must not time out while
		// it waits for messages; go-redis exempts it from ReadTimeout.
	}
	if r.TLS.Enabled {
		tc, err := tlsConfig(r.TLS)
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = tc
	}
	var rdb redis.UniversalClient
	switch r.Mode {
	case config.RedisCluster:
		co := opts.Cluster()
		// A dead primary answers no MOVED, which is what makes go-redis
		// read the slot map again; without traffic errors it rereads it
		// only this often (60 s by default). After a failover, requests
		// for the dead primary's slots fail until then, so keep it short:
		// it costs one CLUSTER SLOTS per interval, and only with traffic.
		co.ClusterStateReloadInterval = time.Second
		rdb = redis.NewClusterClient(co)
	case config.RedisSentinel:
		rdb = redis.NewFailoverClient(opts.Failover())
	default:
		opts.Addrs = []string{r.Addr}
		rdb = redis.NewClient(opts.Simple())
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis (%s) does not answer: %w", r.Describe(), err)
	}
	return rdb, nil
}

// tlsConfig builds the TLS settings for Redis connections.
func tlsConfig(c config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redis.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("redis.tls.ca_file holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("redis.tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

package launch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/server/config"
)

// Connect opens the configured Redis (a single server, a Sentinel-managed
// primary or a Redis Cluster) and checks that it answers.
func Connect(ctx context.Context, cfg *config.Config) (redis.UniversalClient, error) {
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
		cc := redis.NewClusterClient(co)
		// MaxRetries does not reach the cluster client's own loop, which
		// resends a command after a timeout or a dropped connection (as
		// many times as MaxRedirects, whose MOVED handling is needed).
		// Every node's client marks such an error as final instead.
		cc.OnNewNode(func(n *redis.Client) { n.AddHook(noResend{}) })
		rdb = cc
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

// noResend is a go-redis hook that keeps a cluster client from resending a
// command that may have reached Redis: a timeout or a connection lost
// mid-command. (A dial error, a pool timeout and MOVED/ASK are left to
// the client: the command was not run, or is to be run elsewhere.) The
// scripts are safe to run twice, but other writes (the email claim, a
// rate-limit refund) are not.
type noResend struct{}

// sentError is an error after which the command may have run; it reads as
// a deadline to go-redis, which resends none of those.
type sentError struct{ err error }

func (e sentError) Error() string        { return e.err.Error() }
func (e sentError) Is(target error) bool { return target == context.DeadlineExceeded }

func final(err error) error {
	var ne net.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return err
		}
		return sentError{err}
	}
	return err
}

func (noResend) DialHook(next redis.DialHook) redis.DialHook { return next }

func (noResend) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := final(next(ctx, cmd))
		if err != nil {
			cmd.SetErr(err)
		}
		return err
	}
}

func (noResend) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := final(next(ctx, cmds))
		if err != nil {
			for _, cmd := range cmds {
				if cmd.Err() != nil {
					cmd.SetErr(final(cmd.Err()))
				}
			}
		}
		return err
	}
}

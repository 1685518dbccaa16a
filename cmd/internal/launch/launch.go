// Package launch is what the enlace and enlace-bench binaries share: the
// configuration loaded from its sources, the Redis connection, the store,
// and the serve loop with its graceful stop.
package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// LoadConfig reads the configuration: the built-in defaults, then the
// file at path (which must exist when explicit), then environ.
func LoadConfig(path string, explicit bool, environ []string) (*config.Config, error) {
	return config.Load(enlace.DefaultConfig, path, explicit, environ)
}

// NewStore returns the store over rdb with the configured lifetimes.
func NewStore(rdb redis.UniversalClient, cfg *config.Config, log *slog.Logger) *store.Store {
	window := cfg.Tokens.RefreshRetryWindow
	if window == 0 {
		// The configuration's 0 is "off", the store's is "default".
		window = -1
	}
	// Validated when the configuration was loaded.
	key, _ := cfg.Encryption.KeyBytes()
	return store.New(rdb, store.Options{
		Lifetimes: store.Lifetimes{Code: cfg.Tokens.Code, Access: cfg.Tokens.Access, Refresh: cfg.Tokens.Refresh,
			RetryWindow: window},
		AuditLength:       cfg.Audit.MaxLength,
		Logger:            log,
		MinPasswordLength: cfg.Registration.MinPasswordLength,
		EncryptionKey:     key,
	})
}

// Prepare runs once the store is up and before the server is built: it
// returns the extensions to mount and a banner to print once the address
// accepts connections.
type Prepare func(ctx context.Context, st *store.Store, cfg *config.Config, embedded bool) ([]server.Extension, string, error)

// ServeOptions configure Serve.
type ServeOptions struct {
	Config *config.Config
	Stdout io.Writer
	Log    *slog.Logger
	// AllowEmbedded starts the embedded Redis when none is configured;
	// without it that is an error.
	AllowEmbedded bool
	Prepare       Prepare
	// Environ is the process's environment, read for GOGC (see
	// GCPercent).
	Environ []string
}

// currentGCPercent is the garbage collector's target in effect (GOGC's,
// runtime.gc_percent's or Go's default), as the runtime reports it.
func currentGCPercent() int64 {
	sample := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return -1
	}
	return int64(sample[0].Value.Uint64())
}

// GCPercent is the garbage collector's target that serve sets, and
// whether it sets one: runtime.gc_percent, unless it is 0 or GOGC is in
// environ (the runtime has read that already, and an operator who set it
// meant it).
func GCPercent(rt config.Runtime, environ []string) (int, bool) {
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); k == "GOGC" && v != "" {
			return 0, false
		}
	}
	return rt.GCPercent, rt.GCPercent != 0
}

// Serve runs the server until ctx ends, then stops it gracefully: in-flight
// requests get http.shutdown_timeout, and the last audit events are
// written before Redis is closed.
func Serve(ctx context.Context, o ServeOptions) error {
	cfg, log := o.Config, o.Log
	if pct, ok := GCPercent(cfg.Runtime, o.Environ); ok {
		debug.SetGCPercent(pct)
	}
	embedded := cfg.Redis.Embedded()
	if embedded {
		if !o.AllowEmbedded {
			return errors.New("this command needs a real Redis: set ENLACE_REDIS_ADDR or redis.addr")
		}
		addr, password, stopEmbedded, err := startEmbedded(ctx, cfg.Embedded.Dir)
		if err != nil {
			return err
		}
		defer stopEmbedded()
		cfg.Redis.Addr, cfg.Redis.Password, cfg.Redis.DB = addr, password, 0
		if err := useEmbeddedKey(cfg); err != nil {
			return err
		}
		log.Warn("no redis.addr configured: running on an embedded in-process Redis; "+
			"nothing is kept across restarts (set ENLACE_REDIS_ADDR for real use)", "dir", cfg.Embedded.Dir)
	}
	if cfg.Encryption.Key == "" {
		log.Warn("encryption.key is not set: apps cannot set up webhooks (set ENLACE_ENCRYPTION_KEY, from openssl rand -base64 32)")
	}
	rdb, err := Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	st := NewStore(rdb, cfg, log)
	if err := st.CheckSchema(ctx); err != nil {
		return err
	}

	secret := []byte(cfg.Session.Secret)
	if len(secret) == 0 {
		secret = []byte(store.NewSecret())
		log.Warn("session.secret is not set: using a random key, so sessions end when this process stops")
	}
	var (
		exts   []server.Extension
		banner string
	)
	if o.Prepare != nil {
		if exts, banner, err = o.Prepare(ctx, st, cfg, embedded); err != nil {
			return err
		}
	}
	srv, err := server.New(server.Options{
		Config: cfg, Store: st, SessionSecret: secret,
		Templates: enlace.Templates, Static: enlace.Static, Logger: log,
		SeparateMetrics: cfg.Metrics.Addr != "",
		Extensions:      exts,
		Maintenance: store.MaintenanceOptions{Lease: cfg.Maintenance.Lease, Tick: cfg.Maintenance.Interval,
			Batch: cfg.Maintenance.Batch},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return listenError(cfg.HTTP.Addr, "http.addr (ENLACE_HTTP_ADDR)", err)
	}
	// Printed once the address accepts connections, so what it says works.
	fmt.Fprint(o.Stdout, banner)
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	// Keeps the app cache in step with changes made by any instance, and
	// writes audit events in batches.
	background := make(chan struct{})
	go func() { srv.Run(ctx, nil); close(background) }()
	log.Info("enlace listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "gc_percent", currentGCPercent())
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if cfg.Metrics.Addr != "" {
		mln, err := net.Listen("tcp", cfg.Metrics.Addr)
		if err != nil {
			_ = ln.Close()
			return listenError(cfg.Metrics.Addr, "metrics.addr (ENLACE_METRICS_ADDR)", err)
		}
		ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		defer ms.Close()
		go func() {
			if err := ms.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics listener: %w", err)
			}
		}()
		log.Info("metrics listening", "addr", cfg.Metrics.Addr)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	// The last audit events are written before Redis is closed.
	<-background
	return nil
}

// listenError says what to do about an address that cannot be listened
// on, naming the setting it came from.
func listenError(addr, setting string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s is already in use by another process (%s): stop that process or choose another address, "+
			"e.g. ENLACE_HTTP_ADDR=127.0.0.1:8081", addr, setting)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("no permission to listen on %s (%s): ports below 1024 need privileges; choose a higher port", addr, setting)
	}
	return fmt.Errorf("listen on %s (%s): %w", addr, setting, err)
}

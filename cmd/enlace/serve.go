package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// loadConfig reads the configuration for any command.
func (e *env) loadConfig(path string, explicit bool) (*config.Config, error) {
	return config.Load(enlace.DefaultConfig, path, explicit, e.environ)
}

func newStore(rdb redis.UniversalClient, cfg *config.Config, log *slog.Logger) *store.Store {
	return store.New(rdb, store.Options{
		Lifetimes: store.Lifetimes{Code: cfg.Tokens.Code, Access: cfg.Tokens.Access, Refresh: cfg.Tokens.Refresh,
			RetryWindow: retryWindow(cfg.Tokens.RefreshRetryWindow)},
		AuditLength: cfg.Audit.MaxLength,
		Logger:      log,
	})
}

func (e *env) serve(ctx context.Context, path string, explicit bool) error {
	log := slog.New(server.WithRequestID(slog.NewJSONHandler(e.stderr, nil)))
	cfg, err := e.loadConfig(path, explicit)
	if err != nil {
		return err
	}
	embedded := cfg.Redis.Embedded()
	if embedded {
		m, err := startEmbedded(ctx)
		if err != nil {
			return err
		}
		defer m.Close()
		cfg.Redis.Addr, cfg.Redis.Password, cfg.Redis.DB = m.Addr(), "", 0
		log.Warn("no redis.addr configured: running on an embedded in-process Redis; " +
			"nothing is kept across restarts (set ENLACE_REDIS_ADDR for real use)")
	}
	rdb, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	st := newStore(rdb, cfg, log)

	secret := []byte(cfg.Session.Secret)
	if len(secret) == 0 {
		secret = []byte(store.NewSecret())
		log.Warn("session.secret is not set: using a random key, so sessions end when this process stops")
	}
	var (
		demo   *consent.DemoApp
		banner string
	)
	if embedded {
		if demo, banner, err = e.seedDemo(ctx, st, cfg); err != nil {
			return err
		}
	}
	srv, err := server.New(server.Options{
		Config: cfg, Store: st, SessionSecret: secret,
		Templates: enlace.Templates, Static: enlace.Static, Logger: log, Demo: demo,
		SeparateMetrics: cfg.Metrics.Addr != "",
		Floor:           cfg.Bench.Floor,
	})
	if err != nil {
		return err
	}
	if cfg.Bench.Floor {
		log.Warn("bench.floor is on: /_floor/ serves unauthenticated benchmark handlers; never in production")
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	// Printed once the address accepts connections, so what it says works.
	fmt.Fprint(e.stdout, banner)
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
	log.Info("enlace listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer)
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if cfg.Metrics.Addr != "" {
		ms := &http.Server{Addr: cfg.Metrics.Addr, Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		defer ms.Close()
		go func() {
			if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
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

// startEmbedded runs miniredis in process. miniredis only ages keys when
// told to, so a ticker moves its clock on with real time; without it no
// TTL would ever fire.
func startEmbedded(ctx context.Context) (*miniredis.Miniredis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return m, nil
}

// demoScopes are what the demo app is registered for.
var demoScopes = []string{"read:products", "write:products", "read:checkouts", "read:stocks"}

// seedDemo creates a demo merchant and app in the embedded Redis and
// returns them with a banner saying how to try the flow. The credentials go to standard output, once, never
// to the log.
func (e *env) seedDemo(ctx context.Context, st *store.Store, cfg *config.Config) (*consent.DemoApp, string, error) {
	password := store.NewSecret()[:16]
	m, err := st.CreateMerchant(ctx, "demo@enlace.test", "Tienda Demo", password)
	if err != nil {
		return nil, "", fmt.Errorf("seed demo merchant: %w", err)
	}
	redirect := cfg.Issuer + "/demo/callback"
	app, secret, err := st.CreateApp(ctx, store.AppSpec{
		Name: "Demo app", RedirectURIs: []string{redirect}, Scopes: demoScopes,
	}, cfg.Scopes.Names())
	if err != nil {
		return nil, "", fmt.Errorf("seed demo app: %w", err)
	}
	authorize := cfg.Issuer + "/apps/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {redirect},
		"scope": {strings.Join(demoScopes, " ")}, "state": {"demo"},
	}.Encode()
	banner := fmt.Sprintf(`
enlace is running on an embedded Redis (nothing is kept across restarts).

  Demo merchant   email: %s   password: %s
  Demo app        client_id: %s
                  client_secret: %s
                  redirect_uri: %s

  Try it in one minute: open %s/demo and press the button.

  Or open this in a browser to connect the demo app by hand:
  %s

  Then exchange the code it shows:
  curl -s %s/oauth/token -u '%s:%s' -d grant_type=authorization_code -d code=CODE

`, m.Email, password, app.ClientID, secret, redirect, cfg.Issuer, authorize, cfg.Issuer, app.ClientID, secret)
	return &consent.DemoApp{ClientID: app.ClientID, ClientSecret: secret, RedirectURI: redirect, Scopes: demoScopes}, banner, nil
}

// retryWindow maps the configuration's 0 ("off") to the store's negative.
func retryWindow(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

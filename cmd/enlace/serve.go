package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/cmd/internal/launch"
	"github.com/enlace-oauth/enlace/cmd/internal/logbuf"
	"github.com/enlace-oauth/enlace/consent/demo"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// loadConfig reads the configuration for any command.
func (e *env) loadConfig(path string, explicit bool) (*config.Config, error) {
	return launch.LoadConfig(path, explicit, e.environ)
}

func (e *env) serve(ctx context.Context, path string, explicit bool) (err error) {
	// The log is buffered so that a request's line costs no write system
	// call of its own (issue 13). It is closed once launch.Serve has
	// returned, after the last line of the stop, so a clean stop loses
	// none; lines it could not write make serve fail.
	lw := logbuf.New(e.stderr, 100*time.Millisecond)
	defer func() {
		if cerr := lw.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("write the log: %w", cerr))
		}
	}()
	log := slog.New(server.WithRequestID(slog.NewJSONHandler(lw, nil)))
	cfg, err := e.loadConfig(path, explicit)
	if err != nil {
		return err
	}
	return launch.Serve(ctx, launch.ServeOptions{Config: cfg, Stdout: e.stdout, Log: log, AllowEmbedded: true,
		Prepare: func(ctx context.Context, st *store.Store, cfg *config.Config, embedded bool) ([]server.Extension, string, error) {
			if !embedded {
				return nil, "", nil
			}
			app, banner, err := seedDemo(ctx, st, cfg)
			if err != nil {
				return nil, "", err
			}
			// The demo client is mounted only here, in the zero-setup mode.
			return []server.Extension{func(r gin.IRouter, h server.Handles) { demo.New(h.Kit, *app).Mount(r) }}, banner, nil
		}})
}

// demoScopes are what the demo app is registered for.
var demoScopes = []string{"read:products", "write:products", "read:checkouts", "read:stocks"}

// seedDemo creates a demo merchant and app in the embedded Redis and
// returns them with a banner saying how to try the flow. The credentials go to standard output, once, never
// to the log.
func seedDemo(ctx context.Context, st *store.Store, cfg *config.Config) (*demo.App, string, error) {
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
	return &demo.App{ClientID: app.ClientID, ClientSecret: secret, RedirectURI: redirect, Scopes: demoScopes}, banner, nil
}

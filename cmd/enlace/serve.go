package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/spf13/cobra"

	"github.com/enlace-oauth/enlace/cmd/internal/launch"
	"github.com/enlace-oauth/enlace/cmd/internal/logbuf"
	"github.com/enlace-oauth/enlace/consent/demo"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/server/logjson"
	"github.com/enlace-oauth/enlace/store"
)

// loadConfig reads the configuration for any command.
func (e *env) loadConfig() (*config.Config, error) {
	return launch.LoadConfig(e.configPath, e.explicit, e.environ)
}

func (e *env) serve(ctx context.Context) (err error) {
	// The log is buffered so that a request's line costs no write system
	// call of its own (issue 13), and its lines are written by logjson:
	// slog.JSONHandler's bytes, at half its cost for a request's line. It is closed once launch.Serve has
	// returned, after the last line of the stop, so a clean stop loses
	// none; lines it could not write make serve fail.
	lw := logbuf.New(e.stderr, 100*time.Millisecond)
	defer func() {
		if cerr := lw.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("write the log: %w", cerr))
		}
	}()
	log := slog.New(server.WithRequestID(logjson.New(lw, nil)))
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	return launch.Serve(ctx, launch.ServeOptions{Config: cfg, Stdout: e.stdout, Log: log, Environ: e.environ, AllowEmbedded: true,
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

// demoCredentials are the embedded mode's demo merchant and app, kept in
// <embedded.dir>/demo.json (mode 0600) so that they stay the same across
// restarts; `enlace demo` prints them.
type demoCredentials struct {
	MerchantEmail    string `json:"merchant_email"`
	MerchantPassword string `json:"merchant_password"`
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret"`
	RedirectURI      string `json:"redirect_uri"`
	Issuer           string `json:"issuer"`
	AuthorizeURL     string `json:"authorize_url"`
}

func demoPath(cfg *config.Config) string { return filepath.Join(cfg.Embedded.Dir, "demo.json") }

// readDemo returns the demo credentials kept in the data directory.
func readDemo(cfg *config.Config) (*demoCredentials, error) {
	b, err := os.ReadFile(demoPath(cfg))
	if err != nil {
		return nil, err
	}
	var d demoCredentials
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", demoPath(cfg), err)
	}
	return &d, nil
}

// seedDemo creates the demo merchant and app in the embedded Redis, with
// the credentials of the data directory when it has them, and returns
// them with a banner saying how to try the flow. The credentials go to
// standard output and to the 0600 file, never to the log.
func seedDemo(ctx context.Context, st *store.Store, cfg *config.Config) (*demo.App, string, error) {
	redirect := cfg.Issuer + "/demo/callback"
	d, err := readDemo(cfg)
	if err != nil || d.ClientID == "" || len(d.ClientSecret) < 43 || len(d.MerchantPassword) < 8 {
		d = &demoCredentials{MerchantEmail: "demo@enlace.test", MerchantPassword: store.NewSecret()[:16],
			ClientID: store.NewID(), ClientSecret: store.NewSecret()}
	}
	d.RedirectURI, d.Issuer = redirect, cfg.Issuer
	m, err := st.CreateMerchant(ctx, d.MerchantEmail, "Tienda Demo", d.MerchantPassword)
	if err != nil {
		return nil, "", fmt.Errorf("seed demo merchant: %w", err)
	}
	app, secret, err := st.CreateApp(ctx, store.AppSpec{
		Name: "Demo app", RedirectURIs: []string{redirect}, Scopes: demoScopes,
		ClientID: d.ClientID, Secret: d.ClientSecret, By: store.ActorCLI,
	}, cfg.Scopes.Names())
	if err != nil {
		return nil, "", fmt.Errorf("seed demo app: %w", err)
	}
	d.AuthorizeURL = cfg.Issuer + "/apps/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {redirect},
		"scope": {strings.Join(demoScopes, " ")}, "state": {"demo"},
	}.Encode()
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, "", fmt.Errorf("encode demo credentials: %w", err)
	}
	if err := launch.WriteFileAtomic(demoPath(cfg), append(b, '\n'), 0o600); err != nil {
		return nil, "", err
	}
	banner := fmt.Sprintf(`
enlace is running on an embedded Redis (its data is not kept across restarts;
the demo credentials below are, in %s).

  Demo merchant   email: %s   password: %s
  Demo app        client_id: %s
                  client_secret: %s
                  redirect_uri: %s

  Try it in one minute: open %s/demo and press the button.

  Or open this in a browser to connect the demo app by hand; the page it
  ends on shows the code and the commands that exchange it:
  %s

  In another terminal, the admin commands reach this server's Redis:
  go run ./cmd/enlace app list

`, demoPath(cfg), m.Email, d.MerchantPassword, app.ClientID, secret, redirect, cfg.Issuer, d.AuthorizeURL)
	return &demo.App{ClientID: app.ClientID, ClientSecret: secret, RedirectURI: redirect, Scopes: demoScopes}, banner, nil
}

// demoCommand prints the embedded mode's demo credentials.
func (e *env) demoCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "demo",
		Short: "Print the embedded mode's demo merchant and app credentials",
		Long: "Print the demo merchant's and app's credentials and the demo's authorize URL, as the last\n" +
			"`enlace serve` on the embedded Redis of this embedded.dir seeded them.",
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			d, err := readDemo(cfg)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no demo in %s yet: run `enlace serve` with no Redis configured first", cfg.Embedded.Dir)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return e.writeJSON(d)
			}
			fmt.Fprintf(e.stdout, "merchant_email:    %s\nmerchant_password: %s\nclient_id:         %s\nclient_secret:     %s\n"+
				"redirect_uri:      %s\nauthorize_url:     %s\n",
				d.MerchantEmail, d.MerchantPassword, d.ClientID, d.ClientSecret, d.RedirectURI, d.AuthorizeURL)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

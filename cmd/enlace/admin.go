package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/enlace-oauth/enlace/cmd/internal/launch"
	"github.com/enlace-oauth/enlace/store"
)

// adminStore opens the configured Redis for an admin command: the one
// configured, or the embedded Redis of a running `enlace serve`.
func (e *env) adminStore(ctx context.Context) (*store.Store, func(), error) {
	return e.openStore(ctx, true)
}

// openStore is adminStore; checkSchema false leaves the schema as it is
// found, for the migration.
func (e *env) openStore(ctx context.Context, checkSchema bool) (*store.Store, func(), error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if cfg.Redis.Embedded() {
		if err := launch.UseRunningEmbedded(ctx, cfg); err != nil {
			return nil, nil, err
		}
	}
	rdb, err := launch.Connect(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	st := launch.NewStore(rdb, cfg, slog.New(slog.NewTextHandler(e.stderr, nil)))
	if checkSchema {
		if err := st.CheckSchema(ctx); err != nil {
			_ = rdb.Close()
			return nil, nil, err
		}
	}
	return st, func() { _ = rdb.Close() }, nil
}

func (e *env) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "migrate",
		Short:   "Bring Redis to this version's key schema (stop every instance first)",
		GroupID: "server",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ctx := c.Context()
			st, done, err := e.openStore(ctx, false)
			if err != nil {
				return err
			}
			defer done()
			m, err := st.Migrate(ctx)
			if err != nil {
				return err
			}
			if m.From == strconv.Itoa(m.To) {
				fmt.Fprintf(e.stdout, "the key schema is %d already; nothing to do\n", m.To)
				return nil
			}
			fmt.Fprintf(e.stdout, "migrated the key schema from %s to %d: %d apps, %d account index entries, %d connections, %d audit events\n",
				m.From, m.To, m.Apps, m.Accounts, m.Connections, m.Events)
			return nil
		},
	}
}

func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// withStore runs fn on the admin store.
func (e *env) withStore(c *cobra.Command, fn func(ctx context.Context, st *store.Store) error) error {
	st, done, err := e.adminStore(c.Context())
	if err != nil {
		return err
	}
	defer done()
	return fn(c.Context(), st)
}

// appJSON is an app as the app commands print it with --json.
type appJSON struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	Scopes       []string `json:"scopes"`
	CreatedAt    string   `json:"created_at"`
	Disabled     bool     `json:"disabled"`
	Public       bool     `json:"public"`
	RequirePKCE  bool     `json:"require_pkce"`
	FirstParty   bool     `json:"first_party"`
	// Status is the lifecycle status; Owner the developer's id, "" for an
	// operator's app.
	Status store.AppStatus `json:"status"`
	Owner  string          `json:"owner"`
	// WebhookURL is the app's webhook endpoint; WebhookSecret its signing
	// secret, only in the answer that made it.
	WebhookURL    string `json:"webhook_url,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
	// IDTokenSignedResponseAlg is the algorithm the app's ID tokens are
	// signed with, the default (RS256) included.
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris"`
	// The security settings, as AppView names them.
	securityJSON
}

func toAppJSON(a *store.App, secret string) appJSON {
	return appJSON{ClientID: a.ClientID, ClientSecret: secret, Name: a.Name, RedirectURIs: a.RedirectURIs,
		Scopes: a.Scopes, CreatedAt: rfc3339(a.CreatedAt), Disabled: a.Disabled, Public: a.Public,
		RequirePKCE: a.RequirePKCE, FirstParty: a.FirstParty, Status: a.Status, Owner: a.Owner,
		WebhookURL: a.Webhook.URL, IDTokenSignedResponseAlg: a.IDTokenSigningAlg(),
		PostLogoutRedirectURIs: append([]string{}, a.PostLogoutRedirectURIs...), securityJSON: toSecurityJSON(a)}
}

// idTokenAlgUsage is the help of --id-token-alg.
var idTokenAlgUsage = "the algorithm the app's ID tokens are signed with (OpenID Connect): " +
	strings.Join(store.IDTokenAlgs(), " or ")

// splitScopes reads a --scopes value: space- or comma-separated.
func splitScopes(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
}

func (e *env) appCommand() *cobra.Command {
	return group("app", "Register, change and remove apps (OAuth clients)",
		e.appCreateCommand(), e.appListCommand(), e.appShowCommand(), e.appUpdateCommand(), e.appDeleteCommand(),
		e.appReviewCommand(), e.appRotateSecretCommand(), e.appRetireSecretCommand(),
		e.appRevokeConnectionsCommand(), e.appRevocationCommand(),
		e.appRotateWebhookSecretCommand(), e.appDeliveriesCommand(), e.appResendDeliveryCommand(), e.appPingCommand())
}

func (e *env) appCreateCommand() *cobra.Command {
	var (
		name, scopes, idTokenAlg        string
		uris, postLogout                []string
		public, requirePKCE, firstParty bool
		asJSON                          bool
		sec                             securityFlags
	)
	c := &cobra.Command{
		Use:   "create --name NAME --redirect-uri URI [--redirect-uri URI …] --scopes \"s1 s2\"",
		Short: "Register an app and print its client id and secret (shown only now)",
		Long: "Register an app and print its client id and, for a confidential app, its secret (shown only now).\n" +
			"--require-par and --require-dpop make pushed authorization requests and DPoP-bound tokens the\n" +
			"app's only way; --auth-method private_key_jwt, with its public keys in a JWK Set file (--jwks) or\n" +
			"at a URL (--jwks-uri), has it sign an assertion instead of sending a secret (no secret is then\n" +
			"printed); --fapi2 puts it on the FAPI 2.0 Security Profile, which needs private_key_jwt.",
		Example: `  enlace app create --name "Sync" --redirect-uri https://sync.example.com/callback \
    --scopes "read:products write:products" --json
  enlace app create --name "Bank feed" --redirect-uri https://feed.example.com/cb --scopes read:checkouts \
    --auth-method private_key_jwt --jwks feed-keys.json --fapi2`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			security, err := sec.spec()
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				app, secret, err := st.CreateApp(ctx, store.AppSpec{Name: name, RedirectURIs: uris, Scopes: splitScopes(scopes),
					Public: public, RequirePKCE: requirePKCE, FirstParty: firstParty, IDTokenAlg: idTokenAlg,
					PostLogoutRedirectURIs: postLogout, Security: security, By: store.ActorCLI}, cfg.Scopes.Names())
				if err != nil {
					return err
				}
				if app.UsesPrivateKeyJWT() {
					// The store made a secret all the same; the token
					// endpoint does not take it from this app.
					secret = ""
				}
				if asJSON {
					return e.writeJSON(toAppJSON(app, secret))
				}
				if app.Public {
					fmt.Fprintf(e.stdout, "client_id:     %s\n(a public app: no secret; it must use PKCE with S256)\n", app.ClientID)
					return nil
				}
				if app.UsesPrivateKeyJWT() {
					fmt.Fprintf(e.stdout, "client_id:     %s\n(private_key_jwt: no secret; the app signs its assertions with a key of its %s)\n",
						app.ClientID, keysSource(app))
					return nil
				}
				fmt.Fprintf(e.stdout, "client_id:     %s\nclient_secret: %s\n(the secret is shown only now; enlace keeps only its digest)\n",
					app.ClientID, secret)
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "app name shown to merchants")
	f.StringArrayVar(&uris, "redirect-uri", nil, "registered redirect URI (repeat for more)")
	f.StringVar(&scopes, "scopes", "", "space- or comma-separated scopes the app may ask for")
	f.BoolVar(&public, "public", false, "a public app (browser or mobile): no secret, PKCE required")
	f.BoolVar(&requirePKCE, "require-pkce", false, "require PKCE on every authorization request")
	f.BoolVar(&firstParty, "first-party", false, "one of the platform's own apps: may sign merchants in with the password grant (redirect URIs optional)")
	f.StringVar(&idTokenAlg, "id-token-alg", "", idTokenAlgUsage+"; "+store.AlgRS256+" when not given")
	f.StringArrayVar(&postLogout, "post-logout-redirect-uri", nil,
		"where OpenID Connect RP-initiated logout may send the browser back, a redirect URI's rules (repeat for more)")
	sec.add(f, false)
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) appListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the apps",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				apps, err := st.AllApps(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]appJSON, 0, len(apps))
					for _, a := range apps {
						out = append(out, toAppJSON(a, ""))
					}
					return e.writeJSON(out)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CLIENT ID\tNAME\tKIND\tSTATUS\tSCOPES\tREDIRECT URIS")
				for _, a := range apps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ClientID, a.Name, appKind(a), appStatus(a),
						strings.Join(a.Scopes, " "), strings.Join(a.RedirectURIs, " "))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// profileFlag is an app update flag of the app's profile, with the field
// of store.AppUpdate it sets.
type profileFlag struct {
	name, usage string
	field       func(*store.AppUpdate) **string
}

func profileFlags() []profileFlag {
	return []profileFlag{
		{"publisher", "who publishes the app, as merchants see it",
			func(u *store.AppUpdate) **string { return &u.Publisher }},
		{"description", "what the app does, for merchants", func(u *store.AppUpdate) **string { return &u.Description }},
		{"homepage", "the app's homepage (an https URL)", func(u *store.AppUpdate) **string { return &u.Homepage }},
		{"privacy-policy", "the app's privacy policy (an https URL)", func(u *store.AppUpdate) **string { return &u.PrivacyPolicy }},
		{"terms", "the app's terms of service (an https URL)", func(u *store.AppUpdate) **string { return &u.Terms }},
		{"support-email", "where merchants ask for help", func(u *store.AppUpdate) **string { return &u.SupportEmail }},
	}
}

func (e *env) appUpdateCommand() *cobra.Command {
	var (
		name, scopes, webhook, idTokenAlg string
		uris, addURIs, rmURIs, postLogout []string
		addTest, rmTest                   []string
		requirePKCE, clearPostLogout      bool
		asJSON                            bool
		sec                               securityFlags
	)
	profile := map[string]*string{}
	c := &cobra.Command{
		Use:   "update CLIENT_ID [flags]",
		Short: "Change an app's name, redirect URIs, scopes, PKCE rule, OpenID Connect or security settings, profile or test merchants",
		Long: "Change an app's registration; flags not given are left as they are. --redirect-uri and --scopes\n" +
			"replace the lists whole; --add-redirect-uri and --remove-redirect-uri change the list as it is\n" +
			"(the client id stays). A removed redirect URI is refused from the next request on, on every\n" +
			"instance. Existing connections keep the scopes they were granted; a new scope applies to new\n" +
			"approvals, and a removed one leaves their tokens at the next refresh. --test-merchant adds a\n" +
			"merchant (by email) who may connect the app while it is in development. A profile flag given\n" +
			"as \"\" clears that field. --webhook-url sets the app's webhook endpoint (https, on a public\n" +
			"address) and prints its signing secret the first time (webhook_secret with --json); \"\" removes it.\n" +
			"--id-token-alg chooses how the app's ID tokens are signed (RS256 or ES256); --post-logout-redirect-uri\n" +
			"replaces the post-logout redirect URIs whole, and --clear-post-logout-redirect-uris removes them all.\n" +
			"--require-par, --require-dpop and --fapi2 turn a switch on, or off with =false. --auth-method\n" +
			"private_key_jwt with --jwks FILE or --jwks-uri URL has the app sign assertions with its keys; one of\n" +
			"the two replaces the other, and --auth-method client_secret goes back to the secret and removes\n" +
			"both (the app may need a new one: `enlace app rotate-secret`). The settings are checked together.",
		Example: `  enlace app update 3f0c… --add-redirect-uri https://sync.example.com/v2/callback \
    --remove-redirect-uri https://sync.example.com/callback
  enlace app update 3f0c… --publisher "Sync SpA" --homepage https://sync.example.com \
    --test-merchant ana@tienda.cl`,
		Args: exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			var u store.AppUpdate
			f := c.Flags()
			if f.Changed("name") {
				u.Name = &name
			}
			if f.Changed("redirect-uri") {
				u.RedirectURIs = uris
			}
			u.AddRedirectURIs, u.RemoveRedirectURIs = addURIs, rmURIs
			if f.Changed("scopes") {
				u.Scopes = splitScopes(scopes)
				if u.Scopes == nil {
					u.Scopes = []string{}
				}
			}
			if f.Changed("require-pkce") {
				u.RequirePKCE = &requirePKCE
			}
			if f.Changed("id-token-alg") {
				u.IDTokenAlg = &idTokenAlg
			}
			switch {
			case clearPostLogout && f.Changed("post-logout-redirect-uri"):
				return usageError{"give --post-logout-redirect-uri or --clear-post-logout-redirect-uris, not both"}
			case clearPostLogout:
				u.PostLogoutRedirectURIs = []string{}
			case f.Changed("post-logout-redirect-uri"):
				u.PostLogoutRedirectURIs = postLogout
			}
			for _, pf := range profileFlags() {
				if f.Changed(pf.name) {
					*pf.field(&u) = profile[pf.name]
				}
			}
			if err := sec.update(f, &u); err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				// Test merchants are named by email and stored by id: every
				// one must be a merchant before anything is written.
				for _, set := range []struct {
					emails []string
					ids    *[]string
				}{{addTest, &u.AddTestMerchants}, {rmTest, &u.RemoveTestMerchants}} {
					for _, email := range set.emails {
						m, err := st.FindMerchant(ctx, email)
						if errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("no merchant with email %q (see enlace merchant list)", email)
						}
						if err != nil {
							return err
						}
						*set.ids = append(*set.ids, m.ID)
					}
				}
				// Only the endpoint may change: the rest is then left alone.
				var app, was *store.App
				var err error
				if was, err = st.GetApp(ctx, args[0]); err != nil {
					return appNotFound(args[0], err)
				}
				others := false
				f.Visit(func(fl *pflag.Flag) { others = others || fl.Name != "webhook-url" && fl.Name != "json" })
				if others || !f.Changed("webhook-url") {
					if app, err = st.UpdateApp(ctx, args[0], u, cfg.Scopes.Names(), store.ActorCLI); err != nil {
						return appNotFound(args[0], err)
					}
				}
				secret := ""
				if f.Changed("webhook-url") {
					if secret, err = setWebhook(ctx, st, args[0], webhook, cfg.Webhooks.AllowPrivateTargets); err != nil {
						return err
					}
				}
				if app, err = st.GetApp(ctx, args[0]); err != nil {
					return appNotFound(args[0], err)
				}
				if asJSON {
					v := toAppJSON(app, "")
					v.WebhookSecret = secret
					return e.writeJSON(v)
				}
				fmt.Fprintf(e.stdout, "updated app %s (%s)\n", app.ClientID, app.Name)
				if was.UsesPrivateKeyJWT() && !app.UsesPrivateKeyJWT() {
					fmt.Fprintf(e.stdout, "the app authenticates with its secret again; if it does not know it, give it a new one with `enlace app rotate-secret %s`\n",
						app.ClientID)
				}
				if secret != "" {
					fmt.Fprintf(e.stdout, "webhook_secret: %s\n(the signing secret is shown only now)\n", secret)
				}
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "new app name")
	f.StringArrayVar(&uris, "redirect-uri", nil, "the redirect URIs, all of them (repeat for more)")
	f.StringArrayVar(&addURIs, "add-redirect-uri", nil, "add a redirect URI (repeat for more)")
	f.StringArrayVar(&rmURIs, "remove-redirect-uri", nil, "remove a redirect URI (repeat for more)")
	f.StringVar(&scopes, "scopes", "", "the scopes the app may ask for, all of them")
	f.BoolVar(&requirePKCE, "require-pkce", false, "require PKCE on every authorization request")
	f.StringVar(&idTokenAlg, "id-token-alg", "", idTokenAlgUsage)
	f.StringArrayVar(&postLogout, "post-logout-redirect-uri", nil, "the post-logout redirect URIs, all of them (repeat for more)")
	f.BoolVar(&clearPostLogout, "clear-post-logout-redirect-uris", false, "remove every post-logout redirect URI")
	sec.add(f, true)
	for _, pf := range profileFlags() {
		v := new(string)
		profile[pf.name] = v
		f.StringVar(v, pf.name, "", pf.usage)
	}
	f.StringArrayVar(&addTest, "test-merchant", nil, "add a test merchant, by email (repeat for more)")
	f.StringArrayVar(&rmTest, "remove-test-merchant", nil, "remove a test merchant, by email (repeat for more)")
	f.StringVar(&webhook, "webhook-url", "", "the app's webhook endpoint (https); \"\" removes it")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) appDeleteCommand() *cobra.Command {
	var yes, asJSON bool
	c := &cobra.Command{
		Use:   "delete CLIENT_ID --yes",
		Short: "Remove an app and revoke every connection it has",
		Long: "Remove an app: from this moment its client id is unknown everywhere and every connection it had\n" +
			"is revoked (an app-wide revocation; the per-connection clean-up follows in the background of the\n" +
			"running servers, see `enlace app revocation`). This cannot be undone; --yes confirms it.",
		Args: exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			if !yes {
				return usageError{"app delete removes the app and revokes all its connections for good: add --yes to confirm"}
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				r, err := st.DeleteApp(ctx, args[0], store.ActorCLI)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no app with client id %q", args[0])
				}
				if err != nil {
					return err
				}
				if asJSON {
					return e.writeJSON(revocationOf(r))
				}
				fmt.Fprintf(e.stdout, "deleted app %s; every connection it had is refused from now on\n", args[0])
				return nil
			})
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "confirm the deletion")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (the clean-up's progress)")
	return c
}

// appKind is how app list describes an app.
func appKind(a *store.App) string {
	switch {
	case a.FirstParty:
		return "first-party"
	case a.Public:
		return "public"
	}
	return "confidential"
}

// readPassword takes the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// rfc3339 formats t in UTC, or "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

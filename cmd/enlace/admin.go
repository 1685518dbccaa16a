package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/enlace-oauth/enlace/cmd/internal/launch"
	"github.com/enlace-oauth/enlace/store"
)

// repeated is a flag that may be given more than once.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// adminStore opens the configured Redis for an admin command. The embedded
// Redis lives inside a running `enlace serve`, so admin commands need a
// real one.
func (e *env) adminStore(ctx context.Context, path string, explicit bool) (*store.Store, func(), error) {
	return e.openStore(ctx, path, explicit, true)
}

// openStore is adminStore; checkSchema false leaves the schema as it is
// found, for the migration.
func (e *env) openStore(ctx context.Context, path string, explicit, checkSchema bool) (*store.Store, func(), error) {
	cfg, err := e.loadConfig(path, explicit)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Redis.Embedded() {
		return nil, nil, errors.New("admin commands need a Redis: set ENLACE_REDIS_ADDR or redis.addr " +
			"(the embedded Redis exists only inside a running server)")
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

// migrate brings the Redis to this enlace's key schema (store.Migrate);
// every instance must be stopped while it runs.
func (e *env) migrate(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("migrate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, done, err := e.openStore(ctx, path, explicit, false)
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
}

func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (e *env) appCreate(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("app create")
	name := fs.String("name", "", "app name shown to merchants")
	var uris repeated
	fs.Var(&uris, "redirect-uri", "registered redirect URI (repeat for more)")
	scopes := fs.String("scopes", "", "space- or comma-separated scopes the app may ask for")
	public := fs.Bool("public", false, "a public app (browser or mobile): no secret, PKCE required")
	requirePKCE := fs.Bool("require-pkce", false, "require PKCE on every authorization request")
	firstParty := fs.Bool("first-party", false, "one of the platform's own apps: may sign merchants in with the password grant (redirect URIs optional)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := e.loadConfig(path, explicit)
	if err != nil {
		return err
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	fields := strings.FieldsFunc(*scopes, func(r rune) bool { return r == ' ' || r == ',' })
	app, secret, err := st.CreateApp(ctx, store.AppSpec{Name: *name, RedirectURIs: uris, Scopes: fields,
		Public: *public, RequirePKCE: *requirePKCE, FirstParty: *firstParty}, cfg.Scopes.Names())
	if err != nil {
		return err
	}
	if *asJSON {
		return e.writeJSON(map[string]any{
			"client_id": app.ClientID, "client_secret": secret, "name": app.Name,
			"redirect_uris": app.RedirectURIs, "scopes": app.Scopes,
			"public": app.Public, "require_pkce": app.RequirePKCE, "first_party": app.FirstParty,
		})
	}
	if app.Public {
		fmt.Fprintf(e.stdout, "client_id:     %s\n(a public app: no secret; it must use PKCE with S256)\n", app.ClientID)
		return nil
	}
	fmt.Fprintf(e.stdout, "client_id:     %s\nclient_secret: %s\n(the secret is shown only now; enlace keeps only its digest)\n",
		app.ClientID, secret)
	return nil
}

func (e *env) appList(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("app list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	apps, err := st.AllApps(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]map[string]any, 0, len(apps))
		for _, a := range apps {
			out = append(out, map[string]any{
				"client_id": a.ClientID, "name": a.Name, "redirect_uris": a.RedirectURIs,
				"scopes": a.Scopes, "created_at": a.CreatedAt.Format(time.RFC3339), "disabled": a.Disabled,
				"public": a.Public, "require_pkce": a.RequirePKCE, "first_party": a.FirstParty,
			})
		}
		return e.writeJSON(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tKIND\tSCOPES\tREDIRECT URIS")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ClientID, a.Name, appKind(a), strings.Join(a.Scopes, " "),
			strings.Join(a.RedirectURIs, " "))
	}
	return tw.Flush()
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

func (e *env) merchantCreate(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("merchant create")
	email := fs.String("email", "", "login email")
	name := fs.String("name", "", "store name")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*fromStdin {
		return errors.New("--password-stdin is required (passwords are never taken as arguments)")
	}
	password, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	m, err := st.CreateMerchant(ctx, *email, *name, password)
	if err != nil {
		return err
	}
	if *asJSON {
		return e.writeJSON(map[string]any{"id": m.ID, "email": m.Email, "name": m.Name})
	}
	fmt.Fprintf(e.stdout, "merchant_id: %s\n", m.ID)
	return nil
}

// readPassword takes the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (e *env) merchantList(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("merchant list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	ms, err := st.AllMerchants(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]map[string]any, 0, len(ms))
		for _, m := range ms {
			out = append(out, map[string]any{"id": m.ID, "email": m.Email, "name": m.Name,
				"created_at": m.CreatedAt.Format(time.RFC3339)})
		}
		return e.writeJSON(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.ID, m.Email, m.Name)
	}
	return tw.Flush()
}

// adminCreate registers an operator account; the password comes from
// standard input, never from the command line.
func (e *env) adminCreate(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("admin create")
	email := fs.String("email", "", "login email")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !*fromStdin {
		return errors.New("--password-stdin is required (passwords are never taken as arguments)")
	}
	password, err := readPassword(e.stdin)
	if err != nil {
		return err
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	a, err := st.CreateAdmin(ctx, *email, password)
	if err != nil {
		return err
	}
	if *asJSON {
		return e.writeJSON(map[string]any{"id": a.ID, "email": a.Email})
	}
	fmt.Fprintf(e.stdout, "admin_id: %s\n", a.ID)
	return nil
}

// adminKeyCreate makes an API key for the admin JSON API and prints it, the
// one time it can be seen.
func (e *env) adminKeyCreate(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("admin key create")
	name := fs.String("name", "", "what the key is for (shown in logs and listings)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if strings.TrimSpace(*name) == "" {
		return errors.New("--name is required")
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	key, err := st.CreateAdminKey(ctx, *name)
	if err != nil {
		return err
	}
	const note = "(the key is shown only now; enlace keeps only its digest)"
	if *asJSON {
		fmt.Fprintln(e.stderr, note)
		return e.writeJSON(map[string]any{"name": strings.TrimSpace(*name), "key": key})
	}
	fmt.Fprintf(e.stdout, "admin_key: %s\n%s\n", key, note)
	return nil
}

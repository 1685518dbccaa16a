package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestCLIConventions: help, version, completion, unknown commands and
// bad flags behave as in gh and kubectl (issue 14).
func TestCLIConventions(t *testing.T) {
	t.Parallel()
	environ := []string{"ENLACE_EMBEDDED_DIR=" + t.TempDir()}
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stdout string // on stdout
		stderr string // on stderr
	}{
		{"help", []string{"--help"}, 0, "Managing enlace:", ""},
		{"help command", []string{"help", "app"}, 0, "revoke-connections", ""},
		// --help of serve describes it and does not start a server.
		{"serve --help", []string{"serve", "--help"}, 0, "Run the HTTP server", ""},
		{"subcommand --help", []string{"app", "create", "--help"}, 0, "--redirect-uri", ""},
		{"version", []string{"version"}, 0, "enlace ", ""},
		{"--version", []string{"--version"}, 0, "enlace ", ""},
		{"completion", []string{"completion", "bash"}, 0, "__enlace_", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate" for "enlace"`},
		{"typo", []string{"app", "creat"}, 2, "", "did you mean create?"},
		{"group alone", []string{"admin"}, 2, "", `"enlace admin" needs a command: create, key, password`},
		{"unknown flag", []string{"app", "list", "--colour"}, 2, "", "unknown flag: --colour"},
		{"stray argument", []string{"version", "x"}, 2, "", "takes no arguments"},
		{"delete without --yes", []string{"app", "delete", "some-app"}, 2, "", "--yes"},
		{"bad limit", []string{"connection", "list", "--limit", "0"}, 2, "", "--limit must be from 1 to 200"},
	} {
		r := runCmd(t, environ, "", c.args...)
		if r.code != c.code || !strings.Contains(r.stdout, c.stdout) || !strings.Contains(r.stderr, c.stderr) {
			t.Errorf("%s: got %d\nstdout: %.300s\nstderr: %.300s", c.name, r.code, r.stdout, r.stderr)
		}
		if c.code == 2 && strings.Contains(r.stderr, "Usage:") {
			t.Errorf("%s: a usage error prints the whole usage: %s", c.name, r.stderr)
		}
	}
}

// TestConfigErrorsNameTheVariable: a bad ENLACE_* value is reported by
// its variable, not by a Go field, and a busy port says so.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	r := runCmd(t, []string{"ENLACE_TOKENS_ACCESS_LIFETIME=6", "ENLACE_REDIS_ADDR=127.0.0.1:1"}, "", "app", "list")
	if r.code != 1 || !strings.Contains(r.stderr, `ENLACE_TOKENS_ACCESS_LIFETIME="6": not a duration`) ||
		strings.Contains(r.stderr, "field") || strings.Contains(r.stderr, "time.Duration") {
		t.Errorf("bad duration: %d %s", r.code, r.stderr)
	}
	r = runCmd(t, []string{"ENLACE_REDIS_POOL_SIZE=many", "ENLACE_REGISTRATION_ENABLED=perhaps", "ENLACE_REDIS_ADDR=127.0.0.1:1"}, "", "app", "list")
	if r.code != 1 || !strings.Contains(r.stderr, `ENLACE_REDIS_POOL_SIZE="many": not a whole number`) ||
		!strings.Contains(r.stderr, `ENLACE_REGISTRATION_ENABLED="perhaps": not true or false`) {
		t.Errorf("two bad values: %d %s", r.code, r.stderr)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	rs := redistest.Start(t)
	r = runCmd(t, []string{"ENLACE_REDIS_ADDR=" + rs.Addr, "ENLACE_HTTP_ADDR=" + busy.Addr().String()}, "", "serve")
	if r.code != 1 || !strings.Contains(r.stderr, busy.Addr().String()+" is already in use by another process (http.addr (ENLACE_HTTP_ADDR))") {
		t.Errorf("busy port: %d %s", r.code, r.stderr)
	}
}

// TestAppUpdateAndDelete changes an app's registration and removes it.
func TestAppUpdateAndDelete(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, store.Options{})
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}
	r := runCmd(t, environ, "", "app", "create", "--name", "Sync", "--redirect-uri", "https://a.example.com/cb",
		"--redirect-uri", "https://a.example.com/old", "--scopes", "read:products", "--json")
	var app struct {
		ClientID string `json:"client_id"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &app) != nil {
		t.Fatalf("app create: %d %s %s", r.code, r.stdout, r.stderr)
	}

	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, want string
		args       []string
	}{
		{"nothing to change", "nothing to change", []string{"app", "update", app.ClientID}},
		{"unknown app", "no app with client id", []string{"app", "update", "nope", "--name", "X"}},
		{"unknown scope", "unknown scope", []string{"app", "update", app.ClientID, "--scopes", "read:everything"}},
		{"no scopes", "at least one scope", []string{"app", "update", app.ClientID, "--scopes", ""}},
		{"bad redirect", "must use https", []string{"app", "update", app.ClientID, "--redirect-uri", "http://a.example.com/cb"}},
		{"blank name", "needs a name", []string{"app", "update", app.ClientID, "--name", " "}},
	} {
		if r := runCmd(t, environ, "", c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want a failure saying %q, got %d %s", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	r = runCmd(t, environ, "", "app", "update", app.ClientID, "--name", "Sync 2", "--redirect-uri", "https://a.example.com/cb",
		"--scopes", "read:products write:products", "--require-pkce", "--json")
	var updated struct {
		Name         string   `json:"name"`
		RedirectURIs []string `json:"redirect_uris"`
		Scopes       []string `json:"scopes"`
		RequirePKCE  bool     `json:"require_pkce"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &updated) != nil || updated.Name != "Sync 2" ||
		len(updated.RedirectURIs) != 1 || len(updated.Scopes) != 2 || !updated.RequirePKCE {
		t.Fatalf("app update: %d %s %s", r.code, r.stdout, r.stderr)
	}
	a, err := st.GetApp(ctx, app.ClientID)
	if err != nil || a.AllowsRedirect("https://a.example.com/old") || !a.AllowsRedirect("https://a.example.com/cb") || !a.RequirePKCE {
		t.Fatalf("stored after the update: %+v %v", a, err)
	}
	events, _, err := st.ListAudit(ctx, store.AuditFilter{ClientID: app.ClientID}, "", 10)
	if err != nil || len(events) == 0 || !strings.Contains(events[0].Detail, "updated: name, redirect URIs, scopes, PKCE rule") ||
		events[0].Actor != store.ActorCLI {
		t.Errorf("the update's audit event: %+v %v", events, err)
	}

	// A connection of the app, then the app's deletion.
	m, err := st.CreateMerchant(ctx, "ana@tienda.cl", "Ana", "long enough pw")
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: m.ID, Scopes: []string{"read:products"},
		RedirectURI: "https://a.example.com/cb", CodeChallenge: strings.Repeat("a", 43)})
	if err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, environ, "", "app", "delete", app.ClientID, "--yes", "--json")
	var rev struct {
		ClientID   string `json:"client_id"`
		Generation int64  `json:"generation"`
		State      string `json:"state"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rev) != nil || rev.ClientID != app.ClientID || rev.Generation != 1 || rev.State != "running" {
		t.Fatalf("app delete: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := st.GetApp(ctx, app.ClientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted app is still found: %v", err)
	}
	if r := runCmd(t, environ, "", "app", "list"); strings.Contains(r.stdout, app.ClientID) {
		t.Errorf("app list shows the deleted app: %s", r.stdout)
	}
	if c, err := st.GetConnection(ctx, conn.ID); err != nil || c.AppGeneration >= 1 {
		t.Errorf("the connection is not of an older generation than the deleted app's: %+v %v", c, err)
	}
	if r := runCmd(t, environ, "", "app", "delete", app.ClientID, "--yes"); r.code != 1 || !strings.Contains(r.stderr, "no app with client id") {
		t.Errorf("deleting it again: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, environ, "", "app", "update", app.ClientID, "--name", "Back"); r.code != 1 || !strings.Contains(r.stderr, "no app with client id") {
		t.Errorf("updating a deleted app: %d %s", r.code, r.stderr)
	}
}

// TestAppOpenIDSettings: app create and app update take the ID token
// algorithm and the post-logout redirect URIs (update replaces the list
// whole, or clears it), app show prints them, and a bad value is refused
// with the store's message, writing nothing.
func TestAppOpenIDSettings(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, store.Options{})
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}
	create := []string{"app", "create", "--name", "RP", "--redirect-uri", "https://rp.example.com/cb", "--scopes", "read:products"}

	r := runCmd(t, environ, "", "app", "list") // the schema marker, before the snapshot
	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, want string
		args       []string
	}{
		{"HS256", `"HS256" is not supported (RS256 or ES256)`, []string{"--id-token-alg", "HS256"}},
		{"lower case", `"rs256" is not supported`, []string{"--id-token-alg", "rs256"}},
		{"http, not localhost", "post-logout redirect URI \"http://rp.example.com/bye\" must use https", []string{"--post-logout-redirect-uri", "http://rp.example.com/bye"}},
		{"empty", "post-logout redirect URI \"\" is not absolute", []string{"--post-logout-redirect-uri", ""}},
	} {
		if r := runCmd(t, environ, "", append(slices.Clone(create), c.args...)...); r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("create, %s: want exit 1 saying %q, got %d %s", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	r = runCmd(t, environ, "", append(slices.Clone(create), "--id-token-alg", "ES256", "--post-logout-redirect-uri",
		"https://rp.example.com/bye", "--post-logout-redirect-uri", "http://localhost:9000/bye", "--json")...)
	var app struct {
		ClientID   string   `json:"client_id"`
		Alg        string   `json:"id_token_signed_response_alg"`
		PostLogout []string `json:"post_logout_redirect_uris"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &app) != nil || app.Alg != "ES256" ||
		!slices.Equal(app.PostLogout, []string{"https://rp.example.com/bye", "http://localhost:9000/bye"}) {
		t.Fatalf("app create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if a, err := st.GetApp(ctx, app.ClientID); err != nil || a.IDTokenAlg != store.AlgES256 || !a.AllowsPostLogoutRedirect("http://localhost:9000/bye") {
		t.Fatalf("stored: %+v %v", a, err)
	}
	if r := runCmd(t, environ, "", "app", "show", app.ClientID); r.code != 0 || !regexp.MustCompile(`ID token algorithm:\s+ES256\n`).MatchString(r.stdout) ||
		!regexp.MustCompile(`post-logout redirect URIs:\s+https://rp.example.com/bye http://localhost:9000/bye\n`).MatchString(r.stdout) {
		t.Fatalf("app show: %d %s %s", r.code, r.stdout, r.stderr)
	}

	before = redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, want string
		code       int
		args       []string
	}{
		{"none", `"none" is not supported (RS256 or ES256)`, 1, []string{"--id-token-alg", "none"}},
		{"fragment", `post-logout redirect URI "https://rp.example.com/bye#x" must not contain a fragment`, 1,
			[]string{"--post-logout-redirect-uri", "https://rp.example.com/bye#x"}},
		{"both", "not both", 2, []string{"--post-logout-redirect-uri", "https://rp.example.com/bye", "--clear-post-logout-redirect-uris"}},
	} {
		if r := runCmd(t, environ, "", append([]string{"app", "update", app.ClientID}, c.args...)...); r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("update, %s: want exit %d saying %q, got %d %s", c.name, c.code, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	// The list is replaced whole; the audit event names both parts.
	r = runCmd(t, environ, "", "app", "update", app.ClientID, "--id-token-alg", "RS256",
		"--post-logout-redirect-uri", "https://rp.example.com/logged-out", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &app) != nil || app.Alg != "RS256" ||
		!slices.Equal(app.PostLogout, []string{"https://rp.example.com/logged-out"}) {
		t.Fatalf("app update: %d %s %s", r.code, r.stdout, r.stderr)
	}
	events, _, err := st.ListAudit(ctx, store.AuditFilter{ClientID: app.ClientID}, "", 1)
	if err != nil || len(events) != 1 || events[0].Detail != "updated: ID token algorithm, post-logout redirect URIs" {
		t.Fatalf("the update's audit event: %+v %v", events, err)
	}
	if r := runCmd(t, environ, "", "app", "update", app.ClientID, "--clear-post-logout-redirect-uris"); r.code != 0 {
		t.Fatalf("clear: %d %s", r.code, r.stderr)
	}
	r = runCmd(t, environ, "", "app", "show", app.ClientID, "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"id_token_signed_response_alg": "RS256"`) || !strings.Contains(r.stdout, `"post_logout_redirect_uris": []`) {
		t.Fatalf("app show --json after clearing: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if a, _ := st.GetApp(ctx, app.ClientID); len(a.PostLogoutRedirectURIs) != 0 || a.AllowsPostLogoutRedirect("https://rp.example.com/logged-out") {
		t.Fatalf("stored after clearing: %v", a.PostLogoutRedirectURIs)
	}
}

// TestAdminKeysAndPasswordReset lists, expires and revokes admin API keys,
// and resets a merchant's password with the one password rule.
func TestAdminKeysAndPasswordReset(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	now := time.Now()
	st := store.New(rdb, store.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}

	r := runCmd(t, environ, "", "admin", "key", "create", "--name", "deploy", "--expires-in", "720h", "--json")
	var k struct {
		ID, Name, Key string
		ExpiresAt     string `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &k); r.code != 0 || err != nil || len(k.ID) != 12 || k.ExpiresAt == "" {
		t.Fatalf("admin key create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, environ, "", "admin", "key", "create", "--name", "ci")
	if r.code != 0 || !strings.Contains(r.stdout, "id:") {
		t.Fatalf("admin key create (text): %d %s", r.code, r.stdout)
	}
	r = runCmd(t, environ, "", "admin", "key", "list")
	if r.code != 0 || !strings.Contains(r.stdout, k.ID) || !strings.Contains(r.stdout, "deploy") || !strings.Contains(r.stdout, "never") ||
		strings.Contains(r.stdout, k.Key) {
		t.Fatalf("admin key list: %d %s", r.code, r.stdout)
	}
	if ttl := rdb.PTTL(ctx, "admin-key:"+store.Digest(k.Key)).Val(); ttl < 719*time.Hour || ttl > 720*time.Hour {
		t.Errorf("the key's TTL in Redis: %v", ttl)
	}
	// Past its expiry the key is refused (the store's clock, as Redis's
	// own expiry would do).
	now = now.Add(721 * time.Hour)
	if _, err := st.AuthenticateAdminKey(ctx, k.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an expired key: %v", err)
	}
	now = time.Now()
	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, want string
		args       []string
	}{
		{"bad id", "12 hex digits", []string{"admin", "key", "revoke", "xyz"}},
		{"unknown id", "no admin key with id", []string{"admin", "key", "revoke", "000000000000"}},
		{"negative lifetime", "--expires-in must be positive", []string{"admin", "key", "create", "--name", "x", "--expires-in", "-1h"}},
	} {
		if r := runCmd(t, environ, "", c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want a failure saying %q, got %d %s", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
	if r := runCmd(t, environ, "", "admin", "key", "revoke", k.ID); r.code != 0 || !strings.Contains(r.stdout, "revoked admin key "+k.ID) {
		t.Fatalf("admin key revoke: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := st.AuthenticateAdminKey(ctx, k.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a revoked key still works: %v", err)
	}
	if r := runCmd(t, environ, "", "admin", "key", "list"); strings.Contains(r.stdout, k.ID) || !strings.Contains(r.stdout, "ci") {
		t.Errorf("admin key list after the revocation: %s", r.stdout)
	}

	m, err := st.CreateMerchant(ctx, "ana@tienda.cl", "Ana", "the old password")
	if err != nil {
		t.Fatal(err)
	}
	loggedIn := time.Now().Add(-time.Minute)
	before = redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, stdin, want string
		args              []string
	}{
		{"short", "seven77\n", "at least 8 characters", []string{"merchant", "password", m.ID, "--password-stdin"}},
		{"no stdin flag", "a new password\n", "--password-stdin", []string{"merchant", "password", m.ID}},
		{"unknown merchant", "a new password\n", "no merchant with id or email", []string{"merchant", "password", "nobody@tienda.cl", "--password-stdin"}},
		{"an admin's email", "a new password\n", "no merchant", []string{"merchant", "password", "ops@tienda.cl", "--password-stdin"}},
	} {
		if r := runCmd(t, environ, c.stdin, c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want a failure saying %q, got %d %s", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
	r = runCmd(t, environ, "a new password\n", "merchant", "password", "ANA@tienda.cl", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "their sessions have ended") {
		t.Fatalf("merchant password: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := st.AuthenticateMerchant(ctx, "ana@tienda.cl", "the old password"); !errors.Is(err, store.ErrBadCredentials) {
		t.Errorf("the old password still works: %v", err)
	}
	got, err := st.AuthenticateMerchant(ctx, "ana@tienda.cl", "a new password")
	if err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if got.SessionValid(loggedIn) || !got.SessionValid(time.Now().Add(time.Second)) {
		t.Errorf("sessions from before the reset must end, later ones not: changed at %v", got.PasswordChangedAt)
	}
}

// embeddedServer runs `enlace serve` with no Redis configured, on addr,
// with its files in dir, and returns the banner it printed; it is stopped
// when the test ends (and by stop).
func embeddedServer(t *testing.T, dir, addr string) (banner string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, strings.NewReader(""), pw, io.Discard,
			[]string{"ENLACE_HTTP_ADDR=" + addr, "ENLACE_EMBEDDED_DIR=" + dir})
		pw.Close()
	}()
	var b strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "app list") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	}
	t.Cleanup(stop)
	if !strings.Contains(b.String(), "client_secret") {
		stop()
		t.Fatalf("serve printed no banner: %s", b.String())
	}
	return b.String(), stop
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestEmbeddedMode: on the embedded default the admin commands reach the
// running server, the demo credentials stay the same across restarts,
// `enlace healthcheck` answers, and listening on every interface works.
func TestEmbeddedMode(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	environ := []string{"ENLACE_EMBEDDED_DIR=" + dir}
	addr := freeAddr(t)
	banner, stop := embeddedServer(t, dir, addr)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("embedded.dir: %v %v", fi, err)
	}
	for _, f := range []string{"demo.json", "redis.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	r := runCmd(t, environ, "", "demo", "--json")
	var d demoCredentials
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &d) != nil || !strings.Contains(banner, d.ClientSecret) ||
		!strings.Contains(banner, d.MerchantPassword) || !strings.HasPrefix(d.AuthorizeURL, "http://"+addr+"/apps/authorize?") {
		t.Fatalf("enlace demo: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// An app developer registers an app on the running embedded server.
	r = runCmd(t, environ, "", "app", "create", "--name", "Mine", "--redirect-uri", "http://localhost:9000/cb",
		"--scopes", "read:products", "--json")
	if r.code != 0 {
		t.Fatalf("app create on the embedded server: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, environ, "", "app", "list"); r.code != 0 || !strings.Contains(r.stdout, "Mine") || !strings.Contains(r.stdout, d.ClientID) {
		t.Fatalf("app list on the embedded server: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, environ, "", "healthcheck", "--url", "http://"+addr); r.code != 0 {
		t.Errorf("healthcheck: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, []string{"ENLACE_HTTP_ADDR=" + addr}, "", "healthcheck"); r.code != 0 {
		t.Errorf("healthcheck at http.addr: %d %s", r.code, r.stderr)
	}
	// A second server on the same directory would take the first's file.
	if r := runCmd(t, []string{"ENLACE_HTTP_ADDR=" + freeAddr(t), "ENLACE_EMBEDDED_DIR=" + dir}, "", "serve"); r.code != 1 ||
		!strings.Contains(r.stderr, "another enlace serve") {
		t.Errorf("a second serve on one embedded.dir: %d %s", r.code, r.stderr)
	}

	stop()
	if _, err := os.Stat(filepath.Join(dir, "redis.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("redis.json outlives the server: %v", err)
	}
	if r := runCmd(t, environ, "", "app", "list"); r.code != 1 || !strings.Contains(r.stderr, "no `enlace serve` is running") {
		t.Errorf("app list with the server stopped: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, []string{"ENLACE_HTTP_ADDR=" + addr}, "", "healthcheck", "--timeout", "2s"); r.code != 1 || !strings.Contains(r.stderr, "healthcheck") {
		t.Errorf("healthcheck of a stopped server: %d %s", r.code, r.stderr)
	}

	// Restarted, on every interface: the same demo credentials, and the
	// issuer is localhost (0.0.0.0 is no address a browser goes to).
	port := addr[strings.LastIndex(addr, ":")+1:]
	banner2, _ := embeddedServer(t, dir, "0.0.0.0:"+port)
	if !strings.Contains(banner2, d.ClientID) || !strings.Contains(banner2, d.ClientSecret) || !strings.Contains(banner2, d.MerchantPassword) {
		t.Errorf("the demo credentials changed across a restart:\n%s\n%s", banner, banner2)
	}
	if !strings.Contains(banner2, "http://localhost:"+port+"/demo/callback") {
		t.Errorf("the issuer on 0.0.0.0: %s", banner2)
	}
	res, err := http.Get("http://127.0.0.1:" + port + "/readyz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz on 0.0.0.0: %v %v", res, err)
	}
	res.Body.Close()
}

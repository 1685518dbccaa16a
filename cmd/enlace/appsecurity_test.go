package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestAppSecuritySettings: app create and app update take --require-par,
// --require-dpop, --fapi2, --auth-method, --jwks FILE and --jwks-uri (on
// update only the flags given, =false turning a switch off); a
// private_key_jwt app is printed no secret; app show prints the settings,
// --json under AppView's names; a bad combination is refused with the
// store's message and exit status 1, writing nothing.
func TestAppSecuritySettings(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, store.Options{})
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}
	create := []string{"app", "create", "--name", "Feed", "--redirect-uri", "https://feed.example.com/cb", "--scopes", "read:products"}

	dir := t.TempDir()
	writeJWKS := func(name string, keys ...jose.JSONWebKey) string {
		t.Helper()
		b, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: keys}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := writeJWKS("keys.json", jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "feed-1", Algorithm: "PS256"},
		jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "feed-2"})
	private := writeJWKS("private.json", jose.JSONWebKey{Key: ecKey, KeyID: "oops"})
	one := writeJWKS("one.json", jose.JSONWebKey{Key: &ecKey.PublicKey, KeyID: "only", Algorithm: "ES256"})

	r := runCmd(t, environ, "", "app", "list") // the schema marker, before the snapshot
	if r.code != 0 {
		t.Fatalf("app list: %d %s", r.code, r.stderr)
	}
	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, want string
		args       []string
	}{
		{"fapi2 alone", "FAPI 2.0 needs private_key_jwt", []string{"--fapi2"}},
		{"jwks alone", "a jwks or jwks_uri is only used with private_key_jwt", []string{"--jwks", good}},
		{"jwks_uri alone", "a jwks or jwks_uri is only used with private_key_jwt", []string{"--jwks-uri", "https://feed.example.com/jwks"}},
		{"no keys", "private_key_jwt needs the app's public keys", []string{"--auth-method", "private_key_jwt"}},
		{"both", "not both", []string{"--auth-method", "private_key_jwt", "--jwks", good, "--jwks-uri", "https://feed.example.com/jwks"}},
		{"a private key", "a private or symmetric key; register only the public half", []string{"--auth-method", "private_key_jwt", "--jwks", private}},
		{"http jwks_uri", `jwks_uri "http://feed.example.com/jwks" must use https`,
			[]string{"--auth-method", "private_key_jwt", "--jwks-uri", "http://feed.example.com/jwks"}},
		{"unknown method", `client authentication method "tls_client_auth" is not supported`, []string{"--auth-method", "tls_client_auth"}},
		{"public", "a public app has no keys to sign with", []string{"--public", "--auth-method", "private_key_jwt", "--jwks", good}},
		{"fapi2, first-party", "FAPI 2.0 forbids the password grant",
			[]string{"--first-party", "--fapi2", "--auth-method", "private_key_jwt", "--jwks", good}},
		{"no such file", "read --jwks: open", []string{"--auth-method", "private_key_jwt", "--jwks", filepath.Join(dir, "none.json")}},
	} {
		if r := runCmd(t, environ, "", append(slices.Clone(create), c.args...)...); r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("create, %s: want exit 1 saying %q, got %d %s", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	// private_key_jwt with a jwks and DPoP: no secret printed, either way.
	type shown struct {
		ClientID     string          `json:"client_id"`
		ClientSecret *string         `json:"client_secret"`
		PAR          bool            `json:"require_pushed_authorization_requests"`
		DPoP         bool            `json:"dpop_bound_access_tokens"`
		FAPI2        bool            `json:"fapi2"`
		Method       string          `json:"token_endpoint_auth_method"`
		JWKS         json.RawMessage `json:"jwks"`
		JWKSURI      string          `json:"jwks_uri"`
	}
	read := func(what string, r result) shown {
		t.Helper()
		var v shown
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil {
			t.Fatalf("%s: %d %s %s", what, r.code, r.stdout, r.stderr)
		}
		// The set as stored, without the indentation of the output.
		var b bytes.Buffer
		if err := json.Compact(&b, v.JWKS); err != nil {
			t.Fatal(err)
		}
		v.JWKS = b.Bytes()
		return v
	}
	app := read("create, private_key_jwt", runCmd(t, environ, "", append(slices.Clone(create), "--auth-method", "private_key_jwt",
		"--jwks", good, "--require-dpop", "--json")...))
	if app.ClientSecret != nil || app.Method != "private_key_jwt" || !app.DPoP || app.PAR || app.FAPI2 || app.JWKSURI != "" {
		t.Fatalf("create, private_key_jwt: %+v", app)
	}
	a, err := st.GetApp(ctx, app.ClientID)
	if err != nil || !a.UsesPrivateKeyJWT() || !a.RequireDPoP || string(app.JWKS) != a.JWKS {
		t.Fatalf("stored: %+v %v", a, err)
	}
	if keys, err := a.ClientKeys(); err != nil || len(keys.Keys) != 2 || keys.Keys[0].KeyID != "feed-1" {
		t.Fatalf("stored keys: %+v %v", keys, err)
	}
	r = runCmd(t, environ, "", append(slices.Clone(create), "--auth-method", "private_key_jwt", "--jwks-uri", "https://feed.example.com/jwks")...)
	if r.code != 0 || strings.Contains(r.stdout, "client_secret:") || !strings.Contains(r.stdout, "no secret") ||
		!strings.Contains(r.stdout, "jwks_uri https://feed.example.com/jwks") {
		t.Fatalf("create, private_key_jwt, text: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// --auth-method client_secret is the default, with a secret.
	par := read("create, PAR", runCmd(t, environ, "", append(slices.Clone(create), "--require-par", "--auth-method", "client_secret", "--json")...))
	if par.ClientSecret == nil || len(*par.ClientSecret) < 43 || !par.PAR || par.DPoP || par.Method != "client_secret_basic" ||
		string(par.JWKS) != "null" {
		t.Fatalf("create, PAR: %+v", par)
	}

	// app show: the lines of the settings that are on; --json as AppView.
	r = runCmd(t, environ, "", "app", "show", app.ClientID)
	for _, want := range []string{`client authentication:\s+private_key_jwt\n`, `DPoP-bound tokens:\s+required\n`,
		`jwks:\s+2 keys: feed-1 PS256, feed-2\n`} {
		if r.code != 0 || !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Fatalf("app show lacks %s: %d %s %s", want, r.code, r.stdout, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "pushed authorization requests") || strings.Contains(r.stdout, "FAPI 2.0") {
		t.Fatalf("app show names a rule that is off: %s", r.stdout)
	}
	if v := read("app show --json", runCmd(t, environ, "", "app", "show", app.ClientID, "--json")); v.Method != "private_key_jwt" ||
		!v.DPoP || v.PAR || string(v.JWKS) != a.JWKS || v.ClientSecret != nil {
		t.Fatalf("app show --json: %+v", v)
	}

	// Refused updates write nothing.
	before = redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, id, want string
		args           []string
	}{
		{"fapi2 on a secret app", par.ClientID, "FAPI 2.0 needs private_key_jwt", []string{"--fapi2"}},
		{"keys on a secret app", par.ClientID, "only used with private_key_jwt", []string{"--require-par=false", "--jwks", good}},
		{"private_key_jwt without keys", par.ClientID, "private_key_jwt needs the app's public keys", []string{"--auth-method", "private_key_jwt"}},
		{"a private key", app.ClientID, "a private or symmetric key", []string{"--jwks", private}},
		{"both", app.ClientID, "not both", []string{"--jwks", one, "--jwks-uri", "https://feed.example.com/jwks"}},
		{"http jwks_uri with a good name", app.ClientID, "must use https", []string{"--name", "Feed 2", "--jwks-uri", "http://feed.example.com/jwks"}},
		{"no keys left", app.ClientID, "private_key_jwt needs the app's public keys", []string{"--jwks", ""}},
	} {
		if r := runCmd(t, environ, "", append([]string{"app", "update", c.id}, c.args...)...); r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("update, %s: want exit 1 saying %q, got %d %s", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	security := func(id string) store.Security {
		t.Helper()
		a, err := st.GetApp(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return a.Security()
	}
	audited := func(id, want string) {
		t.Helper()
		events, _, err := st.ListAudit(ctx, store.AuditFilter{ClientID: id}, "", 1)
		if err != nil || len(events) != 1 || events[0].Detail != want {
			t.Fatalf("the update's audit event: %+v %v, want %q", events, err, want)
		}
	}
	// A flag not given leaves its setting; =false turns one off.
	if r := runCmd(t, environ, "", "app", "update", par.ClientID, "--name", "Feed PAR"); r.code != 0 || !security(par.ClientID).RequirePAR {
		t.Fatalf("update without the flags: %d %s %+v", r.code, r.stderr, security(par.ClientID))
	}
	if r := runCmd(t, environ, "", "app", "update", par.ClientID, "--require-par=false", "--require-dpop"); r.code != 0 ||
		security(par.ClientID) != (store.Security{RequireDPoP: true}) {
		t.Fatalf("--require-par=false: %d %s %+v", r.code, r.stderr, security(par.ClientID))
	}
	audited(par.ClientID, "updated: security")

	// One source of keys replaces the other; fapi2 on top.
	v := read("to jwks_uri", runCmd(t, environ, "", "app", "update", app.ClientID, "--jwks-uri", "https://feed.example.com/jwks", "--fapi2", "--json"))
	if v.JWKSURI != "https://feed.example.com/jwks" || string(v.JWKS) != "null" || !v.FAPI2 || !v.PAR || !v.DPoP {
		t.Fatalf("to jwks_uri with fapi2: %+v", v)
	}
	if s := security(app.ClientID); s.JWKS != "" || !s.FAPI2 || s.RequirePAR || !s.RequireDPoP {
		t.Fatalf("stored, fapi2: %+v", s)
	}
	r = runCmd(t, environ, "", "app", "show", app.ClientID)
	for _, want := range []string{`pushed authorization requests:\s+required \(by FAPI 2.0\)\n`,
		`DPoP-bound tokens:\s+required \(also by FAPI 2.0\)\n`, `FAPI 2.0:\s+on: PAR, PKCE with S256, DPoP, private_key_jwt, no password grant, 60-second codes\n`,
		`jwks_uri:\s+https://feed.example.com/jwks\n`} {
		if r.code != 0 || !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Fatalf("app show on fapi2 lacks %s: %d %s %s", want, r.code, r.stdout, r.stderr)
		}
	}
	if v := read("back to one jwks", runCmd(t, environ, "", "app", "update", app.ClientID, "--jwks", one, "--json")); v.JWKSURI != "" ||
		!strings.Contains(string(v.JWKS), `"kid":"only"`) {
		t.Fatalf("to jwks: %+v", v)
	}
	if r := runCmd(t, environ, "", "app", "show", app.ClientID); !regexp.MustCompile(`jwks:\s+1 key: only ES256\n`).MatchString(r.stdout) {
		t.Fatalf("app show, one key: %s", r.stdout)
	}
	// Back to the secret: fapi2 must go too; the keys go with the method.
	before = redistest.Snapshot(t, rdb)
	if r := runCmd(t, environ, "", "app", "update", app.ClientID, "--auth-method", "client_secret"); r.code != 1 ||
		!strings.Contains(r.stderr, "FAPI 2.0 needs private_key_jwt") {
		t.Fatalf("leaving private_key_jwt on fapi2: %d %s", r.code, r.stderr)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
	r = runCmd(t, environ, "", "app", "update", app.ClientID, "--auth-method", "client_secret", "--fapi2=false")
	if r.code != 0 || !strings.Contains(r.stdout, "enlace app rotate-secret "+app.ClientID) {
		t.Fatalf("back to the secret: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if s := security(app.ClientID); s != (store.Security{RequireDPoP: true}) {
		t.Fatalf("stored, back to the secret: %+v", s)
	}
	audited(app.ClientID, "updated: security")
}

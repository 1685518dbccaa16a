package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestHardening covers items of the hardening list (issue 14), each with
// its bad input refused and nothing changed.
func TestHardening(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// A POST to a path with a trailing slash is a 404, never a 307 that
	// the browser would follow with the credentials.
	r := e.form("/oauth/token/", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, e.app.ClientID, e.secret)
	if r.status != http.StatusNotFound || r.header.Get("Location") != "" {
		t.Errorf("POST /oauth/token/: %d %q", r.status, r.header.Get("Location"))
	}

	// PKCE verifiers outside RFC 7636 §4.1 (43-128 unreserved) are refused
	// and spend nothing: the code still exchanges with the right one.
	verifier := strings.Repeat("v", 43)
	code := e.code(url.Values{"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"}})
	for _, bad := range []string{"short", strings.Repeat("v", 129), strings.Repeat("v", 42) + "!"} {
		r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {appRedirect}, "code_verifier": {bad}}, e.app.ClientID, e.secret)
		assertOAuthError(t, r, http.StatusBadRequest, "invalid_request")
	}
	ok := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {appRedirect}, "code_verifier": {verifier}}, e.app.ClientID, e.secret)
	if ok.status != http.StatusOK {
		t.Fatalf("the right verifier after bad ones: %d %s", ok.status, ok.raw)
	}
	// A replay of the used code without its verifier is refused without
	// revoking: only the holder of the proof can end the connection so.
	r = e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {appRedirect}}, e.app.ClientID, e.secret)
	assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if got := e.info(ok.json["access_token"].(string)); got.status != http.StatusOK {
		t.Fatalf("a replay without the verifier revoked the connection: %d", got.status)
	}
	// With it, the replay is a replay: the connection is revoked.
	r = e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {appRedirect}, "code_verifier": {verifier}}, e.app.ClientID, e.secret)
	assertOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	if got := e.info(ok.json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatalf("a replay with the verifier left the connection: %d", got.status)
	}

	// A bad audit cursor on the admin page is the caller's error, a 400.
	adm := e.adminBrowser()
	if p := adm.get("/admin/audit?before=%3Cx"); p.status != http.StatusBadRequest {
		t.Errorf("/admin/audit?before=<x: %d", p.status)
	}
	c, err := e.st.GetConnection(context.Background(), ok.json["connection_id"].(string))
	if err != nil || c.Status != store.StatusRevoked || c.RevokedBy != store.ActorCodeReuse {
		t.Fatalf("the connection after the replay with its verifier: %v %+v", err, c)
	}
}

// TestIssuerSchemeCase: an issuer spelled HTTPS:// is https, and its
// cookies are Secure.
func TestIssuerSchemeCase(t *testing.T) {
	t.Parallel()
	for issuer, want := range map[string]bool{"HTTPS://auth.example.com": true, "https://a.example": true,
		"http://127.0.0.1:8080": false, "HTTP://x": false, "httpsx://y": false} {
		if got := (&config.Config{Issuer: issuer}).Secure(); got != want {
			t.Errorf("Secure() of %q = %v, want %v", issuer, got, want)
		}
	}
}

// TestStrictJSON: the JSON dialects refuse a key given twice and invalid
// UTF-8, as the form dialect does, and nothing is issued or created.
func TestStrictJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code := e.code(nil)
	dup := `{"grant_type":"authorization_code","client_id":"` + e.app.ClientID + `","client_secret":"wrong",` +
		`"client_secret":"` + e.secret + `","code":"` + code + `"}`
	r := e.postToken("/oauth/access-token", "application/json", dup)
	assertOAuthError(t, r, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(r.raw, "twice") {
		t.Errorf("duplicate key answer: %s", r.raw)
	}
	bad := `{"grant_type":"authorization_code","client_id":"` + e.app.ClientID + `","client_secret":"` + e.secret +
		`","code":"` + code + `","scope":"read:products` + "\xff" + `"}`
	assertOAuthError(t, e.postToken("/oauth/access-token", "application/json", bad), http.StatusBadRequest, "invalid_request")
	// The code was not spent by either.
	good := `{"grant_type":"authorization_code","client_id":"` + e.app.ClientID + `","client_secret":"` + e.secret +
		`","code":"` + code + `"}`
	if r := e.postToken("/oauth/access-token", "application/json", good); r.status != http.StatusOK {
		t.Fatalf("the code after the refused bodies: %d %s", r.status, r.raw)
	}
	// JSON:API sign-up: "type" twice is refused, and no account is made.
	doc := `{"data":{"type":"admins","type":"users","attributes":{"email":"dup@tienda.cl","password":"long enough pw","name":"Dup"}}}`
	if r := e.postToken("/v1/users", "application/vnd.api+json", doc); r.status != http.StatusBadRequest {
		t.Fatalf("a document with type twice: %d %s", r.status, r.raw)
	}
	if _, err := e.st.FindMerchant(context.Background(), "dup@tienda.cl"); err == nil {
		t.Fatal("a refused document created an account")
	}
}

// TestRequestIDFromClients: a client's X-Request-Id is not kept (it could
// plant ids in the logs); a trusted front proxy's is.
func TestRequestIDFromClients(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{false, true} {
		e := newEnv(t, func(c *config.Config) {
			if trusted {
				c.HTTP.TrustedProxies = []string{"127.0.0.0/8"}
			}
		})
		req, _ := http.NewRequest(http.MethodGet, e.url+"/healthz", nil)
		req.Header.Set("X-Request-Id", "planted-by-a-client")
		got := e.send(req).header.Get("X-Request-Id")
		if kept := got == "planted-by-a-client"; kept != trusted || got == "" {
			t.Errorf("trusted proxy %v: X-Request-Id %q", trusted, got)
		}
	}
}

// TestFailedLoginLogLine: a failed login's log line names the account (a
// digest of its email, never the email) and the address it came from.
func TestFailedLoginLogLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	login := b.get("/login")
	const email = "Nadie@Tienda.cl"
	if p := b.post("/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {email}, "password": {"wrong one"}}); p.status != http.StatusUnauthorized {
		t.Fatalf("a wrong login: %d", p.status)
	}
	want := `"account":"` + consent.AccountRef("nadie@tienda.cl") + `","address":"127.0.0.1"`
	eventually(t, "the failed login's log line", func() bool { return strings.Contains(e.logs.String(), want) })
	if strings.Contains(strings.ToLower(e.logs.String()), "nadie@tienda.cl") {
		t.Fatal("the log holds the email")
	}
}

// TestLoginPagesStoreNothing: a visitor without a session who opens the
// login pages costs Redis nothing; their forms are checked against a
// signed double-submit cookie, and the session is stored only once a
// login is accepted.
func TestLoginPagesStoreNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.st.CreateAdmin(context.Background(), "ops@enlace.test", "admin pass"); err != nil {
		t.Fatal(err)
	}
	before := redistest.Snapshot(t, e.rdb)
	for _, path := range []string{"/login", "/admin/login", "/login?next=%2Fconnections"} {
		for range 3 {
			p := e.browser().get(path)
			if p.status != http.StatusOK || csrfOf(t, p) == "" {
				t.Fatalf("GET %s: %d", path, p.status)
			}
			if sc := p.header.Values("Set-Cookie"); len(sc) != 1 || !strings.HasPrefix(sc[0], "enlace_csrf=") ||
				!strings.Contains(sc[0], "HttpOnly") || !strings.Contains(sc[0], "SameSite=Lax") {
				t.Errorf("GET %s sets %q, want the CSRF cookie alone", path, sc)
			}
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	creds := url.Values{"email": {e.merchant.Email}, "password": {password}}
	with := func(tok string) url.Values {
		v := url.Values{"csrf_token": {tok}}
		for k, vs := range creds {
			v[k] = vs
		}
		return v
	}
	// Without the cookie, with another visitor's token, or with a forged
	// cookie, the post is refused and nothing is stored.
	other := csrfOf(t, e.browser().get("/login"))
	b := e.browser()
	if p := b.post("/login", with(other)); p.status != http.StatusForbidden {
		t.Errorf("a token without its cookie: %d", p.status)
	}
	b = e.browser()
	csrfOf(t, b.get("/login"))
	if p := b.post("/login", with(other)); p.status != http.StatusForbidden {
		t.Errorf("another visitor's token: %d", p.status)
	}
	forged := e.browser()
	u, _ := url.Parse(e.url)
	forged.c.Jar.SetCookies(u, []*http.Cookie{{Name: "enlace_csrf", Value: "forged", Path: "/"}})
	if p := forged.post("/login", with("forged")); p.status != http.StatusForbidden {
		t.Errorf("a forged cookie: %d", p.status)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	// The right pair logs in, and then a session exists.
	b = e.browser()
	if p := b.post("/login", with(csrfOf(t, b.get("/login")))); p.status != http.StatusSeeOther {
		t.Fatalf("login with the cookie's token: %d %s", p.status, p.body)
	}
	if p := b.get("/connections"); p.status != http.StatusOK {
		t.Fatalf("/connections after login: %d %s", p.status, p.location)
	}
	if n := len(e.rdb.Keys(context.Background(), "session:*").Val()); n != 1 {
		t.Errorf("sessions after one login: %d", n)
	}

	// An operator's password reset ends the sessions from before it.
	adm := e.adminBrowser()
	if _, err := e.st.SetMerchantPassword(context.Background(), e.merchant.ID, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/connections"); p.status != http.StatusFound || !strings.HasPrefix(p.location, "/login") {
		t.Errorf("/connections after the password reset: %d %s", p.status, p.location)
	}
	if _, err := e.st.SetAdminPassword(context.Background(), "ops@enlace.test", "another admin pass"); err != nil {
		t.Fatal(err)
	}
	if p := adm.get("/admin"); p.status != http.StatusSeeOther || p.location != "/admin/login" {
		t.Errorf("/admin after the admin's password reset: %d %s", p.status, p.location)
	}
}

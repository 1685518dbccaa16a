package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// TestMetadata: RFC 8414 metadata, with the issuer equal to the configured
// one character for character and to the iss of authorization responses.
func TestMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.send(mustRequest(http.MethodGet, e.url+"/.well-known/oauth-authorization-server"))
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("metadata: %d %s", r.status, r.raw)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(r.raw), &m)
	want := map[string]any{
		"issuer":                 e.cfg.Issuer,
		"authorization_endpoint": e.cfg.Issuer + "/apps/authorize",
		"token_endpoint":         e.cfg.Issuer + "/oauth/token",
		"revocation_endpoint":    e.cfg.Issuer + "/oauth/revoke",
		"introspection_endpoint": e.cfg.Issuer + "/oauth/introspect",
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	list := func(k string) string {
		var out []string
		for _, v := range m[k].([]any) {
			out = append(out, v.(string))
		}
		return strings.Join(out, " ")
	}
	if list("response_types_supported") != "code" || list("code_challenge_methods_supported") != "S256" ||
		list("grant_types_supported") != "authorization_code refresh_token" ||
		!strings.Contains(list("token_endpoint_auth_methods_supported"), "client_secret_basic") ||
		!strings.Contains(list("scopes_supported"), "read:checkouts") {
		t.Fatalf("metadata lists: %s", r.raw)
	}
	// The iss of an authorization response is that issuer.
	authorize := "/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode()
	b := e.browser()
	u := b.approve(authorize, b.loginAndConsentPage(authorize), "read:products")
	if u.Query().Get("iss") != m["issuer"] || u.Query().Get("code") == "" {
		t.Fatalf("iss %q, metadata issuer %q", u.Query().Get("iss"), m["issuer"])
	}
}

// TestPublicAndPKCERequiredApps: a public app has no secret, must use PKCE
// (S256), and authenticates with its client id alone; an app registered
// with require-pkce must use PKCE too.
func TestPublicAndPKCERequiredApps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pub, secret, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Móvil", RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:products"}, Public: true}, e.cfg.Scopes.Names())
	if err != nil || secret != "" || pub.SecretDigest != "" {
		t.Fatalf("public app: %v %q", err, secret)
	}
	strict, strictSecret, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Estricta", RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:products"}, RequirePKCE: true}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{pub.ClientID, strict.ClientID} {
		p := e.browser().get("/apps/authorize?" + authorizeQuery(id, appRedirect).Encode())
		u, _ := url.Parse(p.location)
		if p.status != http.StatusFound || u.Query().Get("error") != "invalid_request" || u.Query().Get("iss") != e.cfg.Issuer {
			t.Fatalf("no PKCE for %s: %d %s", id, p.status, p.location)
		}
	}

	// The whole flow for the public app with golang.org/x/oauth2.
	conf := &oauth2.Config{ClientID: pub.ClientID, RedirectURL: appRedirect, Scopes: []string{"read:products"},
		Endpoint: oauth2.Endpoint{AuthURL: e.url + "/apps/authorize", TokenURL: e.url + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
	b := e.browser()
	code := b.approve(authURL, b.loginAndConsentPage(authURL), "read:products").Query().Get("code")

	form := func(v url.Values) response { return e.form("/oauth/token", v) }
	assertOAuthError(t, form(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {pub.ClientID}}), 400, "invalid_grant")
	assertOAuthError(t, form(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {pub.ClientID},
		"client_secret": {"made-up"}, "code_verifier": {verifier}}), 400, "invalid_client")
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("public exchange: %v", err)
	}
	if r := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {pub.ClientID}}); r.status != http.StatusOK {
		t.Fatalf("public refresh: %s", r.raw)
	}
	// Introspection needs a confidential client.
	assertOAuthError(t, e.form("/oauth/introspect", url.Values{"token": {tok.AccessToken}, "client_id": {pub.ClientID}}), 400, "invalid_client")

	// The confidential app that requires PKCE still needs its secret.
	strictConf := &oauth2.Config{ClientID: strict.ClientID, ClientSecret: strictSecret, RedirectURL: appRedirect,
		Scopes: []string{"read:products"}, Endpoint: conf.Endpoint}
	authURL = strictConf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
	b = e.browser()
	code = b.approve(authURL, b.loginAndConsentPage(authURL), "read:products").Query().Get("code")
	assertOAuthError(t, e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"client_id": {strict.ClientID}, "code_verifier": {verifier}}), 400, "invalid_client")
	if _, err := strictConf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("require-pkce exchange: %v", err)
	}
}

// TestLoginPageLimits: failed logins are limited per account and per
// address; over the limit the page asks to wait, even with the right
// password; successful logins do not count.
func TestLoginPageLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.LoginLimits.PerAccount = 3
		c.LoginLimits.PerAddress = 6
	})
	b := e.browser()
	try := func(email, pw string) page {
		return b.post("/login", url.Values{"csrf_token": {csrfOf(t, b.get("/login"))}, "email": {email}, "password": {pw}, "next": {"/"}})
	}
	for range 5 {
		if p := try(e.merchant.Email, password); p.status != http.StatusSeeOther {
			t.Fatalf("successful logins must not count: %d", p.status)
		}
	}
	for i := range 3 {
		if p := try(e.merchant.Email, "wrong"); p.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, p.status)
		}
	}
	p := try(e.merchant.Email, password)
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Demasiados intentos") || p.header.Get("Retry-After") == "" {
		t.Fatalf("over the account limit: %d %s", p.status, p.body)
	}
	// An unknown email is limited the same way: the limit says nothing of
	// which emails exist.
	for range 3 {
		try("nadie@tienda.cl", "x")
	}
	if p := try("nadie@tienda.cl", "x"); p.status != http.StatusTooManyRequests {
		t.Fatalf("over the address limit: %d", p.status)
	}
	// The admin login shares the per-address counter.
	ab := e.browser()
	login := ab.get("/admin/login")
	if p := ab.post("/admin/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {"ops@x.cl"}, "password": {"x"}}); p.status != http.StatusTooManyRequests {
		t.Fatalf("admin login over the address limit: %d", p.status)
	}
}

// TestSessionsAndHeaders: cookie flags (Secure with an https issuer), a new
// session id at login, logout ending the server-side session, and the
// security headers on pages and on the redirect that carries the code.
func TestSessionsAndHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Issuer = "https://auth.example.com" })
	b := e.browser()
	login := b.get("/login")
	// A visitor without a session gets only the signed CSRF cookie, with
	// the __Host- prefix on https (no sibling host can set it).
	setCookie := login.header.Get("Set-Cookie")
	for _, want := range []string{"__Host-enlace_csrf=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(setCookie, want) {
			t.Fatalf("CSRF cookie lacks %s: %s", want, setCookie)
		}
	}
	if strings.Contains(setCookie, "Domain") || len(login.header.Values("Set-Cookie")) != 1 {
		t.Fatalf("the login page sets more than the host-only CSRF cookie: %q", login.header.Values("Set-Cookie"))
	}
	for name, want := range map[string]string{
		"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := login.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	csp := login.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "http") || strings.Contains(csp, "*") {
		t.Fatalf("CSP: %q", csp)
	}
	if strings.Contains(login.body, "http://") || strings.Contains(login.body, "https://") {
		t.Fatal("the login page loads something from elsewhere")
	}

	// Cookies marked Secure are not sent back over plain http by a cookie
	// jar, so carry them by hand from here on.
	cookieNamed := func(p page, name string) string {
		for _, c := range (&http.Response{Header: p.header}).Cookies() {
			if c.Name == name {
				return c.Value
			}
		}
		return ""
	}
	cookie := func(p page) string { return cookieNamed(p, "enlace_session") }
	csrfCookie := cookieNamed(login, "__Host-enlace_csrf")
	send := func(method, path, cookieValue string, form url.Values) page {
		req, _ := http.NewRequest(method, e.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "__Host-enlace_csrf", Value: csrfCookie})
		if cookieValue != "" {
			req.AddCookie(&http.Cookie{Name: "enlace_session", Value: cookieValue})
		}
		return b.do(req)
	}
	in := send(http.MethodPost, "/login", "", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {e.merchant.Email},
		"password": {password}, "next": {"/"}})
	before := cookie(in)
	for _, want := range []string{"enlace_session=", "HttpOnly", "Secure", "SameSite=Lax"} {
		if in.status != http.StatusSeeOther || !strings.Contains(strings.Join(in.header.Values("Set-Cookie"), "\n"), want) {
			t.Fatalf("login: %d, session cookie lacks %s: %q", in.status, want, in.header.Values("Set-Cookie"))
		}
	}
	// A login from a session gets a new session id, and the old one is
	// worthless (an id planted before a login opens nothing after it).
	again := send(http.MethodGet, "/login", before, nil)
	in = send(http.MethodPost, "/login", before, url.Values{"csrf_token": {csrfOf(t, again)}, "email": {e.merchant.Email},
		"password": {password}, "next": {"/"}})
	after := cookie(in)
	if in.status != http.StatusSeeOther || after == "" || after == before {
		t.Fatalf("login again: %d, cookie changed: %v", in.status, after != before)
	}
	if p := send(http.MethodGet, "/", before, nil); p.status != http.StatusFound {
		t.Fatal("the pre-login session id still works after login")
	}
	home := send(http.MethodGet, "/", after, nil)
	if home.status != http.StatusOK {
		t.Fatalf("home: %d", home.status)
	}
	if p := send(http.MethodPost, "/logout", after, url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", p.status)
	}
	if p := send(http.MethodPost, "/logout", after, url.Values{"csrf_token": {csrfOf(t, home)}}); p.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.status)
	}
	// Replaying the old cookie after logout opens nothing: the server-side
	// session is gone.
	if p := send(http.MethodGet, "/", after, nil); p.status != http.StatusFound || !strings.HasPrefix(p.location, "/login") {
		t.Fatalf("session survived logout: %d", p.status)
	}
}

// TestCodeRedirectIsNotCached: the redirect carrying a code, and the token
// answers, are marked no-store.
func TestCodeRedirectIsNotCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	authorize := "/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode()
	b := e.browser()
	consent := b.loginAndConsentPage(authorize)
	p := b.post(authorize, url.Values{"csrf_token": {csrfOf(t, consent)}, "granted": {"read:products"}, "decision": {"approve"}})
	if !strings.Contains(p.location, "code=") || p.header.Get("Cache-Control") != "no-store" || p.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("code redirect headers: %v", p.header)
	}
	// An oversized form is refused before it is read.
	big := b.post("/login", url.Values{"email": {strings.Repeat("a", 70<<10)}})
	if big.status != http.StatusBadRequest {
		t.Fatalf("oversized form: %d", big.status)
	}
}

package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store/redistest"
)

func authorizeQuery(clientID, redirect string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"read:products"}, "state": {"s1"}}
}

// TestAuthorizeErrorPagesNeverRedirect: an unknown app, a missing, foreign,
// suffix-matching or scheme-less redirect URI, and repeated identifying
// parameters get an error page (400), never a redirect. go-oauth2's default
// matches hosts by suffix and redirects errors to the unvalidated URI.
func TestAuthorizeErrorPagesNeverRedirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// An app registered for a bare-domain URI, the case where go-oauth2's
	// check lets everything pass.
	bare, _ := e.newApp("Bare", "https://example.com")
	cases := map[string]url.Values{
		"unknown app":              authorizeQuery("no-such-app", appRedirect),
		"missing client_id":        authorizeQuery("", appRedirect),
		"missing redirect_uri":     authorizeQuery(e.app.ClientID, ""),
		"foreign redirect_uri":     authorizeQuery(e.app.ClientID, "https://evil.example.net/callback"),
		"suffix host":              authorizeQuery(e.app.ClientID, "https://evil-app.example.com/callback"),
		"sub-path":                 authorizeQuery(e.app.ClientID, appRedirect+"/deeper"),
		"extra query":              authorizeQuery(e.app.ClientID, appRedirect+"?next=https://evil.example.net"),
		"other scheme":             authorizeQuery(e.app.ClientID, strings.Replace(appRedirect, "https", "http", 1)),
		"bare domain, evil suffix": authorizeQuery(bare.ClientID, "https://evil-example.com"),
		"bare domain, subdomain":   authorizeQuery(bare.ClientID, "https://evil.example.com"),
	}
	dupClient := authorizeQuery(e.app.ClientID, appRedirect)
	dupClient.Add("client_id", e.app.ClientID)
	cases["repeated client_id"] = dupClient
	dupRedirect := authorizeQuery(e.app.ClientID, appRedirect)
	dupRedirect.Add("redirect_uri", "https://evil.example.net/callback")
	cases["repeated redirect_uri"] = dupRedirect

	b := e.browser()
	before := redistest.Snapshot(t, e.rdb)
	for name, q := range cases {
		p := b.get("/apps/authorize?" + q.Encode())
		if p.status != http.StatusBadRequest || p.location != "" {
			t.Errorf("%s: want a 400 page and no redirect, got %d Location=%q", name, p.status, p.location)
		}
		if !strings.Contains(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, "No pudimos continuar") {
			t.Errorf("%s: not the Spanish error page:\n%s", name, p.body)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	// The pages say what went wrong, in the merchant's language.
	p := b.get("/apps/authorize?" + authorizeQuery(e.app.ClientID, "https://evil.example.net/cb").Encode() + "&lang=en")
	if !strings.Contains(p.body, "has not registered") {
		t.Fatalf("English foreign-redirect page:\n%s", p.body)
	}
	// The picked language sticks (a cookie) until another is picked.
	p = b.get("/apps/authorize?" + authorizeQuery("no-such-app", appRedirect).Encode())
	if !strings.Contains(p.body, "is not registered") {
		t.Fatalf("the picked language did not stick:\n%s", p.body)
	}
	p = e.browser().get("/apps/authorize?" + authorizeQuery("no-such-app", appRedirect).Encode())
	if !strings.Contains(p.body, "no está registrada") {
		t.Fatalf("Spanish unknown-app page:\n%s", p.body)
	}
}

// TestAuthorizeErrorsRedirectToTheApp: once app and redirect URI are
// trusted, errors go back to the app with error, state and iss.
func TestAuthorizeErrorsRedirectToTheApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mod := func(f func(url.Values)) url.Values {
		q := authorizeQuery(e.app.ClientID, appRedirect)
		f(q)
		return q
	}
	cases := map[string]struct {
		q    url.Values
		want string
	}{
		"token response_type":   {mod(func(q url.Values) { q.Set("response_type", "token") }), "unsupported_response_type"},
		"unknown response_type": {mod(func(q url.Values) { q.Set("response_type", "magic") }), "unsupported_response_type"},
		"missing response_type": {mod(func(q url.Values) { q.Del("response_type") }), "invalid_request"},
		"unregistered scope":    {mod(func(q url.Values) { q.Set("scope", "read:products manage:clients") }), "invalid_scope"},
		"unknown scope":         {mod(func(q url.Values) { q.Set("scope", "root") }), "invalid_scope"},
		"plain PKCE": {mod(func(q url.Values) {
			q.Set("code_challenge", strings.Repeat("a", 43))
			q.Set("code_challenge_method", "plain")
		}), "invalid_request"},
		"PKCE without method": {mod(func(q url.Values) { q.Set("code_challenge", strings.Repeat("a", 43)) }), "invalid_request"},
		"short challenge": {mod(func(q url.Values) {
			q.Set("code_challenge", "short")
			q.Set("code_challenge_method", "S256")
		}), "invalid_request"},
		"repeated scope": {mod(func(q url.Values) { q.Add("scope", "read:checkouts") }), "invalid_request"},
	}
	b := e.browser()
	for name, c := range cases {
		p := b.get("/apps/authorize?" + c.q.Encode())
		u, _ := url.Parse(p.location)
		if p.status != http.StatusFound || u == nil || u.Scheme+"://"+u.Host+u.Path != appRedirect {
			t.Errorf("%s: want a redirect to the app, got %d %q", name, p.status, p.location)
			continue
		}
		if got := u.Query(); got.Get("error") != c.want || got.Get("state") != "s1" || got.Get("iss") != e.cfg.Issuer {
			t.Errorf("%s: redirect parameters %v", name, got)
		}
	}
}

// TestConsentDecisions: cancel sends the merchant back with access_denied
// and writes nothing (approving with nothing ticked is not a denial:
// TestApproveNothingTicked); a forged scope is refused; a post without the
// CSRF token is refused.
func TestConsentDecisions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := authorizeQuery(e.app.ClientID, appRedirect)
	q.Set("scope", "read:products,read:checkouts") // commas are accepted too
	authorize := "/apps/authorize?" + q.Encode()
	b := e.browser()
	consent := b.loginAndConsentPage(authorize)
	if strings.Contains(consent.body, "write:products") {
		t.Fatal("the consent page offers a scope that was not requested")
	}
	csrf := csrfOf(t, consent)
	for name, form := range map[string]url.Values{
		"cancel":              {"csrf_token": {csrf}, "granted": {"read:products"}, "decision": {"cancel"}},
		"cancel, none ticked": {"csrf_token": {csrf}, "decision": {"cancel"}},
	} {
		p := b.post(authorize, form)
		u, _ := url.Parse(p.location)
		if p.status != http.StatusSeeOther || u.Query().Get("error") != "access_denied" ||
			u.Query().Get("state") != "s1" || u.Query().Get("iss") != e.cfg.Issuer || u.Query().Get("code") != "" {
			t.Errorf("%s: %d %s", name, p.status, p.location)
		}
	}
	for name, form := range map[string]url.Values{
		"no CSRF token":    {"granted": {"read:products"}, "decision": {"approve"}},
		"wrong CSRF token": {"csrf_token": {"x" + csrf}, "granted": {"read:products"}, "decision": {"approve"}},
	} {
		if p := b.post(authorize, form); p.status != http.StatusForbidden || p.location != "" {
			t.Errorf("%s: want 403 without redirect, got %d %q", name, p.status, p.location)
		}
	}
	if p := b.post(authorize, url.Values{"csrf_token": {csrf}, "granted": {"write:products"}, "decision": {"approve"}}); p.status != http.StatusBadRequest {
		t.Errorf("a scope that was not offered: want 400, got %d", p.status)
	}
	// A post from another browser has no session: it is sent to log in,
	// and gets no code.
	if p := e.browser().post(authorize, url.Values{"csrf_token": {csrf}, "granted": {"read:products"}, "decision": {"approve"}}); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login?") {
		t.Errorf("post from another browser: want a redirect to log in, got %d %q", p.status, p.location)
	}
	after := redistest.Snapshot(t, e.rdb)
	for k := range after {
		if strings.HasPrefix(k, "conn:") {
			t.Fatalf("a refused decision created connection %s", k)
		}
	}

	// The approved subset is exactly what the token carries.
	u := b.approve(authorize, consent, "read:checkouts")
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}},
		e.app.ClientID, e.secret)
	if r.json["scope"] != "read:checkouts" {
		t.Fatalf("granted scope: %s", r.raw)
	}
}

// TestMissingScopeMeansRegistered: without a scope parameter the consent
// page offers the app's registered scopes.
func TestMissingScopeMeansRegistered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := authorizeQuery(e.app.ClientID, appRedirect)
	q.Del("scope")
	p := e.browser().loginAndConsentPage("/apps/authorize?" + q.Encode())
	for _, s := range e.app.Scopes {
		if !strings.Contains(p.body, `value="`+s+`"`) {
			t.Fatalf("registered scope %s not offered", s)
		}
	}
}

// TestLogin: wrong credentials show the same generic error whether the
// email exists or not; the session id changes at login; the login form is
// CSRF-protected; after login the merchant is back on the consent page.
func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	authorize := "/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode()
	b := e.browser()
	p := b.get(authorize)
	loginURL := p.location
	login := b.get(loginURL)
	if !strings.Contains(login.body, "Sincronizador") {
		t.Fatalf("the login page should say which app asks:\n%s", login.body)
	}
	csrf := csrfOf(t, login)
	next, _ := url.Parse(loginURL)
	var bodies []string
	for _, creds := range [][2]string{{e.merchant.Email, "wrong"}, {"nobody@tienda.cl", password}} {
		p := b.post("/login", url.Values{"csrf_token": {csrf}, "email": {creds[0]}, "password": {creds[1]},
			"next": {next.Query().Get("next")}})
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "El correo o la contraseña no son correctos.") {
			t.Fatalf("bad login: %d\n%s", p.status, p.body)
		}
		bodies = append(bodies, strings.ReplaceAll(p.body, creds[0], ""))
	}
	if bodies[0] != bodies[1] {
		t.Fatal("the answers to an unknown email and a wrong password differ")
	}
	if p := b.post("/login", url.Values{"email": {e.merchant.Email}, "password": {password}}); p.status != http.StatusForbidden {
		t.Fatalf("login without CSRF token: %d", p.status)
	}

	u, _ := url.Parse(e.url)
	cookie := func() string {
		for _, c := range b.c.Jar.Cookies(u) {
			if c.Name == "enlace_session" {
				return c.Value
			}
		}
		return ""
	}
	beforeLogin := cookie()
	p = b.post("/login", url.Values{"csrf_token": {csrf}, "email": {e.merchant.Email}, "password": {password},
		"next": {next.Query().Get("next")}})
	if p.status != http.StatusSeeOther || p.location != next.Query().Get("next") {
		t.Fatalf("login: %d %s", p.status, p.location)
	}
	// No session is stored before the login (the login form is checked
	// against a signed cookie); the login makes one.
	if beforeLogin != "" || cookie() == "" {
		t.Fatalf("session cookie before login %q, after %q", beforeLogin, cookie())
	}
	if p := b.get(p.location); p.status != http.StatusOK || !strings.Contains(p.body, e.merchant.Email) {
		t.Fatalf("after login the consent page shows who is logged in: %d", p.status)
	}
	// An open redirect through next is refused (the CSRF token is new
	// since login).
	home := b.get("/")
	p = b.post("/login", url.Values{"csrf_token": {csrfOf(t, home)}, "email": {e.merchant.Email},
		"password": {password}, "next": {"//evil.example.net/x"}})
	if p.status != http.StatusSeeOther || p.location != "/" {
		t.Fatalf("next=//evil… redirected to %q", p.location)
	}
}

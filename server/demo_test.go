package server_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/consent/demo"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

var demoScopes = []string{"read:products", "write:products", "read:checkouts", "read:stocks"}

// newDemoEnv is newEnv with the demo app seeded as `enlace serve` does in
// the embedded mode. The issuer is the test server's own address, because
// the demo exchanges its code over real HTTP against the issuer.
func newDemoEnv(t *testing.T) (*testEnv, *demo.App) {
	t.Helper()
	var app *demo.App
	e := startEnv(t, nil, func(cfg *config.Config, st *store.Store) *demo.App {
		redirect := cfg.Issuer + "/demo/callback"
		a, secret, err := st.CreateApp(context.Background(), store.AppSpec{Name: "Demo app",
			RedirectURIs: []string{redirect}, Scopes: demoScopes}, cfg.Scopes.Names())
		if err != nil {
			t.Fatal(err)
		}
		app = &demo.App{ClientID: a.ClientID, ClientSecret: secret, RedirectURI: redirect, Scopes: demoScopes}
		return app
	})
	if e.url != e.cfg.Issuer {
		t.Fatalf("test server %s is not the issuer %s", e.url, e.cfg.Issuer)
	}
	e.secret = app.ClientSecret
	var err error
	if e.app, err = e.st.GetApp(context.Background(), app.ClientID); err != nil {
		t.Fatal(err)
	}
	return e, app
}

// startDemo opens /demo, presses the connect button and returns the
// authorize URL the demo sent the browser to.
func startDemo(t *testing.T, b *browser) string {
	t.Helper()
	p := b.get("/demo")
	if p.status != http.StatusOK || !strings.Contains(p.body, "Conectar la app de demostración") {
		t.Fatalf("/demo: %d\n%s", p.status, p.body)
	}
	p = b.post("/demo/start", url.Values{"csrf_token": {csrfOf(t, p)}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, b.env.url+"/apps/authorize?") {
		t.Fatalf("/demo/start: %d %s\n%s", p.status, p.location, p.body)
	}
	u, _ := url.Parse(p.location)
	if q := u.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" {
		t.Fatalf("the demo's authorize request lacks state or PKCE: %s", u.RawQuery)
	}
	return p.location
}

var accessTokenRe = regexp.MustCompile(`"access_token": "([^"]+)"`)
var refreshTokenRe = regexp.MustCompile(`"refresh_token": "([^"]+)"`)

// TestDemoConnects runs the demo as a newcomer would: open /demo, connect,
// log in, approve, and land on a page with the token response and the
// /api/d/info answer. A forged state is refused before any exchange, and a
// replayed callback exchanges nothing.
func TestDemoConnects(t *testing.T) {
	t.Parallel()
	e, demo := newDemoEnv(t)
	b := e.browser()
	authorize := startDemo(t, b)
	consentPage := b.loginAndConsentPage(authorize)
	back := b.approve(authorize, consentPage, demoScopes...)
	if back.Scheme+"://"+back.Host+back.Path != demo.RedirectURI || back.Query().Get("code") == "" {
		t.Fatalf("approval sent the browser to %s", back)
	}

	// A callback with the right code but another state (the by-hand flow,
	// or a forged answer): the demo exchanges nothing and shows the code
	// with the commands that exchange it; the code is not spent (the real
	// callback below still works).
	forged := *back
	q := forged.Query()
	q.Set("state", "demo")
	forged.RawQuery = q.Encode()
	p := b.get(forged.String())
	if p.status != http.StatusOK || !strings.Contains(p.body, "Tu código de autorización") ||
		!strings.Contains(p.body, `<pre id="code">`+q.Get("code")+`</pre>`) ||
		!strings.Contains(html.UnescapeString(p.body), "CODE='"+q.Get("code")+"'") ||
		!strings.Contains(html.UnescapeString(p.body), e.url+"/oauth/token -u \"$CLIENT_ID:$CLIENT_SECRET\"") ||
		strings.Contains(p.body, "access_token") || strings.Contains(p.body, "Bearer") || strings.Contains(p.body, demo.ClientSecret) {
		t.Fatalf("another state: %d\n%s", p.status, p.body)
	}
	for _, bad := range []string{"error=access_denied&state=x", "state=x", "code=abc&state=x&iss=https%3A%2F%2Fevil.example"} {
		if p := b.get("/demo/callback?" + bad); strings.Contains(p.body, `<pre id="code">`) || strings.Contains(p.body, "access_token") {
			t.Errorf("callback ?%s shows a code or tokens: %d\n%s", bad, p.status, p.body)
		}
	}

	p = b.get(back.String())
	body := html.UnescapeString(p.body)
	if p.status != http.StatusOK {
		t.Fatalf("callback: %d\n%s", p.status, body)
	}
	for _, want := range []string{`"token_type": "Bearer"`, `"expires_in": 21600`,
		`"scope": "` + strings.Join(demoScopes, " ") + `"`,
		`"OauthClientId": "` + demo.ClientID + `"`, `"MerchantId": "` + e.merchant.ID + `"`,
		`"email": "` + e.merchant.Email + `"`, "La app de demostración está conectada"} {
		if !strings.Contains(body, want) {
			t.Fatalf("the result page lacks %s:\n%s", want, body)
		}
	}
	at, rt := accessTokenRe.FindStringSubmatch(body), refreshTokenRe.FindStringSubmatch(body)
	if at == nil || rt == nil {
		t.Fatalf("the result page shows no token pair:\n%s", body)
	}
	if strings.Contains(p.body, "code=") {
		t.Fatalf("a link on the result page replays the callback:\n%s", p.body)
	}
	if r := e.info(at[1]); r.status != http.StatusOK || r.json["OauthClientId"] != demo.ClientID {
		t.Fatalf("the shown access token: %d %s", r.status, r.raw)
	}

	// The state was used up: reloading the callback exchanges nothing.
	p = b.get(back.String())
	if p.status != http.StatusBadRequest || strings.Contains(p.body, "access_token") {
		t.Fatalf("replayed callback: %d\n%s", p.status, p.body)
	}

	logs := e.logs.String()
	for _, secret := range []string{back.Query().Get("code"), at[1], rt[1], demo.ClientSecret} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a credential appears in the log: %.10s…", secret)
		}
	}
}

// TestDemoCancel shows the cancel path: the demo says nothing was connected.
func TestDemoCancel(t *testing.T) {
	t.Parallel()
	e, _ := newDemoEnv(t)
	b := e.browser()
	authorize := startDemo(t, b)
	consentPage := b.loginAndConsentPage(authorize)
	p := b.post(authorize, url.Values{"csrf_token": {csrfOf(t, consentPage)}, "decision": {"cancel"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d\n%s", p.status, p.body)
	}
	p = b.get(p.location)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Cancelaste la autorización") ||
		strings.Contains(p.body, "access_token") {
		t.Fatalf("cancelled callback: %d\n%s", p.status, p.body)
	}
}

// TestDemoStartNeedsCSRF refuses a connect button pressed from another
// site.
func TestDemoStartNeedsCSRF(t *testing.T) {
	t.Parallel()
	e, _ := newDemoEnv(t)
	b := e.browser()
	if p := b.post("/demo/start", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("no session: %d %s", p.status, p.location)
	}
	b.get("/demo") // now the browser has a session and a token
	if p := b.post("/demo/start", url.Values{"csrf_token": {"wrong"}}); p.status != http.StatusForbidden {
		t.Fatalf("wrong token: %d %s", p.status, p.location)
	}
}

// TestDemoOffWithoutDemoApp: outside the embedded mode there is no /demo.
func TestDemoOffWithoutDemoApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	for _, path := range []string{"/demo", "/demo/callback?code=x&state=y"} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Fatalf("%s without a demo app: %d", path, p.status)
		}
	}
	if p := b.post("/demo/start", url.Values{}); p.status != http.StatusNotFound {
		t.Fatalf("/demo/start without a demo app: %d", p.status)
	}
}

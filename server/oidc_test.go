package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// The OpenID Connect tests drive enlace with an independent OpenID
// client library (coreos/go-oidc/v3: discovery, the JWKS, ID token
// verification, userinfo) over golang.org/x/oauth2's flow.

const postLogout = "https://app.example.com/bye"

// oidcApp registers an app for "Sign in with the platform", signing with
// alg.
func (e *testEnv) oidcApp(alg string) (*store.App, string) {
	e.t.Helper()
	app, secret, err := e.st.CreateApp(context.Background(), store.AppSpec{
		Name: "Ingreso " + alg, RedirectURIs: []string{appRedirect},
		Scopes:     []string{"openid", "profile", "email", "read:products"},
		IDTokenAlg: alg, PostLogoutRedirectURIs: []string{postLogout},
	}, e.cfg.Scopes.Names())
	if err != nil {
		e.t.Fatal(err)
	}
	return app, secret
}

// oidcClient is an RP: its go-oidc provider and verifier, and its
// golang.org/x/oauth2 configuration.
type oidcClient struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	conf     *oauth2.Config
}

func (e *testEnv) oidcClient(app *store.App, secret string, scopes ...string) *oidcClient {
	e.t.Helper()
	p, err := oidc.NewProvider(context.Background(), e.url)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	return &oidcClient{provider: p,
		verifier: p.VerifierContext(context.Background(), &oidc.Config{ClientID: app.ClientID, Now: e.clock.Now,
			SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256}}),
		conf: &oauth2.Config{ClientID: app.ClientID, ClientSecret: secret, RedirectURL: appRedirect,
			Endpoint: p.Endpoint(), Scopes: scopes}}
}

// signIn runs the flow in browser b (logging in when it has no session)
// and returns the token with its verified ID token.
func (rp *oidcClient) signIn(t *testing.T, b *browser, nonce string, extra ...oauth2.AuthCodeOption) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	opts := append([]oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", nonce)}, extra...)
	authURL := rp.conf.AuthCodeURL("st", opts...)
	p := b.get(authURL)
	var page page
	if p.status == http.StatusFound && strings.HasPrefix(p.location, "/login?") {
		page = b.loginAndConsentPage(authURL)
	} else if p.status == http.StatusOK {
		page = p
	} else {
		t.Fatalf("authorize: %d %s\n%s", p.status, p.location, p.body)
	}
	back := b.approve(authURL, page, rp.conf.Scopes...)
	tok, err := rp.conf.Exchange(context.Background(), back.Query().Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("no id_token in the answer")
	}
	idt, err := rp.verifier.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("go-oidc refuses the ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	return tok, idt
}

// idClaims decodes an ID token's claims.
type idClaimsT struct {
	Sub           string `json:"sub"`
	Azp           string `json:"azp"`
	AuthTime      int64  `json:"auth_time"`
	Name          string `json:"name"`
	GivenName     string `json:"given_name"`
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	Nonce         *string
}

func claimsOf(t *testing.T, idt *oidc.IDToken) idClaimsT {
	t.Helper()
	var c idClaimsT
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// jwtHeader is the decoded header of a compact JWS.
func jwtHeader(t *testing.T, raw string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenIDDiscoveryAndIDTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	// Discovery: the document go-oidc reads agrees with RFC 8414's.
	disc := e.send(mustGet(e.url + "/.well-known/openid-configuration"))
	meta := e.send(mustGet(e.url + "/.well-known/oauth-authorization-server"))
	if disc.status != http.StatusOK || meta.status != http.StatusOK {
		t.Fatalf("discovery %d, metadata %d", disc.status, meta.status)
	}
	for k, v := range meta.json {
		if got, _ := json.Marshal(disc.json[k]); string(got) != mustJSON(v) {
			t.Fatalf("%s differs: %s vs %s", k, got, mustJSON(v))
		}
	}
	for _, k := range []string{"userinfo_endpoint", "jwks_uri", "end_session_endpoint"} {
		if s, _ := disc.json[k].(string); !strings.HasPrefix(s, e.cfg.Issuer+"/") {
			t.Fatalf("%s = %v", k, disc.json[k])
		}
	}
	if mustJSON(disc.json["id_token_signing_alg_values_supported"]) != `["RS256","ES256"]` ||
		disc.json["request_uri_parameter_supported"] != false || mustJSON(disc.json["subject_types_supported"]) != `["public"]` {
		t.Fatalf("discovery: %s", disc.raw)
	}

	for _, alg := range []string{store.AlgRS256, store.AlgES256} {
		t.Run(alg, func(t *testing.T) {
			app, secret := e.oidcApp(alg)
			rp := e.oidcClient(app, secret)
			b := e.browser()
			before := e.clock.Now().Add(-time.Second)
			tok, idt := rp.signIn(t, b, "n-"+alg)
			raw := tok.Extra("id_token").(string)
			if h := jwtHeader(t, raw); h["alg"] != alg || h["kid"] == "" || h["typ"] != "JWT" {
				t.Fatalf("header %v", h)
			}
			c := claimsOf(t, idt)
			if idt.Subject != e.merchant.ID || idt.Issuer != e.cfg.Issuer || c.Azp != app.ClientID ||
				c.Name != "Tienda de Ana" || c.Email != "ana@tienda.cl" || c.EmailVerified == nil || *c.EmailVerified {
				t.Fatalf("claims %+v", c)
			}
			if at := time.Unix(c.AuthTime, 0); at.Before(before.Truncate(time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Fatalf("auth_time %v", at)
			}
			if d := idt.Expiry.Sub(idt.IssuedAt); d != e.cfg.OIDC.IDTokenLifetime {
				t.Fatalf("lifetime %v", d)
			}

			// userinfo through go-oidc, with the same subject.
			ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if ui.Subject != idt.Subject || ui.Email != "ana@tienda.cl" || ui.EmailVerified {
				t.Fatalf("userinfo %+v", ui)
			}

			// A refresh answers an ID token too: same subject and
			// auth_time, no nonce (Core §12.2).
			tok.Expiry = time.Now().Add(-time.Minute)
			fresh, err := rp.conf.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatal(err)
			}
			rid, err := rp.verifier.Verify(ctx, fresh.Extra("id_token").(string))
			if err != nil {
				t.Fatalf("refresh ID token: %v", err)
			}
			if rc := claimsOf(t, rid); rid.Subject != idt.Subject || rc.AuthTime != c.AuthTime || rid.Nonce != "" {
				t.Fatalf("refresh claims %+v nonce %q", rc, rid.Nonce)
			}
		})
	}
}

func TestOpenIDMultivendeAndPasswordGrant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.oidcApp(store.AlgES256)
	rp := e.oidcClient(app, secret)
	ctx := context.Background()

	// The Multivende dialect answers idToken.
	q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {appRedirect},
		"scope": {"openid email"}, "nonce": {"mv-1"}}
	authorize := "/apps/authorize?" + q.Encode()
	b := e.browser()
	back := b.approve(authorize, b.loginAndConsentPage(authorize), "openid", "email")
	body, _ := json.Marshal(map[string]string{"client_id": app.ClientID, "client_secret": secret,
		"grant_type": "authorization_code", "code": back.Query().Get("code")})
	r := e.postToken("/oauth/access-token", "application/json", string(body))
	raw, _ := r.json["idToken"].(string)
	if r.status != http.StatusOK || raw == "" || r.json["id_token"] != nil {
		t.Fatalf("multivende: %d %s", r.status, r.raw)
	}
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce != "mv-1" {
		t.Fatalf("verify: %v %+v", err, idt)
	}
	if c := claimsOf(t, idt); c.Name != "" || c.Email != "ana@tienda.cl" {
		t.Fatalf("profile claims without profile: %+v", c)
	}

	// The password grant, for a first-party app.
	fp, fpSecret, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Panel", FirstParty: true,
		Scopes: []string{"openid", "profile"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	r = e.form("/auth/v1/token", url.Values{"grant_type": {"password"}, "username": {e.merchant.Email},
		"password": {password}, "scope": {"openid profile"}}, fp.ClientID, fpSecret)
	raw, _ = r.json["id_token"].(string)
	if r.status != http.StatusOK || raw == "" {
		t.Fatalf("password grant: %d %s", r.status, r.raw)
	}
	fpVerifier := rp.provider.VerifierContext(ctx, &oidc.Config{ClientID: fp.ClientID, Now: e.clock.Now})
	idt, err = fpVerifier.Verify(ctx, raw)
	if err != nil || idt.Subject != e.merchant.ID {
		t.Fatalf("password grant ID token: %v", err)
	}
	if c := claimsOf(t, idt); c.GivenName != "Tienda de Ana" || c.AuthTime == 0 {
		t.Fatalf("claims %+v", c)
	}

	// Without openid, no ID token.
	r = e.form("/auth/v1/token", url.Values{"grant_type": {"password"}, "username": {e.merchant.Email},
		"password": {password}, "scope": {"profile"}}, fp.ClientID, fpSecret)
	if r.status != http.StatusOK || r.json["id_token"] != nil {
		t.Fatalf("without openid: %d %s", r.status, r.raw)
	}
}

func TestOpenIDNonceReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.oidcApp(store.AlgRS256)
	rp := e.oidcClient(app, secret)
	b := e.browser()
	tok, _ := rp.signIn(t, b, "once")

	// The RP's own check (go-oidc leaves the comparison to its caller):
	// the token carries the nonce of its request and no other, so an RP
	// that sent "another" refuses it.
	idt, err := rp.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil || idt.Nonce != "once" {
		t.Fatalf("nonce %q: %v", idt.Nonce, err)
	}

	// enlace's: the same authorization request approved again gets no
	// second code carrying the nonce.
	authURL := rp.conf.AuthCodeURL("st", oauth2.SetAuthURLParam("nonce", "once"))
	p := b.get(authURL)
	if p.status != http.StatusOK {
		t.Fatalf("consent page: %d", p.status)
	}
	before := e.countConnections(app.ClientID)
	back := b.approve(authURL, p, rp.conf.Scopes...)
	if back.Query().Get("error") != "invalid_request" || back.Query().Get("code") != "" || back.Query().Get("state") != "st" {
		t.Fatalf("replayed nonce: %s", back)
	}
	if after := e.countConnections(app.ClientID); after != before {
		t.Fatalf("a refused approval made a connection: %d → %d", before, after)
	}
	// A fresh nonce works, and makes a new connection.
	rp.signIn(t, b, "twice")
	if after := e.countConnections(app.ClientID); after != before+1 {
		t.Fatalf("connections %d → %d", before, after)
	}
}

// countConnections is the number of the app's connections.
func (e *testEnv) countConnections(clientID string) int {
	e.t.Helper()
	page, err := e.st.ListConnections(context.Background(), store.ConnectionFilter{ClientID: clientID}, store.Page{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(page.Connections)
}

func TestOpenIDPromptAndMaxAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.oidcApp(store.AlgRS256)
	rp := e.oidcClient(app, secret)
	b := e.browser()
	redirectErr := func(p page) url.Values {
		t.Helper()
		if p.status != http.StatusFound || !strings.HasPrefix(p.location, appRedirect) {
			t.Fatalf("not sent back to the app: %d %s", p.status, p.location)
		}
		u, _ := url.Parse(p.location)
		if u.Query().Get("state") != "st" || u.Query().Get("iss") != e.cfg.Issuer {
			t.Fatalf("error redirect without state or iss: %s", u)
		}
		return u.Query()
	}
	auth := func(params ...string) string {
		opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", "n")}
		for i := 0; i+1 < len(params); i += 2 {
			opts = append(opts, oauth2.SetAuthURLParam(params[i], params[i+1]))
		}
		return rp.conf.AuthCodeURL("st", opts...)
	}

	// prompt=none without a session: login_required, and no page.
	if q := redirectErr(b.get(auth("prompt", "none"))); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none without a session: %v", q)
	}
	// Refused combinations and values, with the spec's error.
	for _, bad := range [][]string{{"prompt", "none consent"}, {"prompt", "bogus"}, {"max_age", "-1"}, {"max_age", "ten"},
		{"nonce", strings.Repeat("n", store.MaxNonce+1)}} {
		if q := redirectErr(b.get(auth(bad...))); q.Get("error") != "invalid_request" {
			t.Fatalf("%v: %v", bad, q)
		}
	}

	for param, code := range map[string]string{"request": "request_not_supported", "registration": "registration_not_supported"} {
		if q := redirectErr(b.get(auth(param, "x"))); q.Get("error") != code {
			t.Fatalf("%s: %v", param, q)
		}
	}
	// A request_uri is only ever one of the PAR endpoint's (sender_test.go);
	// any other is a page, since none of the request can be trusted.
	if p := b.get(auth("request_uri", "x")); p.status != http.StatusBadRequest || p.location != "" {
		t.Fatalf("request_uri=x: %d %s", p.status, p.location)
	}

	// login_hint pre-fills the login page's email.
	p := b.get(auth("login_hint", "ana@tienda.cl"))
	login := b.get(p.location)
	if !strings.Contains(login.body, `value="ana@tienda.cl"`) {
		t.Fatalf("login_hint not pre-filled:\n%s", login.body)
	}

	_, first := rp.signIn(t, b, "n1")
	firstAuth := claimsOf(t, first).AuthTime

	// prompt=none with a session: consent_required (every connection is
	// the merchant's explicit approval).
	if q := redirectErr(b.get(auth("prompt", "none"))); q.Get("error") != "consent_required" {
		t.Fatalf("prompt=none with a session: %v", q)
	}
	// max_age the session satisfies: straight to the consent page.
	if p := b.get(auth("max_age", "3600")); p.status != http.StatusOK {
		t.Fatalf("max_age 3600: %d %s", p.status, p.location)
	}
	// prompt=none and a session older than max_age: login_required.
	if q := redirectErr(b.get(auth("prompt", "none", "max_age", "0"))); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none, max_age=0: %v", q)
	}

	// max_age=0 and prompt=login ask for a fresh login despite the
	// session, and the ID token's auth_time is that login's.
	for _, ask := range [][]string{{"max_age", "0", "nonce", "n-max"}, {"prompt", "login consent", "nonce", "n-login"}} {
		authURL := auth(ask...)
		p := b.get(authURL)
		if p.status != http.StatusFound || !strings.HasPrefix(p.location, "/login?") || !strings.Contains(p.location, "again=1") {
			t.Fatalf("%v with a session: %d %s", ask, p.status, p.location)
		}
		next, _ := url2(p.location)
		nu, _ := url.Parse(next)
		if nu.Query().Has("max_age") || strings.Contains(nu.Query().Get("prompt"), "login") {
			t.Fatalf("login comes back to %s", next)
		}
		consent := b.loginAndConsentPage(authURL)
		back := b.approve(next, consent, rp.conf.Scopes...)
		tok, err := rp.conf.Exchange(context.Background(), back.Query().Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := rp.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		if at := claimsOf(t, idt).AuthTime; at < firstAuth {
			t.Fatalf("%v: auth_time %d before the first login's %d", ask, at, firstAuth)
		}
	}
}

// url2 returns the next parameter of a login redirect.
func url2(location string) (string, error) {
	u, err := url.Parse(location)
	if err != nil {
		return "", err
	}
	return u.Query().Get("next"), nil
}

func TestOpenIDUserinfoByScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.oidcApp(store.AlgRS256)
	ctx := context.Background()
	get := func(method, token string, form url.Values) response {
		var req *http.Request
		if method == http.MethodPost {
			req, _ = http.NewRequest(method, e.url+"/oauth/userinfo", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req, _ = http.NewRequest(method, e.url+"/oauth/userinfo", nil)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return e.send(req)
	}
	tokenFor := func(scopes ...string) *oauth2.Token {
		rp := e.oidcClient(app, secret, scopes...)
		q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {appRedirect},
			"scope": {strings.Join(scopes, " ")}}
		authorize := "/apps/authorize?" + q.Encode()
		b := e.browser()
		back := b.approve(authorize, b.loginAndConsentPage(authorize), scopes...)
		tok, err := rp.conf.Exchange(ctx, back.Query().Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	only := tokenFor("openid")
	r := get(http.MethodGet, only.AccessToken, nil)
	if r.status != http.StatusOK || r.json["sub"] != e.merchant.ID || len(r.json) != 1 ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("openid only: %d %s", r.status, r.raw)
	}
	all := tokenFor("openid", "profile", "email")
	r = get(http.MethodPost, "", url.Values{"access_token": {all.AccessToken}})
	if r.status != http.StatusOK || r.json["name"] != "Tienda de Ana" || r.json["email"] != "ana@tienda.cl" ||
		r.json["email_verified"] != false {
		t.Fatalf("POST form: %d %s", r.status, r.raw)
	}

	// Refusals.
	without := tokenFor("read:products")
	r = get(http.MethodGet, without.AccessToken, nil)
	if r.status != http.StatusForbidden || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("without openid: %d %s %v", r.status, r.raw, r.header)
	}
	if r := get(http.MethodGet, "", nil); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d", r.status)
	}
	if r := get(http.MethodGet, all.AccessToken+"x", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("tampered token: %d", r.status)
	}
	if r := e.send(mustGet(e.url + "/oauth/userinfo?access_token=" + url.QueryEscape(all.AccessToken))); r.status != http.StatusBadRequest {
		t.Fatalf("token in the query: %d %s", r.status, r.raw)
	}
	if r := get(http.MethodPost, all.AccessToken, url.Values{"access_token": {all.AccessToken}}); r.status != http.StatusBadRequest {
		t.Fatalf("token twice: %d %s", r.status, r.raw)
	}

	// A revoked connection's token is refused at once.
	info := e.info(all.AccessToken)
	if err := e.st.RevokeConnection(ctx, info.json["MerchantAppId"].(string), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if r := get(http.MethodGet, all.AccessToken, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("revoked: %d %s", r.status, r.raw)
	}
}

func TestOpenIDKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app, secret := e.oidcApp(store.AlgRS256)
	rp := e.oidcClient(app, secret)
	b := e.browser()
	oldTok, _ := rp.signIn(t, b, "before")
	oldRaw := oldTok.Extra("id_token").(string)
	oldKid := jwtHeader(t, oldRaw)["kid"].(string)

	jwks := func() (kids []string, cache string) {
		r := e.send(mustGet(e.url + "/.well-known/jwks.json"))
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
				Alg string `json:"alg"`
				D   string `json:"d"`
			} `json:"keys"`
		}
		if err := json.Unmarshal([]byte(r.raw), &set); err != nil {
			t.Fatal(err)
		}
		for _, k := range set.Keys {
			if k.D != "" {
				t.Fatal("a private key in the JWKS")
			}
			kids = append(kids, k.Kid)
		}
		return kids, r.header.Get("Cache-Control")
	}
	kids, cache := jwks()
	if len(kids) != 2 || cache != "public, max-age=3600" {
		t.Fatalf("JWKS: %v %q", kids, cache)
	}

	// A scheduled rotation: the next key is published a day before it
	// signs, and until then the old key signs.
	ring := store.KeyRing{}
	keys, _ := e.st.SigningKeys(ctx)
	ring.Keys = keys
	next, err := e.st.AddSigningKey(ctx, store.NewSigningKey{Alg: store.AlgRS256,
		ActiveFrom: e.clock.Now().Add(e.cfg.OIDC.Keys.PublishAhead), After: ring.Newest(store.AlgRS256)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new key in the JWKS", func() bool { k, _ := jwks(); return len(k) == 3 })
	tok, _ := rp.signIn(t, b, "pending")
	if kid := jwtHeader(t, tok.Extra("id_token").(string))["kid"]; kid != oldKid {
		t.Fatalf("a key signed before its time: %v", kid)
	}
	// A second rotation is refused while the key waits.
	if _, err := e.st.AddSigningKey(ctx, store.NewSigningKey{Alg: store.AlgRS256, ActiveFrom: e.clock.Now(),
		After: oldKid}); err == nil {
		t.Fatal("a rotation over a stale newest key was taken")
	}

	// A day later the new key signs, and a token the old key signed still
	// verifies (its key stays published until such tokens have expired).
	e.clock.Add(e.cfg.OIDC.Keys.PublishAhead + time.Second)
	tok, _ = rp.signIn(t, b, "after")
	if kid := jwtHeader(t, tok.Extra("id_token").(string))["kid"]; kid != next.ID {
		t.Fatalf("signed by %v, want the new key %s", kid, next.ID)
	}
	stale := rp.provider.VerifierContext(ctx, &oidc.Config{ClientID: app.ClientID, SkipExpiryCheck: true})
	if _, err := stale.Verify(ctx, oldRaw); err != nil {
		t.Fatalf("a token of the retired key no longer verifies: %v", err)
	}
	if k, _ := jwks(); !slices.Contains(k, oldKid) {
		t.Fatalf("the retired key left the JWKS too soon: %v", k)
	}
	// Past the retention the retired key leaves the JWKS and the store.
	e.clock.Add(e.cfg.OIDC.IDTokenLifetime + 6*time.Minute)
	eventually(t, "the retired key pruned", func() bool {
		k, _ := jwks()
		keys, _ := e.st.SigningKeys(ctx)
		for _, key := range keys {
			if key.ID == oldKid {
				return false
			}
		}
		return !slices.Contains(k, oldKid)
	})
}

func TestOpenIDLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.oidcApp(store.AlgES256)
	rp := e.oidcClient(app, secret)
	b := e.browser()
	tok, _ := rp.signIn(t, b, "n")
	hint := tok.Extra("id_token").(string)
	loggedIn := func() bool {
		p := b.get("/connections")
		return p.status == http.StatusOK
	}
	logout := func(v url.Values) page { return b.get("/oauth/logout?" + v.Encode()) }

	// Refusals change nothing: an unregistered post-logout URI, a hint
	// that does not verify, a client_id that is not the hint's.
	for name, v := range map[string]url.Values{
		"foreign redirect": {"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/bye"}},
		"near redirect":    {"id_token_hint": {hint}, "post_logout_redirect_uri": {postLogout + "/"}},
		"tampered hint":    {"id_token_hint": {hint[:len(hint)-4] + "AAAA"}, "post_logout_redirect_uri": {postLogout}},
		"garbage hint":     {"id_token_hint": {"not.a.jwt"}},
		"other client":     {"id_token_hint": {hint}, "client_id": {e.app.ClientID}},
		"no app":           {"post_logout_redirect_uri": {postLogout}},
	} {
		if p := logout(v); p.status != http.StatusBadRequest || p.location != "" {
			t.Fatalf("%s: %d %s", name, p.status, p.location)
		}
		if !loggedIn() {
			t.Fatalf("%s logged the merchant out", name)
		}
	}

	// Without a hint, the merchant is asked; staying changes nothing.
	p := logout(url.Values{"client_id": {app.ClientID}, "post_logout_redirect_uri": {postLogout}, "state": {"s1"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Ingreso ES256") {
		t.Fatalf("confirmation page: %d\n%s", p.status, p.body)
	}
	form := url.Values{"csrf_token": {csrfOf(t, p)}, "client_id": {app.ClientID},
		"post_logout_redirect_uri": {postLogout}, "state": {"s1"}, "decision": {"stay"}}
	if p := b.post("/oauth/logout", form); p.status != http.StatusSeeOther || !loggedIn() {
		t.Fatalf("stay: %d %s", p.status, p.location)
	}
	// A forged confirmation (no CSRF token) logs nobody out.
	form.Set("decision", "logout")
	form.Del("csrf_token")
	if p := b.post("/oauth/logout", form); p.status == http.StatusSeeOther || !loggedIn() {
		t.Fatalf("forged confirmation: %d %s", p.status, p.location)
	}

	// A valid hint of the session's merchant logs out at once, and the
	// browser goes to the registered URI with state.
	p = logout(url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {postLogout}, "state": {"bye-1"}})
	if p.status != http.StatusSeeOther || p.location != postLogout+"?state=bye-1" {
		t.Fatalf("logout: %d %s", p.status, p.location)
	}
	if loggedIn() {
		t.Fatal("still logged in after the logout")
	}
	// The connection itself lives on: logging out is not revoking.
	if r := e.info(tok.AccessToken); r.status != http.StatusOK {
		t.Fatalf("the logout revoked the connection: %d", r.status)
	}
	// Logging out again, with nobody logged in, says so.
	if p := logout(url.Values{"id_token_hint": {hint}}); p.status != http.StatusOK || !strings.Contains(p.body, "logged-out") {
		t.Fatalf("logged-out page: %d\n%s", p.status, p.body)
	}
}

func TestOpenIDOffWithoutEncryptionKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Encryption.Key = "" })
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/jwks.json"} {
		if r := e.send(mustGet(e.url + path)); r.status != http.StatusNotFound {
			t.Fatalf("%s: %d", path, r.status)
		}
	}
	if r := e.send(mustGet(e.url + "/.well-known/oauth-authorization-server")); r.json["jwks_uri"] != nil {
		t.Fatalf("metadata names a JWKS: %s", r.raw)
	}
	q := url.Values{"response_type": {"code"}, "client_id": {e.app.ClientID}, "redirect_uri": {appRedirect},
		"scope": {"openid"}, "state": {"s"}}
	app, _, err := e.st.CreateApp(context.Background(), store.AppSpec{Name: "O", RedirectURIs: []string{appRedirect},
		Scopes: []string{"openid"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	q.Set("client_id", app.ClientID)
	p := e.browser().get("/apps/authorize?" + q.Encode())
	u, _ := url.Parse(p.location)
	if p.status != http.StatusFound || u.Query().Get("error") != "invalid_scope" {
		t.Fatalf("openid while off: %d %s", p.status, p.location)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestOpenIDPostsAndEdges: an authorization request and a logout request
// sent as forms (Core §3.1.2.1, RP-Initiated Logout §2) are answered as
// their GET; response_mode other than query and a huge max_age; and an
// exchange that cannot sign refuses before it spends the code.
func TestOpenIDPostsAndEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app, secret := e.oidcApp(store.AlgRS256)
	rp := e.oidcClient(app, secret)
	b := e.browser()
	q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {appRedirect},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"post-1"}}

	// The authorization request as a form post: a 303 to the same
	// request as a GET, which is the login page's way in.
	p := b.post("/apps/authorize", q)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/apps/authorize?") {
		t.Fatalf("POST authorize: %d %s", p.status, p.location)
	}
	got, _ := url.Parse(p.location)
	if got.Query().Get("nonce") != "post-1" || got.Query().Get("client_id") != app.ClientID {
		t.Fatalf("POST authorize became %s", p.location)
	}
	consent := b.loginAndConsentPage(p.location)
	back := b.approve(p.location, consent, "openid", "email")
	tok, err := rp.conf.Exchange(ctx, back.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}

	// response_mode other than query; a max_age no session is older than.
	for mode, want := range map[string]string{"fragment": "invalid_request", "form_post": "invalid_request"} {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		q2.Set("response_mode", mode)
		p := b.get("/apps/authorize?" + q2.Encode())
		u, _ := url.Parse(p.location)
		if p.status != http.StatusFound || u.Query().Get("error") != want {
			t.Fatalf("response_mode=%s: %d %s", mode, p.status, p.location)
		}
	}
	q.Set("max_age", "99999999999999")
	q.Set("nonce", "post-2")
	if p := b.get("/apps/authorize?" + q.Encode()); p.status != http.StatusOK {
		t.Fatalf("a huge max_age: %d %s", p.status, p.location)
	}

	// The logout request as a form post: answered as its GET, which with
	// a hint of the session's merchant logs out.
	p = b.post("/oauth/logout", url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {postLogout}, "state": {"s"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/oauth/logout?") {
		t.Fatalf("POST logout: %d %s", p.status, p.location)
	}
	if p = b.get(p.location); p.status != http.StatusSeeOther || p.location != postLogout+"?state=s" {
		t.Fatalf("logout: %d %s", p.status, p.location)
	}

	// No key can be read: the exchange answers 503 and the code stays
	// good; once the keys are back, the same code is exchanged.
	code := e.oidcCode(app, "post-3")
	if err := e.rdb.HSet(ctx, "signing-keys:{s00}", "broken", "not json").Err(); err != nil {
		t.Fatal(err)
	}
	exchange := func() response {
		return e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {appRedirect}}, app.ClientID, secret)
	}
	jwksStatus := func() int { return e.send(mustGet(e.url + "/.well-known/jwks.json")).status }
	eventually(t, "the instance to read the broken set", func() bool { return jwksStatus() == http.StatusServiceUnavailable })
	if r := exchange(); r.status != http.StatusServiceUnavailable {
		t.Fatalf("an exchange that cannot sign: %d %s", r.status, r.raw)
	}
	if err := e.rdb.HDel(ctx, "signing-keys:{s00}", "broken").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the keys back", func() bool { return jwksStatus() == http.StatusOK })
	if r := exchange(); r.status != http.StatusOK || r.json["id_token"] == nil {
		t.Fatalf("the code after the keys came back: %d %s", r.status, r.raw)
	}
}

// oidcCode runs the browser side for app with openid and returns a code.
func (e *testEnv) oidcCode(app *store.App, nonce string) string {
	e.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {appRedirect},
		"scope": {"openid"}, "nonce": {nonce}}
	authorize := "/apps/authorize?" + q.Encode()
	b := e.browser()
	return b.approve(authorize, b.loginAndConsentPage(authorize), "openid").Query().Get("code")
}

// TestOpenIDHintAtAuthorize: an id_token_hint at the authorization
// endpoint must be one enlace issued to the app; the session of the
// merchant it names answers, another merchant's does not.
func TestOpenIDHintAtAuthorize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.oidcApp(store.AlgES256)
	rp := e.oidcClient(app, secret)
	ana := e.browser()
	tok, _ := rp.signIn(t, ana, "h1")
	hint := tok.Extra("id_token").(string)
	auth := func(extra ...string) string {
		opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("nonce", store.NewSecret())}
		for i := 0; i+1 < len(extra); i += 2 {
			opts = append(opts, oauth2.SetAuthURLParam(extra[i], extra[i+1]))
		}
		return rp.conf.AuthCodeURL("st", opts...)
	}
	errorOf := func(p page) string {
		t.Helper()
		u, _ := url.Parse(p.location)
		if p.status != http.StatusFound || !strings.HasPrefix(p.location, appRedirect) {
			t.Fatalf("not sent back to the app: %d %s", p.status, p.location)
		}
		return u.Query().Get("error")
	}

	// Ana's own hint, Ana's session: the consent page.
	if p := ana.get(auth("id_token_hint", hint)); p.status != http.StatusOK {
		t.Fatalf("her own hint: %d %s", p.status, p.location)
	}
	// A hint that does not verify, or one issued to another app.
	if code := errorOf(ana.get(auth("id_token_hint", hint[:len(hint)-4]+"AAAA"))); code != "invalid_request" {
		t.Fatalf("tampered hint: %s", code)
	}
	other, otherSecret := e.oidcApp(store.AlgRS256)
	otherTok, _ := e.oidcClient(other, otherSecret).signIn(t, ana, "h2")
	if code := errorOf(ana.get(auth("id_token_hint", otherTok.Extra("id_token").(string)))); code != "invalid_request" {
		t.Fatalf("another app's hint: %s", code)
	}

	// Another merchant's session: with prompt=none login_required, and
	// otherwise the login page.
	if _, err := e.st.CreateMerchant(context.Background(), "beto@tienda.cl", "Tienda de Beto", password); err != nil {
		t.Fatal(err)
	}
	beto := e.browser()
	login := beto.get("/login")
	if p := beto.post("/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {"beto@tienda.cl"},
		"password": {password}, "next": {"/"}}); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	if code := errorOf(beto.get(auth("id_token_hint", hint, "prompt", "none"))); code != "login_required" {
		t.Fatalf("another merchant, prompt=none: %s", code)
	}
	p := beto.get(auth("id_token_hint", hint))
	if p.status != http.StatusFound || !strings.HasPrefix(p.location, "/login?") {
		t.Fatalf("another merchant: %d %s", p.status, p.location)
	}
	if next, _ := url2(p.location); strings.Contains(next, "id_token_hint") {
		t.Fatalf("the login comes back with the hint: %s", next)
	}
}

// TestOpenIDEmergencyRotationAnnounced: an emergency rotation made by
// another process (the CLI) reaches a running instance at once, over
// pub/sub, though its key set would be read again only in an hour.
func TestOpenIDEmergencyRotationAnnounced(t *testing.T) {
	t.Parallel()
	e := startEnvWith(t, nil, nil, func(o *server.Options) { o.KeyReload = time.Hour })
	e.app, e.secret = e.newApp("Sincronizador", appRedirect)
	ctx := context.Background()
	app, secret := e.oidcApp(store.AlgRS256)
	rp := e.oidcClient(app, secret)
	b := e.browser()
	tok, _ := rp.signIn(t, b, "before")
	old := jwtHeader(t, tok.Extra("id_token").(string))["kid"]

	keys, err := e.st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cli := e.secondInstance() // another process's store on the same Redis
	urgent, err := cli.AddSigningKey(ctx, store.NewSigningKey{Alg: store.AlgRS256, Withdraw: true,
		After: store.KeyRing{Keys: keys}.Newest(store.AlgRS256)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the withdrawn key out of the JWKS", func() bool {
		r := e.send(mustGet(e.url + "/.well-known/jwks.json"))
		return !strings.Contains(r.raw, old.(string)) && strings.Contains(r.raw, urgent.ID)
	})
	tok, _ = rp.signIn(t, b, "after")
	if kid := jwtHeader(t, tok.Extra("id_token").(string))["kid"]; kid != urgent.ID {
		t.Fatalf("signed by %v after the emergency rotation, want %s", kid, urgent.ID)
	}
}

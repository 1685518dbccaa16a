package server_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// First-party sign-up and sign-in (POST /v1/users, the password grant at
// /auth/v1/token) and the Multinexo-style aliases.

const jsonAPI = "application/vnd.api+json"

// userDoc is a sign-up document with the given attributes.
func userDoc(attrs map[string]any) string {
	b, _ := json.Marshal(map[string]any{"data": map[string]any{"type": "users", "attributes": attrs}})
	return string(b)
}

func signUpAttrs(email string) map[string]any {
	return map[string]any{"first_name": "Lucía", "last_name": "Pérez", "email": email, "password": "una clave larga"}
}

// register posts a document to /v1/users.
func (e *testEnv) register(contentType, body string) response {
	e.t.Helper()
	return e.postToken("/v1/users", contentType, body)
}

// withoutCounters drops the rate-limit counters from a snapshot: a refused
// request may count against a limit, but writes no data.
func withoutCounters(snap map[string]string) map[string]string {
	maps.DeleteFunc(snap, func(k, _ string) bool { return strings.HasPrefix(k, "rate:") })
	return snap
}

// TestRegistration: a sign-up answers a JSON:API resource without the
// password, and the new merchant logs in on the consent pages at once.
func TestRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, ct := range []string{jsonAPI, "application/json", "application/json; charset=utf-8"} {
		email := "lucia" + strconv.Itoa(i) + "@tienda.cl"
		r := e.register(ct, userDoc(signUpAttrs(email)))
		if r.status != http.StatusCreated {
			t.Fatalf("%s: %d %s", ct, r.status, r.raw)
		}
		if got := r.header.Get("Content-Type"); got != jsonAPI {
			t.Errorf("Content-Type %q", got)
		}
		data, _ := r.json["data"].(map[string]any)
		attrs, _ := data["attributes"].(map[string]any)
		id, _ := data["id"].(string)
		if data["type"] != "users" || id == "" || attrs["first_name"] != "Lucía" || attrs["last_name"] != "Pérez" ||
			attrs["email"] != email || attrs["status"] != "active" || attrs["activated"] != true {
			t.Fatalf("resource: %s", r.raw)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", attrs["created_at"].(string)); err != nil {
			t.Errorf("created_at: %v", err)
		}
		links, _ := r.json["links"].(map[string]any)
		if links["self"] != e.cfg.Issuer+"/v1/users/"+id || r.header.Get("Location") != links["self"] {
			t.Errorf("self link %v, Location %q", links["self"], r.header.Get("Location"))
		}
		if strings.Contains(r.raw, "password") || strings.Contains(r.raw, "argon2") || strings.Contains(r.raw, "una clave larga") {
			t.Fatalf("the answer carries the password or its digest: %s", r.raw)
		}
	}

	// The new merchant logs in on the consent pages.
	b := e.browser()
	login := b.get("/login")
	p := b.post("/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {"LUCIA0@tienda.cl"},
		"password": {"una clave larga"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("a registered merchant cannot log in: %d %s", p.status, p.body)
	}
	if home := b.get(p.location); !strings.Contains(home.body, "lucia0@tienda.cl") {
		t.Fatalf("logged in as someone else:\n%s", home.body)
	}
}

// TestRegistrationRefusals: every bad sign-up gets its JSON:API error
// (status, code, title, detail, a pointer to the attribute) and writes no
// data.
func TestRegistrationRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.register(jsonAPI, userDoc(signUpAttrs("taken@tienda.cl"))); r.status != http.StatusCreated {
		t.Fatalf("setup: %d %s", r.status, r.raw)
	}
	with := func(k string, v any) string {
		a := signUpAttrs("new@tienda.cl")
		if v == nil {
			delete(a, k)
		} else {
			a[k] = v
		}
		return userDoc(a)
	}
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		code, pointer           string
	}{
		{"invalid email", jsonAPI, with("email", "no-es-un-correo"), 422, "invalid_email", "/data/attributes/email"},
		{"email with a display name", jsonAPI, with("email", "Ana <ana@tienda.cl>"), 422, "invalid_email", "/data/attributes/email"},
		{"missing email", jsonAPI, with("email", nil), 422, "invalid_email", "/data/attributes/email"},
		{"short password", jsonAPI, with("password", "corta"), 422, "password_too_short", "/data/attributes/password"},
		{"missing password", jsonAPI, with("password", nil), 422, "password_too_short", "/data/attributes/password"},
		{"huge password", jsonAPI, with("password", strings.Repeat("x", 257)), 422, "password_too_long", "/data/attributes/password"},
		{"blank first name", jsonAPI, with("first_name", "  "), 422, "blank", "/data/attributes/first_name"},
		{"missing last name", jsonAPI, with("last_name", nil), 422, "blank", "/data/attributes/last_name"},
		{"email taken", jsonAPI, userDoc(signUpAttrs("TAKEN@tienda.cl")), 409, "email_taken", "/data/attributes/email"},
		{"wrong type", jsonAPI, strings.Replace(with("email", "x@tienda.cl"), `"users"`, `"people"`, 1), 400, "malformed_document", "/data/type"},
		{"no type", jsonAPI, `{"data":{"attributes":{}}}`, 400, "malformed_document", "/data/type"},
		{"no data", jsonAPI, `{"users":{}}`, 400, "malformed_document", "/data"},
		{"no attributes", jsonAPI, `{"data":{"type":"users"}}`, 400, "malformed_document", "/data/attributes"},
		{"attribute not a string", jsonAPI, with("password", 12345678), 400, "malformed_document", "/data/attributes/password"},
		{"not JSON", jsonAPI, `{"data":`, 400, "malformed_document", ""},
		{"two documents", jsonAPI, userDoc(signUpAttrs("a@tienda.cl")) + userDoc(signUpAttrs("b@tienda.cl")), 400, "malformed_document", ""},
		{"client-generated id", jsonAPI, `{"data":{"type":"users","id":"mine","attributes":{}}}`, 403, "client_generated_id", "/data/id"},
		{"form body", "application/x-www-form-urlencoded", "email=a%40b.cl", 415, "unsupported_media_type", ""},
		{"text", "text/plain", userDoc(signUpAttrs("new@tienda.cl")), 415, "unsupported_media_type", ""},
		{"JSON:API with a parameter", jsonAPI + "; version=2", userDoc(signUpAttrs("new@tienda.cl")), 415, "unsupported_media_type", ""},
		{"no content type", "", userDoc(signUpAttrs("new@tienda.cl")), 415, "unsupported_media_type", ""},
		{"body over 64 KiB", jsonAPI, with("first_name", strings.Repeat("a", 70<<10)), 413, "body_too_large", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := withoutCounters(redistest.Snapshot(t, e.rdb))
			r := e.register(c.contentType, c.body)
			if r.status != c.status || r.header.Get("Content-Type") != jsonAPI {
				t.Fatalf("%d %q %s, want %d", r.status, r.header.Get("Content-Type"), r.raw, c.status)
			}
			errs, _ := r.json["errors"].([]any)
			if len(errs) == 0 {
				t.Fatalf("no errors array: %s", r.raw)
			}
			first, _ := errs[0].(map[string]any)
			src, _ := first["source"].(map[string]any)
			if first["status"] != strconv.Itoa(c.status) || first["code"] != c.code ||
				first["title"] == "" || first["detail"] == "" || (c.pointer != "" && src["pointer"] != c.pointer) {
				t.Fatalf("error object: %s", r.raw)
			}
			if _, ok := r.json["data"]; ok {
				t.Fatalf("an error answer with data: %s", r.raw)
			}
			redistest.AssertUnchanged(t, before, withoutCounters(redistest.Snapshot(t, e.rdb)))
		})
	}
	// Several broken rules are all reported.
	r := e.register(jsonAPI, userDoc(map[string]any{"email": "x", "password": "y"}))
	if errs, _ := r.json["errors"].([]any); r.status != 422 || len(errs) != 4 {
		t.Fatalf("want 4 errors: %d %s", r.status, r.raw)
	}
}

// TestRegistrationSwitchesAndLimits: registration can be switched off, and
// sign-ups are limited per client address across the limit's period.
func TestRegistrationSwitchesAndLimits(t *testing.T) {
	t.Parallel()
	off := newEnv(t, func(c *config.Config) { c.Registration.Enabled = false })
	before := redistest.Snapshot(t, off.rdb)
	if r := off.register(jsonAPI, userDoc(signUpAttrs("new@tienda.cl"))); r.status != http.StatusNotFound {
		t.Fatalf("registration off: %d %s", r.status, r.raw)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, off.rdb))

	e := newEnv(t, func(c *config.Config) { c.Registration.PerAddress = 2 })
	for i := range 2 {
		if r := e.register(jsonAPI, userDoc(signUpAttrs("u"+strconv.Itoa(i)+"@tienda.cl"))); r.status != http.StatusCreated {
			t.Fatalf("sign-up %d: %d %s", i, r.status, r.raw)
		}
	}
	before = withoutCounters(redistest.Snapshot(t, e.rdb))
	r := e.register(jsonAPI, userDoc(signUpAttrs("third@tienda.cl")))
	errs, _ := r.json["errors"].([]any)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || len(errs) != 1 {
		t.Fatalf("over the limit: %d %s", r.status, r.raw)
	}
	redistest.AssertUnchanged(t, before, withoutCounters(redistest.Snapshot(t, e.rdb)))
	if _, err := e.st.AuthenticateMerchant(context.Background(), "third@tienda.cl", "una clave larga"); err == nil {
		t.Fatal("a limited sign-up was written")
	}
}

// firstPartyApp registers one of the platform's own apps.
func (e *testEnv) firstPartyApp() (*store.App, string) {
	e.t.Helper()
	app, secret, err := e.st.CreateApp(context.Background(), store.AppSpec{Name: "Tienda web", FirstParty: true,
		RedirectURIs: []string{appRedirect},
		Scopes:       []string{"openid", "profile", "email", "voucher", "read:products"}}, e.cfg.Scopes.Names())
	if err != nil {
		e.t.Fatal(err)
	}
	return app, secret
}

// signIn posts a password grant to /auth/v1/token with the credentials in
// the body, as the clients send them.
func (e *testEnv) signIn(app *store.App, secret, username, pw, scope string) response {
	e.t.Helper()
	v := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw},
		"client_id": {app.ClientID}, "client_secret": {secret}}
	if scope != "" {
		v.Set("scope", scope)
	}
	return e.form("/auth/v1/token", v)
}

// TestPasswordGrant: a first-party app signs a merchant in; the answer is
// the Multinexo one with a 900 s access token; the sign-in is a connection
// that is listed, audited, refreshed with rotation and revocable.
func TestPasswordGrant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app, secret := e.firstPartyApp()
	if r := e.register(jsonAPI, userDoc(signUpAttrs("lucia@tienda.cl"))); r.status != http.StatusCreated {
		t.Fatalf("sign-up: %d %s", r.status, r.raw)
	}
	r := e.signIn(app, secret, "Lucia@Tienda.cl", "una clave larga", "openid profile email voucher")
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	keys := slices.Sorted(maps.Keys(r.json))
	// With openid, an ID token too (OpenID Connect; oidc_test.go checks it).
	if want := []string{"access_token", "expires_in", "first_name", "id_token", "last_name", "refresh_token", "scope", "token_type", "uid"}; !slices.Equal(keys, want) {
		t.Fatalf("answer fields %v, want %v", keys, want)
	}
	uid, _ := r.json["uid"].(string)
	if r.json["expires_in"] != float64(900) || r.json["token_type"] != "Bearer" || r.json["scope"] != "openid profile email voucher" ||
		r.json["first_name"] != "Lucía" || r.json["last_name"] != "Pérez" || uid == "" {
		t.Fatalf("answer: %s", r.raw)
	}
	access, refresh := r.json["access_token"].(string), r.json["refresh_token"].(string)
	if info := e.info(access); info.status != http.StatusOK || info.json["MerchantId"] != uid {
		t.Fatalf("the access token: %d %s", info.status, info.raw)
	}
	// The self link of the sign-up, read with the token.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/v1/users/"+uid, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	if u := e.send(req); u.status != http.StatusOK || !strings.Contains(u.raw, `"email":"lucia@tienda.cl"`) {
		t.Fatalf("GET /v1/users/{id}: %d %s", u.status, u.raw)
	}
	req, _ = http.NewRequest(http.MethodGet, e.url+"/v1/users/"+e.merchant.ID, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	if u := e.send(req); u.status != http.StatusNotFound {
		t.Fatalf("another user's resource: %d %s", u.status, u.raw)
	}

	// Listed and audited like any connection.
	page, err := e.st.ListConnections(ctx, store.ConnectionFilter{MerchantID: uid}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	conns := page.Connections
	if len(conns) != 1 || conns[0].ClientID != app.ClientID || conns[0].Status != store.StatusActive {
		t.Fatalf("connections: %+v %v", conns, err)
	}
	events, _, err := e.st.ListAudit(ctx, store.AuditFilter{}, "", 50)
	if err != nil || !slices.ContainsFunc(events, func(ev store.Event) bool {
		return ev.Type == store.EventSignIn && ev.ConnectionID == conns[0].ID
	}) {
		t.Fatalf("no sign-in event: %+v %v", events, err)
	}

	// Refresh at the same endpoint: rotated, still 900 s.
	next := e.form("/auth/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, app.ClientID, secret)
	if next.status != http.StatusOK || next.json["expires_in"] != float64(900) || next.json["refresh_token"] == refresh {
		t.Fatalf("refresh: %d %s", next.status, next.raw)
	}
	if info := e.info(access); info.status != http.StatusUnauthorized {
		t.Fatalf("the replaced access token still works: %d", info.status)
	}
	// After the retry window the used refresh token is a replay: the
	// connection ends.
	e.clock.Add(11 * time.Second)
	if again := e.form("/auth/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, app.ClientID, secret); again.status != http.StatusBadRequest || again.json["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %s", again.status, again.raw)
	}
	if info := e.info(next.json["access_token"].(string)); info.status != http.StatusUnauthorized {
		t.Fatalf("a replay did not revoke the sign-in: %d", info.status)
	}

	// Revocable by the merchant's app (RFC 7009) like any other.
	second := e.signIn(app, secret, "lucia@tienda.cl", "una clave larga", "")
	if second.status != http.StatusOK || second.json["scope"] != "openid profile email voucher read:products" {
		t.Fatalf("second sign-in (the app's scopes): %d %s", second.status, second.raw)
	}
	if rv := e.form("/oauth/revoke", url.Values{"token": {second.json["refresh_token"].(string)}}, app.ClientID, secret); rv.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", rv.status, rv.raw)
	}
	if info := e.info(second.json["access_token"].(string)); info.status != http.StatusUnauthorized {
		t.Fatalf("a revoked sign-in still works: %d", info.status)
	}

	// No credential reached the log.
	logs := e.logs.String()
	for _, s := range []string{"una clave larga", secret, access, refresh, second.json["access_token"].(string)} {
		if strings.Contains(logs, s) {
			t.Fatalf("a credential appears in the log: %.6s…", s)
		}
	}
}

// TestPasswordGrantRefusals: third-party apps, wrong credentials, bad
// requests and the other endpoints are refused, and nothing is written.
func TestPasswordGrantRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.firstPartyApp()
	for _, c := range []struct {
		name   string
		do     func() response
		status int
		code   string
	}{
		{"third-party app, right credentials", func() response {
			return e.signIn(e.app, e.secret, e.merchant.Email, password, "read:products")
		}, 400, "unauthorized_client"},
		{"wrong password", func() response {
			return e.signIn(app, secret, e.merchant.Email, "wrong", "")
		}, 400, "invalid_grant"},
		{"unknown user", func() response {
			return e.signIn(app, secret, "nobody@tienda.cl", password, "")
		}, 400, "invalid_grant"},
		{"wrong client secret", func() response {
			return e.signIn(app, "nope", e.merchant.Email, password, "")
		}, 400, "invalid_client"},
		{"scope not registered", func() response {
			return e.signIn(app, secret, e.merchant.Email, password, "openid write:products")
		}, 400, "invalid_scope"},
		{"no password", func() response {
			return e.signIn(app, secret, e.merchant.Email, "", "")
		}, 400, "invalid_request"},
		{"password grant at /oauth/token", func() response {
			return e.form("/oauth/token", url.Values{"grant_type": {"password"}, "username": {e.merchant.Email},
				"password": {password}}, app.ClientID, secret)
		}, 400, "unsupported_grant_type"},
		{"password grant at /oauth/access-token", func() response {
			return e.form("/oauth/access-token", url.Values{"grant_type": {"password"}, "username": {e.merchant.Email},
				"password": {password}, "client_id": {app.ClientID}, "client_secret": {secret}})
		}, 400, "unsupported_grant_type"},
		{"JSON body at /auth/v1/token", func() response {
			return e.postToken("/auth/v1/token", "application/json", `{"grant_type":"password"}`)
		}, 400, "invalid_request"},
		{"other grant at /auth/v1/token", func() response {
			return e.form("/auth/v1/token", url.Values{"grant_type": {"client_credentials"}}, app.ClientID, secret)
		}, 400, "unsupported_grant_type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := withoutCounters(redistest.Snapshot(t, e.rdb))
			r := c.do()
			if r.status != c.status || r.json["error"] != c.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.raw, c.status, c.code)
			}
			redistest.AssertUnchanged(t, before, withoutCounters(redistest.Snapshot(t, e.rdb)))
		})
	}
	// A wrong password and an unknown user are the same answer.
	a := e.signIn(app, secret, e.merchant.Email, "wrong", "")
	b := e.signIn(app, secret, "nobody@tienda.cl", "wrong", "")
	if a.raw != b.raw {
		t.Fatalf("the answers tell the accounts apart:\n%s\n%s", a.raw, b.raw)
	}
}

// TestPasswordGrantLimits: failed sign-ins count against the consent
// pages' login limits, with the same counters: over the limit the grant
// answers 429 even with the right password, and so does the login page.
func TestPasswordGrantLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.LoginLimits.PerAccount = 3 })
	app, secret := e.firstPartyApp()
	for i := range 3 {
		if r := e.signIn(app, secret, e.merchant.Email, "wrong", ""); r.status != http.StatusBadRequest {
			t.Fatalf("failure %d: %d %s", i, r.status, r.raw)
		}
	}
	r := e.signIn(app, secret, e.merchant.Email, password, "")
	if r.status != http.StatusTooManyRequests || r.json["error"] != "invalid_grant" || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %s", r.status, r.raw)
	}
	// The same counter holds on the login page.
	b := e.browser()
	login := b.get("/login")
	p := b.post("/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {e.merchant.Email}, "password": {password}})
	if p.status != http.StatusTooManyRequests {
		t.Fatalf("the login page after failed sign-ins: %d", p.status)
	}
	// Another account is not limited by it.
	other, err := e.st.CreateMerchant(context.Background(), "otra@tienda.cl", "Otra tienda", password)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.signIn(app, secret, other.Email, password, "openid"); r.status != http.StatusOK {
		t.Fatalf("another account: %d %s", r.status, r.raw)
	}
}

// TestFirstPartyWithOAuth2Client: golang.org/x/oauth2 signs in with the
// password grant, and runs the code flow over the Multinexo-style aliases
// (/auth/v1/authorization, /auth/v1/token).
func TestFirstPartyWithOAuth2Client(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app, secret := e.firstPartyApp()
	conf := &oauth2.Config{ClientID: app.ClientID, ClientSecret: secret, RedirectURL: appRedirect,
		Scopes: []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: e.url + "/auth/v1/authorization", TokenURL: e.url + "/auth/v1/token",
			AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := conf.PasswordCredentialsToken(ctx, e.merchant.Email, password)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	if d := time.Until(tok.Expiry); d < 14*time.Minute || d > 16*time.Minute || tok.Extra("uid") != e.merchant.ID {
		t.Fatalf("token: expiry in %v, uid %v", d, tok.Extra("uid"))
	}
	// A merchant an admin created has only a name: it stands as the first.
	if tok.Extra("first_name") != "Tienda de Ana" || tok.Extra("last_name") != "" {
		t.Fatalf("names of an admin-created merchant: %v %v", tok.Extra("first_name"), tok.Extra("last_name"))
	}
	if info := e.info(tok.AccessToken); info.status != http.StatusOK {
		t.Fatalf("info: %d %s", info.status, info.raw)
	}

	// The code flow through the aliases, with a third-party app.
	third := &oauth2.Config{ClientID: e.app.ClientID, ClientSecret: e.secret, RedirectURL: appRedirect,
		Scopes:   []string{"read:products"},
		Endpoint: oauth2.Endpoint{AuthURL: e.url + "/auth/v1/authorization", TokenURL: e.url + "/auth/v1/token"}}
	authURL := third.AuthCodeURL("st")
	b := e.browser()
	consent := b.loginAndConsentPage(authURL)
	back := b.approve(authURL, consent, "read:products")
	if back.Query().Get("iss") != e.cfg.Issuer || back.Query().Get("state") != "st" {
		t.Fatalf("redirect: %s", back)
	}
	code, err := third.Exchange(ctx, back.Query().Get("code"))
	if err != nil || code.Extra("scope") != "read:products" {
		t.Fatalf("exchange at /auth/v1/token: %v", err)
	}
	if _, err := third.PasswordCredentialsToken(ctx, e.merchant.Email, password); err == nil ||
		!strings.Contains(err.Error(), "unauthorized_client") {
		t.Fatalf("a third-party app's password grant: %v", err)
	}
}

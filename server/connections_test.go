package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// pair exchanges a fresh code and returns the RFC token response.
func (e *testEnv) pair(granted ...string) response {
	e.t.Helper()
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {e.code(nil, granted...)}},
		e.app.ClientID, e.secret)
	if r.status != http.StatusOK {
		e.t.Fatalf("exchange: %s", r.raw)
	}
	return r
}

func (e *testEnv) refreshOK(rt string) (response, bool) {
	e.t.Helper()
	r := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, e.app.ClientID, e.secret)
	return r, r.status == http.StatusOK
}

func (e *testEnv) introspect(token string, creds ...string) response {
	e.t.Helper()
	if len(creds) == 0 {
		creds = []string{e.app.ClientID, e.secret}
	}
	return e.form("/oauth/introspect", url.Values{"token": {token}}, creds...)
}

// TestRevocationEndpoint: RFC 7009. Revoking an access or refresh token
// ends its connection; unknown tokens and other apps' tokens answer 200 and
// change nothing.
func TestRevocationEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, otherSecret := e.newApp("Otra", "https://other.example.com/cb")

	a := e.pair()
	r := e.form("/oauth/revoke", url.Values{"token": {a.json["access_token"].(string)}}, e.app.ClientID, e.secret)
	if r.status != http.StatusOK || r.raw != "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("revoke: %d %q %v", r.status, r.raw, r.header)
	}
	if got := e.info(a.json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatal("the revoked access token still works")
	}
	if _, ok := e.refreshOK(a.json["refresh_token"].(string)); ok {
		t.Fatal("revoking the access token must end the connection's refresh token too")
	}

	b := e.pair()
	if r := e.form("/oauth/revoke", url.Values{"token": {b.json["refresh_token"].(string)}, "token_type_hint": {"refresh_token"}},
		e.app.ClientID, e.secret); r.status != http.StatusOK {
		t.Fatal(r.raw)
	}
	if got := e.info(b.json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatal("revoking the refresh token must end the access token too")
	}

	c := e.pair()
	before := redistest.Snapshot(t, e.rdb)
	for name, v := range map[string]url.Values{
		"unknown token": {"token": {"at-" + store.NewID() + "." + store.NewSecret()}},
		"garbage":       {"token": {"nonsense"}},
	} {
		if r := e.form("/oauth/revoke", v, e.app.ClientID, e.secret); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if r := e.form("/oauth/revoke", url.Values{"token": {c.json["access_token"].(string)}}, other.ClientID, otherSecret); r.status != http.StatusOK {
		t.Fatalf("another app's token: %d", r.status)
	}
	assertOAuthError(t, e.form("/oauth/revoke", url.Values{}, e.app.ClientID, e.secret), 400, "invalid_request")
	assertOAuthError(t, e.form("/oauth/revoke", url.Values{"token": {c.json["access_token"].(string)}}, e.app.ClientID, "wrong"), 401, "invalid_client")
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	if got := e.info(c.json["access_token"].(string)); got.status != http.StatusOK {
		t.Fatal("another app could revoke this app's token")
	}
}

// TestIntrospection: RFC 7662 for apps (their own tokens only) and for a
// resource server configured with a secret digest (any token).
func TestIntrospection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, otherSecret := e.newApp("Otra", "https://other.example.com/cb")
	a := e.pair("read:products", "read:checkouts")
	at, rt := a.json["access_token"].(string), a.json["refresh_token"].(string)

	r := e.introspect(at)
	if r.status != http.StatusOK || r.json["active"] != true || r.json["scope"] != "read:products read:checkouts" ||
		r.json["client_id"] != e.app.ClientID || r.json["sub"] != e.merchant.ID || r.json["token_type"] != "Bearer" ||
		r.json["connection_id"] != a.json["connection_id"] || r.json["exp"] == nil || r.json["iat"] == nil {
		t.Fatalf("introspect access: %s", r.raw)
	}
	if exp, iat := r.json["exp"].(float64), r.json["iat"].(float64); exp-iat != 6*3600 {
		t.Fatalf("exp - iat = %v", exp-iat)
	}
	if r := e.introspect(rt); r.json["active"] != true || r.json["token_type"] != "refresh_token" {
		t.Fatalf("introspect refresh: %s", r.raw)
	}
	inactive := func(name string, r response) {
		t.Helper()
		if r.status != http.StatusOK || r.raw != `{"active":false}` {
			t.Fatalf("%s: want {\"active\":false}, got %d %s", name, r.status, r.raw)
		}
	}
	inactive("another app's token", e.introspect(at, other.ClientID, otherSecret))
	inactive("unknown", e.introspect("at-"+store.NewID()+"."+store.NewSecret()))
	inactive("garbage", e.introspect("x"))
	assertOAuthError(t, e.introspect(at, e.app.ClientID, "wrong"), 401, "invalid_client")

	// A configured resource server sees every app's tokens.
	e.cfg.Introspection.Clients = append(e.cfg.Introspection.Clients, struct {
		ID           string `yaml:"id" json:"id"`
		SecretSHA256 string `yaml:"secret_sha256" json:"secret_sha256"`
	}{ID: "platform-api", SecretSHA256: store.Digest("rs-secret")})
	if r := e.introspect(at, "platform-api", "rs-secret"); r.json["active"] != true {
		t.Fatalf("resource server: %s", r.raw)
	}
	assertOAuthError(t, e.introspect(at, "platform-api", "wrong"), 401, "invalid_client")

	if err := e.st.RevokeConnection(context.Background(), a.json["connection_id"].(string), "test"); err != nil {
		t.Fatal(err)
	}
	inactive("revoked", e.introspect(at))
	inactive("revoked (resource server)", e.introspect(at, "platform-api", "rs-secret"))
}

var connRowRe = regexp.MustCompile(`id="connection-([0-9a-f-]{36})"`)

// TestMerchantConnectionsPage: two connections to the same app are two
// rows, newest first; revoking one (after a confirmation page, with CSRF)
// leaves the other working; another merchant's connection cannot be touched.
func TestMerchantConnectionsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	older, newer := e.pair("read:products"), e.pair("read:checkouts")

	b := e.browser()
	b.loginAndConsentPage("/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode())
	p := b.get("/connections")
	rows := connRowRe.FindAllStringSubmatch(p.body, -1)
	if p.status != http.StatusOK || len(rows) != 2 {
		t.Fatalf("connections page: %d, %d rows\n%s", p.status, len(rows), p.body)
	}
	if rows[0][1] != newer.json["connection_id"] || rows[1][1] != older.json["connection_id"] {
		t.Fatal("connections are not newest first")
	}
	if !strings.Contains(p.body, "Sincronizador") || !strings.Contains(p.body, "Ver tus ventas") || !strings.Contains(p.body, "Ver tus productos") {
		t.Fatalf("rows lack the app name or the scopes in Spanish:\n%s", p.body)
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+"/connections", nil)
	req.Header.Set("Accept-Language", "en")
	if p := b.do(req); !strings.Contains(p.body, "See your sales") || !strings.Contains(p.body, "Connected apps") {
		t.Fatal("the English page lacks English scope descriptions")
	}

	target := older.json["connection_id"].(string)
	confirm := b.get("/connections/" + target + "/revoke")
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Sí, revocar") {
		t.Fatalf("confirmation page: %d\n%s", confirm.status, confirm.body)
	}
	if p := b.post("/connections/"+target+"/revoke", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("revoke without CSRF: %d", p.status)
	}
	if p := b.post("/connections/"+target+"/revoke", url.Values{"csrf_token": {csrfOf(t, confirm)}}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	if _, ok := e.refreshOK(older.json["refresh_token"].(string)); ok {
		t.Fatal("the revoked connection still refreshes")
	}
	refreshed, ok := e.refreshOK(newer.json["refresh_token"].(string))
	if !ok {
		t.Fatal("the other connection to the same app must keep working")
	}
	if rows := connRowRe.FindAllStringSubmatch(b.get("/connections?revoked=1").body, -1); len(rows) != 1 {
		t.Fatalf("after revoking, %d rows", len(rows))
	}

	// Another merchant sees none of these and cannot revoke them.
	if _, err := e.st.CreateMerchant(context.Background(), "otro@tienda.cl", "Otro", password); err != nil {
		t.Fatal(err)
	}
	o := e.browser()
	login := o.get("/login")
	o.post("/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {"otro@tienda.cl"}, "password": {password}, "next": {"/connections"}})
	p = o.get("/connections")
	if rows := connRowRe.FindAllStringSubmatch(p.body, -1); p.status != http.StatusOK || len(rows) != 0 {
		t.Fatalf("another merchant sees %d rows", len(rows))
	}
	victim := newer.json["connection_id"].(string)
	if p := o.get("/connections/" + victim + "/revoke"); p.status != http.StatusNotFound {
		t.Fatalf("confirm page of someone else's connection: %d", p.status)
	}
	if p := o.post("/connections/"+victim+"/revoke", url.Values{"csrf_token": {csrfOf(t, p)}}); p.status != http.StatusNotFound {
		t.Fatalf("revoking someone else's connection: %d", p.status)
	}
	if _, ok := e.refreshOK(refreshed.json["refresh_token"].(string)); !ok {
		t.Fatal("another merchant revoked this connection")
	}
	if p := e.browser().get("/connections"); p.status != http.StatusFound || !strings.HasPrefix(p.location, "/login?") {
		t.Fatalf("the page needs a login: %d %s", p.status, p.location)
	}
}

// adminBrowser logs an admin in on the admin pages.
func (e *testEnv) adminBrowser() *browser {
	e.t.Helper()
	if _, err := e.st.CreateAdmin(context.Background(), "ops@enlace.test", "admin pass"); err != nil && !strings.Contains(err.Error(), "already") {
		e.t.Fatal(err)
	}
	b := e.browser()
	login := b.get("/admin/login")
	p := b.post("/admin/login", url.Values{"csrf_token": {csrfOf(e.t, login)}, "email": {"ops@enlace.test"}, "password": {"admin pass"}})
	if p.status != http.StatusSeeOther || p.location != "/admin" {
		e.t.Fatalf("admin login: %d %s", p.status, p.body)
	}
	return b
}

// TestAdminPages: admin login is separate from merchants; apps show their
// connection counts; an admin can filter and revoke connections, revoke all
// of an app's, disable and enable an app; the audit page shows it all.
func TestAdminPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Merchant credentials do not open the admin pages.
	b := e.browser()
	login := b.get("/admin/login")
	if p := b.post("/admin/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {e.merchant.Email}, "password": {password}}); p.status != http.StatusUnauthorized {
		t.Fatalf("merchant credentials on the admin login: %d", p.status)
	}
	if p := b.get("/admin"); p.status != http.StatusSeeOther || p.location != "/admin/login" {
		t.Fatalf("admin page without login: %d %s", p.status, p.location)
	}

	first, second := e.pair(), e.pair()
	adm := e.adminBrowser()
	p := adm.get("/admin")
	if p.status != http.StatusOK || !regexp.MustCompile(`>2</a>`).MatchString(p.body) {
		t.Fatalf("apps page should show 2 connections:\n%s", p.body)
	}
	// The kind of each app: one of the platform's own is marked.
	fp, _ := e.firstPartyApp()
	p = adm.get("/admin")
	if !regexp.MustCompile(`(?s)id="app-`+fp.ClientID+`">.*?Propia de la plataforma`).MatchString(p.body) ||
		!regexp.MustCompile(`(?s)id="app-`+e.app.ClientID+`">.*?Confidencial`).MatchString(p.body) {
		t.Fatalf("apps page does not tell the apps' kinds:\n%s", p.body)
	}
	p = adm.get("/admin/connections?app=" + e.app.ClientID + "&merchant=" + e.merchant.ID)
	if rows := connRowRe.FindAllStringSubmatch(p.body, -1); len(rows) != 2 {
		t.Fatalf("filtered connections: %d rows", len(rows))
	}
	if rows := connRowRe.FindAllStringSubmatch(adm.get("/admin/connections?merchant="+store.NewID()).body, -1); len(rows) != 0 {
		t.Fatal("the merchant filter does not filter")
	}
	if p := adm.post("/admin/connections/"+first.json["connection_id"].(string)+"/revoke", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("admin revoke without CSRF: %d", p.status)
	}
	if p := adm.post("/admin/connections/"+first.json["connection_id"].(string)+"/revoke", url.Values{"csrf_token": {csrfOf(t, p)}, "confirmed": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("admin revoke: %d", p.status)
	}
	if _, ok := e.refreshOK(first.json["refresh_token"].(string)); ok {
		t.Fatal("the connection revoked by the admin still refreshes")
	}
	if got := e.info(second.json["access_token"].(string)); got.status != http.StatusOK {
		t.Fatal("the other connection was revoked too")
	}

	// Disable: the app's tokens stop working, it can neither exchange nor
	// refresh nor start a flow; enable brings it back.
	code := e.code(nil)
	csrf := csrfOf(t, adm.get("/admin"))
	if p := adm.post("/admin/apps/"+e.app.ClientID+"/disable", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", p.status)
	}
	if got := e.info(second.json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatalf("a disabled app's token still works: %d", got.status)
	}
	if r := e.introspect(second.json["access_token"].(string), "x", "y"); r.status == http.StatusOK {
		t.Fatal("introspection with bad credentials")
	}
	assertOAuthError(t, e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}}, e.app.ClientID, e.secret), 401, "invalid_client")
	assertOAuthError(t, e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.json["refresh_token"].(string)}}, e.app.ClientID, e.secret), 401, "invalid_client")
	if p := e.browser().get("/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode()); p.status != http.StatusBadRequest || p.location != "" {
		t.Fatalf("a disabled app started a flow: %d %s", p.status, p.location)
	}
	if p := adm.get("/admin"); !strings.Contains(p.body, "Deshabilitada") {
		t.Fatal("the apps page does not show the app as disabled")
	}
	if p := adm.post("/admin/apps/"+e.app.ClientID+"/enable", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("enable: %d", p.status)
	}
	if got := e.info(second.json["access_token"].(string)); got.status != http.StatusOK {
		t.Fatalf("re-enabled app's token: %d", got.status)
	}

	// Revoke all of an app's connections.
	third := e.pair()
	p = adm.post("/admin/apps/"+e.app.ClientID+"/revoke-all", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
	if p.status != http.StatusSeeOther || p.location != "/admin?notice=revoked_all" {
		t.Fatalf("revoke all: %d %s", p.status, p.location)
	}
	// At once: every token refused, the count down to none.
	for _, r := range []response{second, third} {
		if got := e.info(r.json["access_token"].(string)); got.status != http.StatusUnauthorized {
			t.Fatal("revoke-all left a token working")
		}
	}
	if p := adm.get("/admin"); !strings.Contains(p.body, `<a href="/admin/connections?app=`+e.app.ClientID+`">0</a>`) {
		t.Fatalf("the apps page still counts the revoked connections:\n%s", p.body)
	}
	// The clean-up revokes each connection in the background.
	eventually(t, "the clean-up to finish", func() bool {
		r, err := e.st.AppRevocation(context.Background(), e.app.ClientID)
		return err == nil && r.Done && r.Revoked == 3
	})

	// The audit page lists it all, newest first, with who did it.
	p = adm.get("/admin/audit")
	types := regexp.MustCompile(`class="event-(\w+)"`).FindAllStringSubmatch(p.body, -1)
	if len(types) < 4 || types[0][1] != "revoke" || !slices.ContainsFunc(types, func(m []string) bool { return m[1] == "app" }) {
		t.Fatalf("audit page: %v", types)
	}
	for _, want := range []string{"event-grant", "event-exchange", "event-app", "Administrador · ops@enlace.test", "Deshabilitada", "Habilitada"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
}

// TestAdminAPI: bearer admin keys, paginated lists, revocation, app
// disable, and 401 for a missing or wrong key.
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key, _, err := e.st.CreateAdminKey(context.Background(), "ops", 0)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, key string) response {
		t.Helper()
		req, _ := http.NewRequest(method, e.url+"/admin/api"+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		return e.send(req)
	}
	for name, k := range map[string]string{"missing": "", "wrong": "ek-" + store.NewSecret(), "merchant-ish": e.secret} {
		r := call(http.MethodGet, "/connections", k)
		if r.status != http.StatusUnauthorized || r.json["error"] != "invalid_token" || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s key: %d %s", name, r.status, r.raw)
		}
	}
	if r := call(http.MethodDelete, "/connections/"+store.NewID(), ""); r.status != http.StatusUnauthorized {
		t.Fatal("DELETE without a key")
	}

	conns := []response{e.pair(), e.pair(), e.pair()}
	r := call(http.MethodGet, "/connections?limit=2", key)
	if r.status != http.StatusOK || r.json["total"] != float64(3) || r.json["next_offset"] != float64(2) || len(r.json["data"].([]any)) != 2 {
		t.Fatalf("page 1: %s", r.raw)
	}
	if first := r.json["data"].([]any)[0].(map[string]any); first["id"] != conns[2].json["connection_id"] {
		t.Fatal("not newest first")
	}
	r = call(http.MethodGet, "/connections?limit=2&offset=2", key)
	if len(r.json["data"].([]any)) != 1 || r.json["next_offset"] != nil {
		t.Fatalf("page 2: %s", r.raw)
	}
	if r := call(http.MethodGet, "/connections?limit=0", key); r.status != http.StatusBadRequest {
		t.Fatal("limit=0 accepted")
	}
	if r := call(http.MethodGet, fmt.Sprintf("/connections?merchant=%s&app=%s", e.merchant.ID, e.app.ClientID), key); r.json["total"] != float64(3) {
		t.Fatalf("filters: %s", r.raw)
	}
	if r := call(http.MethodGet, "/connections?app=nope", key); r.json["total"] != float64(0) {
		t.Fatalf("app filter: %s", r.raw)
	}
	if r := call(http.MethodGet, "/apps", key); r.status != http.StatusOK || r.json["data"].([]any)[0].(map[string]any)["connections"] != float64(3) {
		t.Fatalf("apps: %s", r.raw)
	}
	if r := call(http.MethodGet, "/merchants", key); r.json["total"] != float64(1) {
		t.Fatalf("merchants: %s", r.raw)
	}

	id := conns[0].json["connection_id"].(string)
	if r := call(http.MethodDelete, "/connections/"+id, key); r.status != http.StatusOK || r.json["status"] != "revoked" {
		t.Fatalf("DELETE: %s", r.raw)
	}
	if got := e.info(conns[0].json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatal("revoked through the API but still works")
	}
	if r := call(http.MethodGet, "/connections/"+id, key); r.json["status"] != "revoked" || r.json["revoked_by"] != "admin-key:ops" {
		t.Fatalf("GET revoked connection: %s", r.raw)
	}
	if r := call(http.MethodDelete, "/connections/"+store.NewID(), key); r.status != http.StatusNotFound {
		t.Fatalf("DELETE unknown: %d", r.status)
	}

	if r := call(http.MethodPost, "/apps/"+e.app.ClientID+"/disable", key); r.status != http.StatusOK || r.json["disabled"] != true {
		t.Fatalf("disable: %s", r.raw)
	}
	if got := e.info(conns[1].json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatal("a disabled app's token still works")
	}
	if r := call(http.MethodPost, "/apps/"+e.app.ClientID+"/enable", key); r.json["disabled"] != false {
		t.Fatalf("enable: %s", r.raw)
	}
	if r := call(http.MethodPost, "/apps/nope/disable", key); r.status != http.StatusNotFound {
		t.Fatalf("disable unknown app: %d", r.status)
	}
	r = call(http.MethodDelete, "/apps/"+e.app.ClientID+"/connections", key)
	if r.status != http.StatusAccepted || r.json["generation"] != float64(1) || r.json["state"] == nil ||
		r.header.Get("Location") != "/admin/api/apps/"+e.app.ClientID+"/revocation" {
		t.Fatalf("revoke all: %d %s", r.status, r.raw)
	}
	if got := e.info(conns[1].json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatal("a token of a revoked app still works")
	}
	if r := call(http.MethodGet, "/apps?limit=10", key); r.json["data"].([]any)[0].(map[string]any)["connections"] != float64(0) {
		t.Fatalf("apps after revoke all: %s", r.raw)
	}
	eventually(t, "the clean-up to finish", func() bool {
		r := call(http.MethodGet, "/apps/"+e.app.ClientID+"/revocation", key)
		return r.status == http.StatusOK && r.json["state"] == "done" && r.json["revoked"] == float64(2)
	})
	if r := call(http.MethodDelete, "/apps/nope/connections", key); r.status != http.StatusNotFound {
		t.Fatalf("revoke all of an unknown app: %d", r.status)
	}
	if r := call(http.MethodGet, "/apps/"+store.NewID()+"/revocation", key); r.status != http.StatusNotFound {
		t.Fatalf("revocation of an unknown app: %d", r.status)
	}
	r = call(http.MethodGet, "/audit?limit=3", key)
	events := r.json["data"].([]any)
	if len(events) != 3 || events[0].(map[string]any)["type"] != "revoke" || r.json["next_before"] == nil || r.json["next_cursor"] != r.json["next_before"] {
		t.Fatalf("audit: %s", r.raw)
	}
	if r := call(http.MethodGet, "/audit?before=garbage", key); r.status != http.StatusBadRequest {
		t.Fatalf("bad audit cursor: %d", r.status)
	}
	r2 := call(http.MethodGet, "/audit?limit=3&before="+url.QueryEscape(r.json["next_before"].(string)), key)
	if len(r2.json["data"].([]any)) != 3 || r2.json["data"].([]any)[0].(map[string]any)["id"] == events[0].(map[string]any)["id"] {
		t.Fatalf("audit page 2: %s", r2.raw)
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestResourceGrantAnswers (issue 17): a connection whose read:stocks
// reaches warehouse W1 only answers so in every dialect: the Multivende
// scopes object {"all": false, "W1": true} (and {"all": true} for the
// other scopes), the RFC 6749 scope names with RFC 9396
// authorization_details, introspection and /api/d/info the same; the
// resource middleware lets W1 through and refuses W2 with 403
// insufficient_scope, while a grant of all covers any warehouse.
func TestResourceGrantAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	app, secret, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Bodegas", RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:stocks", "write:stocks", "read:products"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	approve := func(g store.ResourceGrant) string {
		t.Helper()
		_, code, err := e.st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: e.merchant.ID, RedirectURI: appRedirect,
			Scopes: []string{"read:stocks", "write:stocks", "read:products"}, Resources: g})
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	limited := store.ResourceGrant{"read:stocks": {"W1"}, "write:stocks": {"W1", "W3"}}

	// RFC 6749 dialect.
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {approve(limited)},
		"redirect_uri": {appRedirect}}, app.ClientID, secret)
	if r.status != http.StatusOK || r.json["scope"] != "read:stocks write:stocks read:products" {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	// (Members in the order json.Marshal gives a decoded object.)
	wantDetails := `[{"actions":["read:stocks","write:stocks"],"identifier":"W1","type":"warehouse"},` +
		`{"actions":["write:stocks"],"identifier":"W3","type":"warehouse"}]`
	if got, _ := json.Marshal(r.json["authorization_details"]); string(got) != wantDetails {
		t.Fatalf("authorization_details: %s", got)
	}
	access := r.json["access_token"].(string)
	intro := e.form("/oauth/introspect", url.Values{"token": {access}}, app.ClientID, secret)
	if got, _ := json.Marshal(intro.json["authorization_details"]); intro.json["active"] != true || string(got) != wantDetails {
		t.Fatalf("introspection: %s", intro.raw)
	}
	info := e.info(access)
	wantScopes := `{"read:products":{"all":true},"read:stocks":{"W1":true,"all":false},"write:stocks":{"W1":true,"W3":true,"all":false}}`
	if got, _ := json.Marshal(info.json["scopes"]); string(got) != wantScopes {
		t.Fatalf("/api/d/info scopes: %s", got)
	}
	if got, _ := json.Marshal(info.json["authorization_details"]); string(got) != wantDetails {
		t.Fatalf("/api/d/info authorization_details: %s", got)
	}

	// Multivende dialect: the scopes object says exactly what was granted.
	body, _ := json.Marshal(map[string]string{"client_id": app.ClientID, "client_secret": secret,
		"grant_type": "authorization_code", "code": approve(limited)})
	mv := e.postToken("/oauth/access-token", "application/json", string(body))
	if got, _ := json.Marshal(mv.json["scopes"]); mv.status != http.StatusOK || string(got) != wantScopes {
		t.Fatalf("the Multivende answer: %d %s", mv.status, mv.raw)
	}
	if mv.json["CreatedById"] != e.merchant.ID || mv.json["OwnerId"] != e.merchant.ID || info.json["CreatedById"] != e.merchant.ID ||
		info.json["OwnerId"] != e.merchant.ID {
		t.Fatalf("CreatedById and OwnerId: %s / %s", mv.raw, info.raw)
	}
	// And after a refresh, the same.
	body, _ = json.Marshal(map[string]string{"client_id": app.ClientID, "client_secret": secret,
		"grant_type": "refresh_token", "refresh_token": mv.json["refreshToken"].(string)})
	if again := e.postToken("/oauth/access-token", "application/json", string(body)); again.status != http.StatusOK {
		t.Fatalf("refresh: %s", again.raw)
	} else if got, _ := json.Marshal(again.json["scopes"]); string(got) != wantScopes {
		t.Fatalf("the refreshed answer's scopes: %s", got)
	}

	// A grant of all: no authorization_details, every scope {"all": true}.
	all := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {approve(nil)},
		"redirect_uri": {appRedirect}}, app.ClientID, secret)
	if _, ok := all.json["authorization_details"]; all.status != http.StatusOK || ok {
		t.Fatalf("a grant of all: %s", all.raw)
	}

	// The resource middleware, as an API team mounts it.
	gin.SetMode(gin.ReleaseMode)
	api := gin.New()
	verifier := resource.NewVerifier(e.st, store.NewAppCache(e.st, time.Minute))
	warehouse := func(r *http.Request) string { return strings.Split(r.URL.Path, "/")[2] } // /warehouses/{id}/stock
	api.GET("/warehouses/:id/stock", resource.Authenticate(verifier), resource.RequireResource("read:stocks", warehouse),
		func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	call := func(tok, w string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "/warehouses/"+w+"/stock", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		return rec.Code, rec.Header().Get("WWW-Authenticate")
	}
	if code, _ := call(access, "W1"); code != http.StatusOK {
		t.Fatalf("W1 with a W1 grant: %d", code)
	}
	if code, challenge := call(access, "W2"); code != http.StatusForbidden || challenge == "" {
		t.Fatalf("W2 with a W1 grant: %d %q", code, challenge)
	}
	if code, _ := call(all.json["access_token"].(string), "W2"); code != http.StatusOK {
		t.Fatalf("W2 with a grant of all: %d", code)
	}
	// The same with net/http: Handler, then ResourceHandler.
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !resource.Allows(r.Context(), "read:stocks", r.PathValue("id")) {
			t.Errorf("Allows disagrees with ResourceHandler on %s", r.PathValue("id"))
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("GET /w/{id}", resource.Handler(verifier, resource.ResourceHandler(ok, "read:stocks",
		func(r *http.Request) string { return r.PathValue("id") }), "read:stocks"))
	for w, want := range map[string]int{"W1": http.StatusOK, "W2": http.StatusForbidden} {
		req := httptest.NewRequest(http.MethodGet, "/w/"+w, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("net/http %s: %d, want %d", w, rec.Code, want)
		}
	}
	// A grant of all covers a warehouse the platform adds afterwards; a
	// grant of W1 does not.
	if _, err := e.st.SetResources(ctx, store.ResourceSet{MerchantID: e.merchant.ID, Type: "warehouse",
		Resources: []store.Resource{{ID: "W1", Name: "Central"}, {ID: "W9", Name: "Nueva"}}, By: store.ActorCLI,
		Scopes: e.cfg.Scopes.BoundTo("warehouse")}, e.cfg.ResourceTypes); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(all.json["access_token"].(string), "W9"); code != http.StatusOK {
		t.Fatalf("a warehouse added after a grant of all: %d", code)
	}
	if code, _ := call(access, "W9"); code != http.StatusForbidden {
		t.Fatalf("a warehouse added after a grant of W1: %d", code)
	}
}

// TestAuthorizationDetailsRequest: an app may ask for specific resources
// with RFC 9396 authorization_details on the authorize request; they reach
// the consent page as its preselection, by scope. A malformed or
// inconsistent one is answered invalid_authorization_details at the
// redirect URI. The metadata lists the types enlace takes.
func TestAuthorizationDetailsRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, _, err := e.st.CreateApp(context.Background(), store.AppSpec{Name: "Bodegas", RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:stocks", "write:stocks", "read:products"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	query := func(details string) string {
		return "/apps/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {appRedirect},
			"scope": {"read:stocks write:stocks read:products"}, "state": {"s1"}, "authorization_details": {details}}.Encode()
	}
	req := httptest.NewRequest(http.MethodGet, query(`[{"type":"warehouse","actions":["read:stocks"],"identifier":"W1"},
		{"type":"warehouse","identifier":"W2"}, {"type":"warehouse"}]`), nil)
	ar, err := e.srv.ParseAuthorize(req)
	want := store.ResourceGrant{"read:stocks": {"W1", "W2"}, "write:stocks": {"W2"}}
	if err != nil || !reflect.DeepEqual(ar.Preselect, want) {
		t.Fatalf("preselect: %+v %v", ar, err)
	}
	for name, details := range map[string]string{
		"not JSON":           `[{"type":`,
		"not an array":       `{"type":"warehouse"}`,
		"empty":              `[]`,
		"unknown type":       `[{"type":"galaxy","identifier":"W1"}]`,
		"a scope not asked":  `[{"type":"warehouse","actions":["write:products"],"identifier":"W1"}]`,
		"a scope of another": `[{"type":"warehouse","actions":["read:products"],"identifier":"W1"}]`,
		"a duplicate member": `[{"type":"warehouse","type":"channel"}]`,
		"a long identifier":  `[{"type":"warehouse","identifier":"` + strings.Repeat("w", 200) + `"}]`,
	} {
		p := e.browser().get(query(details))
		u, _ := url.Parse(p.location)
		if p.status != http.StatusFound || u.Query().Get("error") != "invalid_authorization_details" || u.Query().Get("state") != "s1" {
			t.Errorf("%s: %d %s", name, p.status, p.location)
		}
	}
	md := e.get("/.well-known/oauth-authorization-server")
	if got, _ := json.Marshal(md.json["authorization_details_types_supported"]); string(got) != `["warehouse","channel"]` {
		t.Fatalf("authorization_details_types_supported: %s", got)
	}
}

// TestNarrowResourcesAPI: an admin narrows a connection through the API
// (PUT /admin/api/connections/{id}/resources); the token refuses W1 at
// its next check; a widening, a resource that is not the merchant's, a
// scope not bound to a type, a malformed body and an unknown connection
// are refused with nothing written. A resource the platform removes from
// the merchant (PUT merchants/{id}/resources/warehouse) leaves the grant
// at once.
func TestNarrowResourcesAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	key, _, err := e.st.CreateAdminKey(ctx, "platform", 0)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) response {
		t.Helper()
		req, _ := http.NewRequest(method, e.url+"/admin/api"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		return e.send(req)
	}
	if r := call(http.MethodPut, "/merchants/"+e.merchant.ID+"/resources/warehouse",
		`[{"id":"W1","name":"Bodega Central"},{"id":"W2","name":"Bodega Norte"},{"id":"W3","name":"Bodega Sur"}]`); r.status != http.StatusOK {
		t.Fatalf("set the warehouses: %d %s", r.status, r.raw)
	}
	app, secret, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Bodegas", RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:stocks", "read:products"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	conn, code, err := e.st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: e.merchant.ID, RedirectURI: appRedirect,
		Scopes: []string{"read:stocks", "read:products"}, Resources: store.ResourceGrant{"read:stocks": {"W1", "W2"}}})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect}},
		app.ClientID, secret).json["access_token"].(string)
	path := "/connections/" + conn.ID + "/resources"
	before := redistest.Snapshot(t, e.rdb)
	for name, body := range map[string]string{
		"wider":               `{"read:stocks":["W1","W3"]}`,
		"not the merchant's":  `{"read:stocks":["W9"]}`,
		"not bound to a type": `{"read:products":["W1"]}`,
		"empty choice":        `{"read:stocks":[]}`,
		"no scope":            `{}`,
		"not an object":       `["W1"]`,
		"duplicate member":    `{"read:stocks":["W1"],"read:stocks":["W2"]}`,
	} {
		if r := call(http.MethodPut, path, body); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	if r := call(http.MethodPut, "/connections/nope/resources", `{"read:stocks":["W1"]}`); r.status != http.StatusNotFound {
		t.Errorf("an unknown connection: %d %s", r.status, r.raw)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	r := call(http.MethodPut, path, `{"read:stocks":["W2"]}`)
	if got, _ := json.Marshal(r.json["resources"]); r.status != http.StatusOK || string(got) != `{"read:stocks":["W2"]}` {
		t.Fatalf("narrow: %d %s", r.status, r.raw)
	}
	details := func() string {
		got, _ := json.Marshal(e.info(tok).json["scopes"].(map[string]any)["read:stocks"])
		return string(got)
	}
	if got := details(); got != `{"W2":true,"all":false}` {
		t.Fatalf("the next check after narrowing: %s", got)
	}
	// The platform drops W2: the grant of read:stocks reaches nothing.
	if r := call(http.MethodPut, "/merchants/"+e.merchant.ID+"/resources/warehouse",
		`[{"id":"W1","name":"Bodega Central"},{"id":"W3","name":"Bodega Sur"}]`); r.status != http.StatusOK {
		t.Fatalf("drop W2: %d %s", r.status, r.raw)
	}
	if got := details(); got != `{"all":false}` {
		t.Fatalf("after the platform removed W2: %s", got)
	}
}

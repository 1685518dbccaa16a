package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestAdminAPIReviewAndSecrets: GET apps/{id}, the review of a developer's
// app, secret rotation and the developers' list over the admin API; every
// refusal (no key, bad input, an app not in review, a public app, an
// unknown one) writes nothing (issue 15).
func TestAdminAPIReviewAndSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	key, _, err := e.st.CreateAdminKey(ctx, "ops", 0)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, key, body string) response {
		t.Helper()
		req, _ := http.NewRequest(method, e.url+"/admin/api"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		return e.send(req)
	}
	dev, err := e.st.CreateDeveloper(ctx, "dev@sync.example.com", "Dev", password)
	if err != nil {
		t.Fatal(err)
	}
	app, oldSecret, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Sync", Owner: dev.ID, RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:products"}, TestMerchants: []string{e.merchant.ID},
		Profile: store.Profile{Publisher: "Sync SpA", Homepage: "https://sync.example.com"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Mobile", Public: true, RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:products"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	id := app.ClientID

	before := redistest.Snapshot(t, e.rdb)
	for _, c := range []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"review without a key", http.MethodPost, "/apps/" + id + "/review", "", `{"decision":"approve"}`, http.StatusUnauthorized},
		{"rotate without a key", http.MethodPost, "/apps/" + id + "/rotate-secret", "", ``, http.StatusUnauthorized},
		{"show without a key", http.MethodGet, "/apps/" + id, "", ``, http.StatusUnauthorized},
		{"developers without a key", http.MethodGet, "/developers", "", ``, http.StatusUnauthorized},
		{"review with a wrong key", http.MethodPost, "/apps/" + id + "/review", "ek-" + store.NewSecret(), `{"decision":"approve"}`, http.StatusUnauthorized},
		{"not in review", http.MethodPost, "/apps/" + id + "/review", key, `{"decision":"approve"}`, http.StatusConflict},
		{"unknown app", http.MethodPost, "/apps/nope/review", key, `{"decision":"approve"}`, http.StatusNotFound},
		{"no body", http.MethodPost, "/apps/" + id + "/review", key, ``, http.StatusBadRequest},
		{"bad decision", http.MethodPost, "/apps/" + id + "/review", key, `{"decision":"maybe"}`, http.StatusBadRequest},
		{"unknown field", http.MethodPost, "/apps/" + id + "/review", key, `{"decision":"approve","force":true}`, http.StatusBadRequest},
		{"twice the decision", http.MethodPost, "/apps/" + id + "/review", key, `{"decision":"reject","decision":"approve"}`, http.StatusBadRequest},
		{"not JSON", http.MethodPost, "/apps/" + id + "/review", key, `decision=approve`, http.StatusBadRequest},
		{"overlap over 7 days", http.MethodPost, "/apps/" + id + "/rotate-secret", key, `{"overlap":"169h"}`, http.StatusBadRequest},
		{"overlap not a duration", http.MethodPost, "/apps/" + id + "/rotate-secret", key, `{"overlap":"a day"}`, http.StatusBadRequest},
		{"negative overlap", http.MethodPost, "/apps/" + id + "/rotate-secret", key, `{"overlap":"-1h"}`, http.StatusBadRequest},
		{"rotate a public app", http.MethodPost, "/apps/" + pub.ClientID + "/rotate-secret", key, ``, http.StatusBadRequest},
		{"rotate an unknown app", http.MethodPost, "/apps/nope/rotate-secret", key, ``, http.StatusNotFound},
		{"show an unknown app", http.MethodGet, "/apps/nope", key, ``, http.StatusNotFound},
		{"bad developers limit", http.MethodGet, "/developers?limit=0", key, ``, http.StatusBadRequest},
	} {
		r := call(c.method, c.path, c.key, c.body)
		if r.status != c.status || r.json["error"] == nil || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: want %d with an error, got %d %s", c.name, c.status, r.status, r.raw)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	// GET apps/{id}: the app as `enlace app show` shows it, no secret.
	r := call(http.MethodGet, "/apps/"+id, key, "")
	owner, _ := r.json["owner"].(map[string]any)
	tms, _ := r.json["test_merchants"].([]any)
	if r.status != http.StatusOK || r.json["status"] != "development" || owner["id"] != dev.ID || owner["email"] != "dev@sync.example.com" ||
		r.json["publisher"] != "Sync SpA" || r.json["homepage"] != "https://sync.example.com" || len(tms) != 1 ||
		tms[0].(map[string]any)["email"] != "ana@tienda.cl" || r.json["previous_secret_expires_at"] != nil {
		t.Fatalf("GET app: %d %s", r.status, r.raw)
	}
	if strings.Contains(r.raw, "secret\":\"") || strings.Contains(r.raw, app.SecretDigest) {
		t.Fatalf("GET app shows a secret: %s", r.raw)
	}
	// The OpenID Connect settings: the algorithm in force, the default
	// included, and the post-logout redirect URIs ([] for none).
	if r.json["id_token_signed_response_alg"] != "RS256" || !strings.Contains(r.raw, `"post_logout_redirect_uris":[]`) {
		t.Fatalf("GET app, the OpenID Connect defaults: %s", r.raw)
	}
	if _, err := e.st.UpdateApp(ctx, id, store.AppUpdate{IDTokenAlg: new(store.AlgES256),
		PostLogoutRedirectURIs: []string{"https://sync.example.com/bye"}}, e.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if r := call(http.MethodGet, "/apps/"+id, key, ""); r.json["id_token_signed_response_alg"] != "ES256" ||
		!strings.Contains(r.raw, `"post_logout_redirect_uris":["https://sync.example.com/bye"]`) {
		t.Fatalf("GET app, the OpenID Connect settings: %s", r.raw)
	}
	// The security settings: the defaults, then each, the rules in force
	// under their RFC names.
	if !strings.Contains(r.raw, `"require_pushed_authorization_requests":false,"dpop_bound_access_tokens":false,"fapi2":false,`+
		`"token_endpoint_auth_method":"client_secret_basic","jwks":null,"jwks_uri":""`) {
		t.Fatalf("GET app, the security defaults: %s", r.raw)
	}
	if r := call(http.MethodGet, "/apps/"+pub.ClientID, key, ""); r.json["token_endpoint_auth_method"] != "none" {
		t.Fatalf("GET app, a public app's method: %s", r.raw)
	}
	jwks := settingsPublicJWKS(t)
	if _, err := e.st.UpdateApp(ctx, id, store.AppUpdate{RequireDPoP: new(true), AuthMethod: new(store.AuthPrivateKeyJWT),
		JWKS: new(jwks)}, e.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	r = call(http.MethodGet, "/apps/"+id, key, "")
	keys, _ := r.json["jwks"].(map[string]any)["keys"].([]any)
	if r.json["require_pushed_authorization_requests"] != false || r.json["dpop_bound_access_tokens"] != true || r.json["fapi2"] != false ||
		r.json["token_endpoint_auth_method"] != "private_key_jwt" || len(keys) != 2 || keys[1].(map[string]any)["kid"] != "ec-1" ||
		r.json["jwks_uri"] != "" || !strings.Contains(r.raw, `"jwks":`+jwks) {
		t.Fatalf("GET app, private_key_jwt with DPoP: %s", r.raw)
	}
	if _, err := e.st.UpdateApp(ctx, id, store.AppUpdate{FAPI2: new(true), RequireDPoP: new(false), JWKS: new(""),
		JWKSURI: new("https://sync.example.com/jwks")}, e.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if r := call(http.MethodGet, "/apps/"+id, key, ""); r.json["require_pushed_authorization_requests"] != true ||
		r.json["dpop_bound_access_tokens"] != true || r.json["fapi2"] != true || r.json["jwks"] != nil ||
		r.json["jwks_uri"] != "https://sync.example.com/jwks" {
		t.Fatalf("GET app, fapi2 with a jwks_uri: %s", r.raw)
	}
	if _, err := e.st.UpdateApp(ctx, id, store.AppUpdate{FAPI2: new(false), AuthMethod: new(""), JWKSURI: new("")},
		e.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	// The list carries status, owner and profile too.
	r = call(http.MethodGet, "/apps?limit=10", key, "")
	var listed map[string]any
	for _, a := range r.json["data"].([]any) {
		if a.(map[string]any)["client_id"] == id {
			listed = a.(map[string]any)
		}
	}
	if listed == nil || listed["status"] != "development" || listed["owner"] != dev.ID || listed["publisher"] != "Sync SpA" {
		t.Fatalf("GET apps: %s", r.raw)
	}
	if first := r.json["data"].([]any)[0].(map[string]any); first["status"] != "published" || first["owner"] != nil {
		t.Fatalf("an operator's app in GET apps: %v", first)
	}

	// Review: a rejection needs a reason; with one the app goes back.
	if err := e.st.SubmitApp(ctx, id, store.ActorDeveloper(dev.ID)); err != nil {
		t.Fatal(err)
	}
	before = redistest.Snapshot(t, e.rdb)
	for _, body := range []string{`{"decision":"reject"}`, `{"decision":"reject","reason":"  "}`,
		`{"decision":"reject","reason":"` + strings.Repeat("x", 1001) + `"}`, `{"decision":"approve","reason":"fine"}`} {
		if r := call(http.MethodPost, "/apps/"+id+"/review", key, body); r.status != http.StatusBadRequest {
			t.Errorf("review %.60s: %d %s", body, r.status, r.raw)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	r = call(http.MethodPost, "/apps/"+id+"/review", key, `{"decision":"reject","reason":"The homepage answers 404."}`)
	if r.status != http.StatusOK || r.json["status"] != "development" || r.json["review_note"] != "The homepage answers 404." {
		t.Fatalf("reject: %d %s", r.status, r.raw)
	}
	if err := e.st.SubmitApp(ctx, id, store.ActorDeveloper(dev.ID)); err != nil {
		t.Fatal(err)
	}
	r = call(http.MethodPost, "/apps/"+id+"/review", key, `{"decision":"approve"}`)
	if r.status != http.StatusOK || r.json["status"] != "published" {
		t.Fatalf("approve: %d %s", r.status, r.raw)
	}
	if r := call(http.MethodPost, "/apps/"+id+"/review", key, `{"decision":"approve"}`); r.status != http.StatusConflict {
		t.Fatalf("approving a published app: %d %s", r.status, r.raw)
	}
	events, _, err := e.st.ListAudit(ctx, store.AuditFilter{ClientID: id}, "", 5)
	if err != nil || len(events) == 0 || events[0].Detail != "review: approved" || events[0].Actor != "admin-key:ops" {
		t.Fatalf("the review's audit event: %+v %v", events, err)
	}

	// Rotation: both secrets work during the overlap, then the old stops.
	r = call(http.MethodPost, "/apps/"+id+"/rotate-secret", key, `{"overlap":"1h"}`)
	secret, _ := r.json["client_secret"].(string)
	until, perr := time.Parse(time.RFC3339Nano, r.json["previous_secret_expires_at"].(string))
	if r.status != http.StatusOK || len(secret) < 43 || perr != nil || until.Sub(e.clock.Now()) > time.Hour || until.Sub(e.clock.Now()) < 59*time.Minute {
		t.Fatalf("rotate-secret: %d %s", r.status, r.raw)
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Fatal("the new secret is in the log")
	}
	for _, s := range []string{secret, oldSecret} {
		if tok := e.clientCredentialsCheck(id, s); tok != http.StatusOK {
			t.Fatalf("during the overlap a secret is refused: %d", tok)
		}
	}
	if r := call(http.MethodGet, "/apps/"+id, key, ""); r.json["previous_secret_expires_at"] == nil || strings.Contains(r.raw, secret) {
		t.Fatalf("GET app after the rotation: %s", r.raw)
	}
	e.clock.Add(61 * time.Minute)
	if tok := e.clientCredentialsCheck(id, oldSecret); tok != http.StatusUnauthorized {
		t.Fatalf("past the overlap the old secret: %d", tok)
	}
	if tok := e.clientCredentialsCheck(id, secret); tok != http.StatusOK {
		t.Fatalf("past the overlap the new secret: %d", tok)
	}
	// An empty body rotates with the default overlap (24 h).
	r = call(http.MethodPost, "/apps/"+id+"/rotate-secret", key, "")
	until, _ = time.Parse(time.RFC3339Nano, r.json["previous_secret_expires_at"].(string))
	if r.status != http.StatusOK || until.Sub(e.clock.Now()) < 23*time.Hour || until.Sub(e.clock.Now()) > 24*time.Hour {
		t.Fatalf("rotate-secret with the default overlap: %d %s", r.status, r.raw)
	}

	// The developers, paged like the other lists.
	if _, err := e.st.CreateDeveloper(ctx, "two@sync.example.com", "Two", password); err != nil {
		t.Fatal(err)
	}
	r = call(http.MethodGet, "/developers?limit=1", key, "")
	data, _ := r.json["data"].([]any)
	if r.status != http.StatusOK || r.json["total"] != float64(2) || len(data) != 1 || data[0].(map[string]any)["email"] != "dev@sync.example.com" ||
		r.json["next_cursor"] == nil {
		t.Fatalf("developers page 1: %d %s", r.status, r.raw)
	}
	r = call(http.MethodGet, "/developers?limit=1&cursor="+r.json["next_cursor"].(string), key, "")
	if data, _ := r.json["data"].([]any); len(data) != 1 || data[0].(map[string]any)["email"] != "two@sync.example.com" || r.json["next_cursor"] != nil {
		t.Fatalf("developers page 2: %s", r.raw)
	}
	if strings.Contains(r.raw, "password") {
		t.Fatalf("developers list shows a password hash: %s", r.raw)
	}
}

// clientCredentialsCheck is the status of an RFC 7009 revocation of a
// token that does not exist, made with these client credentials: 200 when
// they authenticate, 401 when not.
func (e *testEnv) clientCredentialsCheck(clientID, secret string) int {
	e.t.Helper()
	return e.form("/oauth/revoke", url.Values{"token": {"at-nothing"}}, clientID, secret).status
}

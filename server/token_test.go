package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestTokenEndpointRefusals: every bad request is an RFC 6749 JSON error
// with the right status and code, and changes nothing in Redis.
func TestTokenEndpointRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, otherSecret := e.newApp("Otra app", "https://other.example.com/cb")
	code := e.code(nil)
	pkceVerifier := oauth2.GenerateVerifier()
	pkceCode := e.code(url.Values{"code_challenge": {oauth2.S256ChallengeFromVerifier(pkceVerifier)},
		"code_challenge_method": {"S256"}})
	live := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {e.code(nil)}},
		e.app.ClientID, e.secret)
	refresh := live.json["refresh_token"].(string)

	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const (
		formCT = "application/x-www-form-urlencoded"
		jsonCT = "application/json"
	)
	id, secret := e.app.ClientID, e.secret
	cases := []struct {
		name, path, ct, body string
		basic                []string
		status               int
		code                 string
	}{
		{"malformed JSON", "/oauth/access-token", jsonCT, `{"client_id":`, nil, 400, "invalid_request"},
		{"JSON array", "/oauth/access-token", jsonCT, `["client_id"]`, nil, 400, "invalid_request"},
		{"JSON number field", "/oauth/access-token", jsonCT, `{"client_id":"` + id + `","client_secret":"` + secret + `","grant_type":"authorization_code","code":42}`, nil, 400, "invalid_request"},
		{"JSON trailing data", "/oauth/access-token", jsonCT, `{"grant_type":"authorization_code"} {}`, nil, 400, "invalid_request"},
		{"JSON on the RFC endpoint", "/oauth/token", jsonCT, `{"client_id":"` + id + `","client_secret":"` + secret + `","grant_type":"authorization_code","code":"` + code + `"}`, nil, 400, "invalid_request"},
		{"malformed form", "/oauth/token", formCT, "grant_type=authorization_code&code=%zz", []string{id, secret}, 400, "invalid_request"},
		{"no content type", "/oauth/token", "", form("grant_type", "authorization_code", "code", code), []string{id, secret}, 400, "invalid_request"},
		{"text/plain", "/oauth/token", "text/plain", form("grant_type", "authorization_code", "code", code), []string{id, secret}, 400, "invalid_request"},
		{"missing grant_type", "/oauth/token", formCT, form("code", code), []string{id, secret}, 400, "invalid_request"},
		{"unknown grant_type", "/oauth/token", formCT, form("grant_type", "password", "username", "a", "password", "b"), []string{id, secret}, 400, "unsupported_grant_type"},
		{"missing code", "/oauth/token", formCT, form("grant_type", "authorization_code"), []string{id, secret}, 400, "invalid_request"},
		{"missing refresh_token", "/oauth/token", formCT, form("grant_type", "refresh_token"), []string{id, secret}, 400, "invalid_request"},
		{"repeated code", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code, "code", code), []string{id, secret}, 400, "invalid_request"},
		{"invalid UTF-8", "/oauth/token", formCT, "grant_type=authorization_code&code=%ff%fe", []string{id, secret}, 400, "invalid_request"},
		{"no client authentication", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code), nil, 400, "invalid_client"},
		{"unknown client (post)", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code, "client_id", "nope", "client_secret", secret), nil, 400, "invalid_client"},
		{"wrong secret (post)", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code, "client_id", id, "client_secret", secret+"x"), nil, 400, "invalid_client"},
		{"missing secret (post)", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code, "client_id", id), nil, 400, "invalid_client"},
		{"wrong secret (basic)", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code), []string{id, "wrong"}, 401, "invalid_client"},
		{"unknown client (basic)", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code), []string{"nope", secret}, 401, "invalid_client"},
		{"wrong secret (JSON)", "/oauth/access-token", jsonCT, `{"client_id":"` + id + `","client_secret":"nope","grant_type":"authorization_code","code":"` + code + `"}`, nil, 400, "invalid_client"},
		{"two auth methods", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code, "client_secret", secret), []string{id, secret}, 400, "invalid_request"},
		{"code of another app", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code), []string{other.ClientID, otherSecret}, 400, "invalid_grant"},
		{"unknown code", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", "ac-not-a-code"), []string{id, secret}, 400, "invalid_grant"},
		{"tampered code", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code[:len(code)-2]+"AA"), []string{id, secret}, 400, "invalid_grant"},
		{"foreign redirect_uri", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code, "redirect_uri", "https://evil.example.net/cb"), []string{id, secret}, 400, "invalid_grant"},
		{"missing PKCE verifier", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", pkceCode), []string{id, secret}, 400, "invalid_grant"},
		{"wrong PKCE verifier", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", pkceCode, "code_verifier", oauth2.GenerateVerifier()), []string{id, secret}, 400, "invalid_grant"},
		{"verifier without challenge", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", code, "code_verifier", pkceVerifier), []string{id, secret}, 400, "invalid_grant"},
		{"refresh token of another app", "/oauth/token", formCT, form("grant_type", "refresh_token", "refresh_token", refresh), []string{other.ClientID, otherSecret}, 400, "invalid_grant"},
		{"refresh widening scope", "/oauth/token", formCT, form("grant_type", "refresh_token", "refresh_token", refresh, "scope", "read:products write:products"), []string{id, secret}, 400, "invalid_scope"},
		{"code as refresh token", "/oauth/token", formCT, form("grant_type", "refresh_token", "refresh_token", code), []string{id, secret}, 400, "invalid_grant"},
		{"oversized body", "/oauth/token", formCT, form("grant_type", "authorization_code", "code", strings.Repeat("a", 70<<10)), []string{id, secret}, 400, "invalid_request"},
	}
	before := redistest.Snapshot(t, e.rdb)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.postToken(c.path, c.ct, c.body, c.basic...)
			assertOAuthError(t, r, c.status, c.code)
			if c.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("401 without a Basic challenge")
			}
		})
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	// After all that, the codes and the refresh token still work.
	for _, v := range []url.Values{
		{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect}},
		{"grant_type": {"authorization_code"}, "code": {pkceCode}, "code_verifier": {pkceVerifier}},
		{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "scope": {"read:products"}},
	} {
		if r := e.form("/oauth/token", v, id, secret); r.status != http.StatusOK {
			t.Fatalf("%v after refusals: %s", v, r.raw)
		}
	}
	if r := e.send(mustRequest(http.MethodGet, e.url+"/oauth/token")); r.status != http.StatusMethodNotAllowed ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET on the token endpoint: %d %s", r.status, r.raw)
	}
}

func mustRequest(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

// TestCodeReuseAndExpiry: a second exchange fails with invalid_grant (and
// revokes what the first issued); an expired code fails.
func TestCodeReuseAndExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code := e.code(nil)
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}}
	first := e.form("/oauth/token", v, e.app.ClientID, e.secret)
	if first.status != http.StatusOK {
		t.Fatal(first.raw)
	}
	assertOAuthError(t, e.form("/oauth/token", v, e.app.ClientID, e.secret), 400, "invalid_grant")
	if r := e.info(first.json["access_token"].(string)); r.status != http.StatusUnauthorized {
		t.Fatalf("a reused code must revoke the tokens it issued: %d", r.status)
	}

	code = e.code(nil)
	e.clock.Add(24*time.Hour + time.Second)
	assertOAuthError(t, e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}},
		e.app.ClientID, e.secret), 400, "invalid_grant")
}

// TestInfo: /api/d/info answers 401 with a JSON error for a missing,
// malformed, expired or replaced token, and accepts "bearer" in any case.
func TestInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {e.code(nil)}},
		e.app.ClientID, e.secret)
	access := r.json["access_token"].(string)

	req := mustRequest(http.MethodGet, e.url+"/api/d/info")
	req.Header.Set("Authorization", "bearer "+access)
	ok := e.send(req)
	if ok.status != http.StatusOK {
		t.Fatalf("lower-case bearer: %d %s", ok.status, ok.raw)
	}
	var body struct {
		App      struct{ Name string }     `json:"app"`
		Merchant struct{ Email string }    `json:"merchant"`
		Scopes   map[string]map[string]any `json:"scopes"`
	}
	_ = json.Unmarshal([]byte(ok.raw), &body)
	if body.App.Name != "Sincronizador" || body.Merchant.Email != e.merchant.Email || len(body.Scopes) != 2 {
		t.Fatalf("info body: %s", ok.raw)
	}

	check := func(name string, r response) {
		t.Helper()
		if r.status != http.StatusUnauthorized || r.json["error"] != "invalid_token" ||
			!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") ||
			!strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s: %d %s", name, r.status, r.raw)
		}
	}
	check("missing", e.info(""))
	check("garbage", e.info("garbage"))
	check("refresh token", e.info(r.json["refresh_token"].(string)))
	check("tampered", e.info(access[:len(access)-3]+"abc"))
	basic := mustRequest(http.MethodGet, e.url+"/api/d/info")
	basic.SetBasicAuth(e.app.ClientID, e.secret)
	check("basic auth", e.send(basic))

	refreshed := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.json["refresh_token"].(string)}},
		e.app.ClientID, e.secret)
	check("replaced", e.info(access))
	e.clock.Add(6*time.Hour + time.Second)
	check("expired", e.info(refreshed.json["access_token"].(string)))
}

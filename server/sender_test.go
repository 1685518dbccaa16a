package server_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	enlace "github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// Issue 19's evidence: pushed authorization requests, DPoP-bound tokens
// and private_key_jwt client authentication, driven end to end with proofs
// and assertions that go-jose/v4 builds as a client library would, and
// every refusal the issue names.

// holder is a client's key pair: it signs DPoP proofs and client
// assertions.
type holder struct {
	alg jose.SignatureAlgorithm
	key crypto.Signer
	kid string
}

func newHolder(t *testing.T, alg jose.SignatureAlgorithm) *holder {
	t.Helper()
	var k crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256, jose.PS256:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &holder{alg: alg, key: k, kid: store.NewSecret()[:8]}
}

// public is the holder's public JWK.
func (h *holder) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: h.key.Public(), KeyID: h.kid, Algorithm: string(h.alg), Use: "sig"}
}

// jwks is the holder's public key as a registered JWK Set.
func (h *holder) jwks(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{h.public()}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// thumbprint is the holder key's RFC 7638 thumbprint, as cnf.jkt.
func (h *holder) thumbprint(t *testing.T) string {
	t.Helper()
	pub := h.public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// proof is a DPoP proof for method and u at time now; change alters its
// claims before it is signed.
func (h *holder) proof(t *testing.T, now time.Time, method, u string, change ...func(map[string]any)) string {
	t.Helper()
	claims := map[string]any{"jti": store.NewSecret(), "htm": method, "htu": u, "iat": now.Unix()}
	for _, c := range change {
		c(claims)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: h.alg, Key: h.key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertion is a private_key_jwt client assertion of clientID for aud.
func (h *holder) assertion(t *testing.T, now time.Time, clientID, aud string, change ...func(map[string]any)) string {
	t.Helper()
	claims := map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": store.NewSecret(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	for _, c := range change {
		c(claims)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: h.alg, Key: jose.JSONWebKey{Key: h.key, KeyID: h.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ath is a proof's hash of an access token.
func ath(token string) func(map[string]any) {
	return func(c map[string]any) { c["ath"] = base64.RawURLEncoding.EncodeToString(sha256Sum(token)) }
}

func sha256Sum(s string) []byte {
	h := crypto.SHA256.New()
	h.Write([]byte(s))
	return h.Sum(nil)
}

// request posts a form to base+path with extra headers.
func (e *testEnv) request(base, method, path string, v url.Values, header map[string]string) response {
	e.t.Helper()
	var body *strings.Reader
	if v != nil {
		body = strings.NewReader(v.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, base+path, body)
	if v != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, val := range header {
		req.Header.Set(k, val)
	}
	return e.send(req)
}

// securedApp registers an app with the given security settings.
func (e *testEnv) securedApp(public bool, sec store.Security, scopes ...string) (*store.App, string) {
	e.t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"read:products", "write:products", "read:checkouts"}
	}
	app, secret, err := e.st.CreateApp(context.Background(), store.AppSpec{
		Name: "Segura", RedirectURIs: []string{appRedirect}, Scopes: scopes, Public: public, Security: sec,
	}, e.cfg.Scopes.Names())
	if err != nil {
		e.t.Fatal(err)
	}
	return app, secret
}

// push sends an authorization request to /oauth/par.
func (e *testEnv) push(v url.Values, header map[string]string, basic ...string) response {
	e.t.Helper()
	if len(basic) == 2 {
		header = withBasic(header, basic[0], basic[1])
	}
	return e.request(e.url, http.MethodPost, "/oauth/par", v, header)
}

func withBasic(h map[string]string, id, secret string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	out["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
	return out
}

// consentCode runs the browser side of an authorization at authorize (a
// path) and returns the code.
func (e *testEnv) consentCode(authorize string, granted ...string) string {
	e.t.Helper()
	b := e.browser()
	p := b.loginAndConsentPage(authorize)
	u := b.approve(authorize, p, granted...)
	code := u.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code in %s", u)
	}
	return code
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_GW1gFWFOEjXk-0123456789"

func authorizeParams(clientID string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {appRedirect},
		"scope": {"read:products read:checkouts"}, "state": {"st"},
		"code_challenge": {store.S256(verifier)}, "code_challenge_method": {"S256"}}
}

func TestPushedAuthorizationRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, otherSecret := e.newApp("Otra", appRedirect)

	// Pushed, with the app's secret: 201, a one-use request_uri for 60 s.
	r := e.push(authorizeParams(e.app.ClientID), nil, e.app.ClientID, e.secret)
	if r.status != http.StatusCreated || r.json["expires_in"] != float64(60) ||
		!strings.HasPrefix(r.json["request_uri"].(string), "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("push: %d %s", r.status, r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("push Cache-Control %q", r.header.Get("Cache-Control"))
	}
	requestURI := r.json["request_uri"].(string)
	authorize := "/apps/authorize?" + url.Values{"client_id": {e.app.ClientID}, "request_uri": {requestURI}}.Encode()

	// Another app cannot use it.
	b := e.browser()
	if p := b.get("/apps/authorize?" + url.Values{"client_id": {other.ClientID}, "request_uri": {requestURI}}.Encode()); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, "expiró o ya se usó") {
		t.Fatalf("another app's request_uri: %d %s", p.status, p.location)
	}
	code := e.consentCode(authorize, "read:products")
	tok := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {verifier}}, e.app.ClientID, e.secret)
	if tok.status != http.StatusOK || tok.json["scope"] != "read:products" {
		t.Fatalf("exchange: %d %s", tok.status, tok.raw)
	}
	// Decided: the request_uri starts nothing more.
	if p := e.browser().get(authorize); p.status != http.StatusBadRequest || !strings.Contains(p.body, "expiró o ya se usó") {
		t.Fatalf("reused request_uri: %d %s", p.status, p.location)
	}

	// One not presented within its 60 s is gone.
	r = e.push(authorizeParams(e.app.ClientID), nil, e.app.ClientID, e.secret)
	late := "/apps/authorize?" + url.Values{"client_id": {e.app.ClientID}, "request_uri": {r.json["request_uri"].(string)}}.Encode()
	e.clock.Add(61 * time.Second)
	if p := e.browser().get(late); p.status != http.StatusBadRequest {
		t.Fatalf("expired request_uri: %d %s", p.status, p.location)
	}
	// Presented, it waits 30 minutes for the merchant, not longer.
	r = e.push(authorizeParams(e.app.ClientID), nil, e.app.ClientID, e.secret)
	slow := "/apps/authorize?" + url.Values{"client_id": {e.app.ClientID}, "request_uri": {r.json["request_uri"].(string)}}.Encode()
	if p := e.browser().get(slow); p.status != http.StatusFound {
		t.Fatalf("presenting a pushed request: %d %s", p.status, p.location)
	}
	e.clock.Add(29 * time.Minute)
	if p := e.browser().get(slow); p.status != http.StatusFound {
		t.Fatalf("a presented request after 29 minutes: %d %s", p.status, p.location)
	}
	e.clock.Add(2 * time.Minute)
	if p := e.browser().get(slow); p.status != http.StatusBadRequest {
		t.Fatalf("a presented request after 31 minutes: %d %s", p.status, p.location)
	}
	// An unknown one, and one that is not ours at all.
	for _, u := range []string{"urn:ietf:params:oauth:request_uri:nope", "https://evil.example/req"} {
		if p := e.browser().get("/apps/authorize?" + url.Values{"client_id": {e.app.ClientID}, "request_uri": {u}}.Encode()); p.status != http.StatusBadRequest {
			t.Errorf("request_uri %s: %d %s", u, p.status, p.location)
		}
	}

	// Refusals at the endpoint store nothing.
	before := e.keyCount("par:*")
	assertOAuthError(t, e.push(authorizeParams(e.app.ClientID), nil, e.app.ClientID, "wrong"), 401, "invalid_client")
	assertOAuthError(t, e.push(authorizeParams(e.app.ClientID), nil, other.ClientID, otherSecret), 400, "invalid_request")
	bad := authorizeParams(e.app.ClientID)
	bad.Set("redirect_uri", "https://evil.example/cb")
	assertOAuthError(t, e.push(bad, nil, e.app.ClientID, e.secret), 400, "invalid_request")
	bad = authorizeParams(e.app.ClientID)
	bad.Set("request_uri", "urn:ietf:params:oauth:request_uri:x")
	assertOAuthError(t, e.push(bad, nil, e.app.ClientID, e.secret), 400, "invalid_request")
	bad = authorizeParams(e.app.ClientID)
	bad.Set("scope", "manage:clients")
	assertOAuthError(t, e.push(bad, nil, e.app.ClientID, e.secret), 400, "invalid_scope")
	bad = authorizeParams(e.app.ClientID)
	bad["state"] = []string{"a", "b"}
	assertOAuthError(t, e.push(bad, nil, e.app.ClientID, e.secret), 400, "invalid_request")
	bad = authorizeParams(e.app.ClientID)
	bad.Set("code_challenge_method", "plain")
	assertOAuthError(t, e.push(bad, nil, e.app.ClientID, e.secret), 400, "invalid_request")
	if after := e.keyCount("par:*"); after != before {
		t.Errorf("refused pushes stored %d requests", after-before)
	}

	// An app that must push is refused a request in the query, with an
	// error sent back to its (registered) redirect URI.
	required, secret := e.securedApp(false, store.Security{RequirePAR: true})
	p := e.browser().get("/apps/authorize?" + authorizeParams(required.ClientID).Encode())
	if loc, _ := url.Parse(p.location); p.status != http.StatusFound || loc.Query().Get("error") != "invalid_request" ||
		!strings.HasPrefix(p.location, appRedirect) {
		t.Fatalf("unpushed request of a PAR app: %d %s", p.status, p.location)
	}
	r = e.push(authorizeParams(required.ClientID), nil, required.ClientID, secret)
	e.consentCode("/apps/authorize?"+url.Values{"client_id": {required.ClientID}, "request_uri": {r.json["request_uri"].(string)}}.Encode(),
		"read:products")

	// A public app pushes with its client_id alone.
	pub, _ := e.securedApp(true, store.Security{})
	v := authorizeParams(pub.ClientID)
	if r := e.push(v, nil); r.status != http.StatusCreated {
		t.Fatalf("public push: %d %s", r.status, r.raw)
	}
}

// keyCount counts the keys matching pattern in the test's Redis.
func (e *testEnv) keyCount(pattern string) int {
	e.t.Helper()
	keys, err := e.rdb.Keys(context.Background(), pattern).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return len(keys)
}

func TestDPoPBindsTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.securedApp(false, store.Security{RequireDPoP: true})
	key, thief := newHolder(t, jose.ES256), newHolder(t, jose.ES256)
	tokenURL := e.cfg.Issuer + "/oauth/token"
	code := e.consentCode("/apps/authorize?"+authorizeParams(app.ClientID).Encode(), "read:products")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
	now := e.clock.Now

	// An app that requires DPoP gets nothing without a proof, and a bad
	// proof changes nothing: the code still works after.
	assertOAuthError(t, e.form("/oauth/token", exchange, app.ClientID, secret), 400, "invalid_dpop_proof")
	for name, proof := range map[string]string{
		"wrong htm":     key.proof(t, now(), http.MethodGet, tokenURL),
		"wrong htu":     key.proof(t, now(), http.MethodPost, e.cfg.Issuer+"/oauth/access-token"),
		"old iat":       key.proof(t, now().Add(-2*time.Minute), http.MethodPost, tokenURL),
		"future iat":    key.proof(t, now().Add(time.Minute), http.MethodPost, tokenURL),
		"ath at token":  key.proof(t, now(), http.MethodPost, tokenURL, ath("x")),
		"no jti":        key.proof(t, now(), http.MethodPost, tokenURL, func(c map[string]any) { delete(c, "jti") }),
		"not a JWT":     "abc.def.ghi",
		"HS256 forgery": hs256Proof(t, tokenURL, now()),
	} {
		r := e.request(e.url, http.MethodPost, "/oauth/token", exchange, withBasic(map[string]string{"DPoP": proof}, app.ClientID, secret))
		if r.status != http.StatusBadRequest || r.json["error"] != "invalid_dpop_proof" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	proof := key.proof(t, now(), http.MethodPost, tokenURL)
	r := e.request(e.url, http.MethodPost, "/oauth/token", exchange, withBasic(map[string]string{"DPoP": proof}, app.ClientID, secret))
	if r.status != http.StatusOK || r.json["token_type"] != "DPoP" {
		t.Fatalf("exchange with a proof: %d %s", r.status, r.raw)
	}
	access, refresh := r.json["access_token"].(string), r.json["refresh_token"].(string)

	// The same proof again is a replay, on this instance or another.
	refreshReq := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	r = e.request(e.url, http.MethodPost, "/oauth/token", refreshReq, withBasic(map[string]string{"DPoP": proof}, app.ClientID, secret))
	assertOAuthError(t, r, 400, "invalid_dpop_proof")
	second := e.secondServer()
	again := key.proof(t, now(), http.MethodPost, tokenURL)
	if fresh, err := e.secondInstance().ClaimProof(context.Background(), key.thumbprint(t), jtiOf(t, again), time.Minute); err != nil || !fresh {
		t.Fatal("claim on another instance", err)
	}
	assertOAuthError(t, e.request(second, http.MethodPost, "/oauth/token", refreshReq,
		withBasic(map[string]string{"DPoP": again}, app.ClientID, secret)), 400, "invalid_dpop_proof")

	// Introspection names the key.
	in := e.form("/oauth/introspect", url.Values{"token": {access}}, app.ClientID, secret)
	if cnf, _ := in.json["cnf"].(map[string]any); in.json["token_type"] != "DPoP" || cnf["jkt"] != key.thumbprint(t) {
		t.Fatalf("introspection: %s", in.raw)
	}

	// At a resource: only as DPoP, with a fresh proof of the key for this
	// request and this token.
	info := e.cfg.Issuer + "/api/d/info"
	get := func(base string, h map[string]string) response {
		return e.request(base, http.MethodGet, "/api/d/info", nil, h)
	}
	ok := key.proof(t, now(), http.MethodGet, info, ath(access))
	if r := get(e.url, map[string]string{"Authorization": "DPoP " + access, "DPoP": ok}); r.status != http.StatusOK || r.json["MerchantAppId"] == nil {
		t.Fatalf("info with DPoP: %d %s", r.status, r.raw)
	}
	// A replay of that request, on either instance.
	for _, base := range []string{e.url, second} {
		r := get(base, map[string]string{"Authorization": "DPoP " + access, "DPoP": ok})
		if r.status != http.StatusUnauthorized || r.json["error"] != "invalid_dpop_proof" ||
			!strings.HasPrefix(r.header.Get("WWW-Authenticate"), "DPoP ") {
			t.Errorf("replayed resource proof at %s: %d %s %q", base, r.status, r.raw, r.header.Get("WWW-Authenticate"))
		}
	}
	for name, c := range map[string]struct {
		h    map[string]string
		code string
	}{
		"stolen token as Bearer": {map[string]string{"Authorization": "Bearer " + access}, "invalid_token"},
		"proof of another key":   {map[string]string{"Authorization": "DPoP " + access, "DPoP": thief.proof(t, now(), http.MethodGet, info, ath(access))}, "invalid_token"},
		"wrong ath":              {map[string]string{"Authorization": "DPoP " + access, "DPoP": key.proof(t, now(), http.MethodGet, info, ath("other"))}, "invalid_dpop_proof"},
		"no ath":                 {map[string]string{"Authorization": "DPoP " + access, "DPoP": key.proof(t, now(), http.MethodGet, info)}, "invalid_dpop_proof"},
		"wrong htm":              {map[string]string{"Authorization": "DPoP " + access, "DPoP": key.proof(t, now(), http.MethodPost, info, ath(access))}, "invalid_dpop_proof"},
		"wrong htu":              {map[string]string{"Authorization": "DPoP " + access, "DPoP": key.proof(t, now(), http.MethodGet, e.cfg.Issuer+"/oauth/userinfo", ath(access))}, "invalid_dpop_proof"},
		"no proof":               {map[string]string{"Authorization": "DPoP " + access}, "invalid_dpop_proof"},
	} {
		r := get(e.url, c.h)
		if r.status != http.StatusUnauthorized || r.json["error"] != c.code || !strings.Contains(r.header.Get("WWW-Authenticate"), `DPoP error="`+c.code+`"`) {
			t.Errorf("%s: %d %s %q", name, r.status, r.raw, r.header.Get("WWW-Authenticate"))
		}
	}
	// A request without credentials learns both schemes.
	if r := get(e.url, nil); len(r.header.Values("WWW-Authenticate")) != 2 {
		t.Errorf("anonymous challenges: %q", r.header.Values("WWW-Authenticate"))
	}

	// A refresh with a proof: a new pair, the access token bound again;
	// the Multivende dialect says so too.
	mv := e.cfg.Issuer + "/oauth/access-token"
	r = e.request(e.url, http.MethodPost, "/oauth/access-token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh},
		"client_id": {app.ClientID}, "client_secret": {secret}}, map[string]string{"DPoP": key.proof(t, now(), http.MethodPost, mv)})
	if r.status != http.StatusOK || r.json["tokenType"] != "DPoP" {
		t.Fatalf("Multivende refresh with DPoP: %d %s", r.status, r.raw)
	}
	fresh := r.json["token"].(string)
	if r := get(e.url, map[string]string{"Authorization": "DPoP " + fresh, "DPoP": key.proof(t, now(), http.MethodGet, info, ath(fresh))}); r.status != http.StatusOK {
		t.Fatalf("refreshed token: %d %s", r.status, r.raw)
	}

	// A bearer token presented under the DPoP scheme is refused too.
	plainCode := e.code(nil)
	plain := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {plainCode}}, e.app.ClientID, e.secret)
	bt := plain.json["access_token"].(string)
	if plain.json["token_type"] != "Bearer" {
		t.Fatalf("bearer app: %s", plain.raw)
	}
	if r := get(e.url, map[string]string{"Authorization": "DPoP " + bt, "DPoP": key.proof(t, now(), http.MethodGet, info, ath(bt))}); r.status != http.StatusUnauthorized || r.json["error"] != "invalid_token" {
		t.Errorf("bearer token as DPoP: %d %s", r.status, r.raw)
	}
	if r := e.info(bt); r.status != http.StatusOK {
		t.Errorf("bearer token as Bearer: %d %s", r.status, r.raw)
	}
}

// hs256Proof is a proof "signed" with a symmetric key: never accepted.
func hs256Proof(t *testing.T, u string, now time.Time) string {
	t.Helper()
	k := []byte(strings.Repeat("s", 32))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: k},
		(&jose.SignerOptions{}).WithType("dpop+jwt").WithHeader("jwk", map[string]string{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(k)}))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"jti": "j", "htm": "POST", "htu": u, "iat": now.Unix()})
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

// jtiOf reads a proof's jti.
func jtiOf(t *testing.T, proof string) string {
	t.Helper()
	parts := strings.Split(proof, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	_ = json.Unmarshal(b, &c)
	return c.JTI
}

// secondServer serves a second instance of enlace over the same Redis
// and configuration, and returns its base URL.
func (e *testEnv) secondServer() string {
	e.t.Helper()
	srv, err := server.New(server.Options{Config: e.cfg, Store: e.secondInstance(), SessionSecret: []byte(strings.Repeat("k", 32)),
		Templates: enlace.Templates, Static: enlace.Static, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	e.t.Cleanup(hs.Close)
	return hs.URL
}

func TestDPoPPublicAppRefreshBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, _ := e.securedApp(true, store.Security{})
	key, thief := newHolder(t, jose.EdDSA), newHolder(t, jose.RS256)
	tokenURL := e.cfg.Issuer + "/oauth/token"
	now := e.clock.Now
	code := e.consentCode("/apps/authorize?"+authorizeParams(app.ClientID).Encode(), "read:products")
	r := e.request(e.url, http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {verifier}, "client_id": {app.ClientID}}, map[string]string{"DPoP": key.proof(t, now(), http.MethodPost, tokenURL)})
	if r.status != http.StatusOK || r.json["token_type"] != "DPoP" {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.json["refresh_token"].(string)}, "client_id": {app.ClientID}}
	// Whoever copied the refresh token cannot use it, nor end the
	// connection by trying.
	assertOAuthError(t, e.form("/oauth/token", refresh), 400, "invalid_grant")
	assertOAuthError(t, e.request(e.url, http.MethodPost, "/oauth/token", refresh,
		map[string]string{"DPoP": thief.proof(t, now(), http.MethodPost, tokenURL)}), 400, "invalid_grant")
	r = e.request(e.url, http.MethodPost, "/oauth/token", refresh, map[string]string{"DPoP": key.proof(t, now(), http.MethodPost, tokenURL)})
	if r.status != http.StatusOK || r.json["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key: %d %s", r.status, r.raw)
	}
}

func TestDPoPNonces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.DPoP.RequireNonce = true })
	app, secret := e.securedApp(false, store.Security{RequireDPoP: true})
	key := newHolder(t, jose.ES256)
	tokenURL := e.cfg.Issuer + "/oauth/token"
	now := e.clock.Now
	code := e.consentCode("/apps/authorize?"+authorizeParams(app.ClientID).Encode(), "read:products")
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
	r := e.request(e.url, http.MethodPost, "/oauth/token", exchange, withBasic(map[string]string{"DPoP": key.proof(t, now(), http.MethodPost, tokenURL)}, app.ClientID, secret))
	assertOAuthError(t, r, 400, "use_dpop_nonce")
	nonce := r.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce with use_dpop_nonce")
	}
	bad := key.proof(t, now(), http.MethodPost, tokenURL, func(c map[string]any) { c["nonce"] = "forged" })
	assertOAuthError(t, e.request(e.url, http.MethodPost, "/oauth/token", exchange, withBasic(map[string]string{"DPoP": bad}, app.ClientID, secret)), 400, "use_dpop_nonce")
	good := key.proof(t, now(), http.MethodPost, tokenURL, func(c map[string]any) { c["nonce"] = nonce })
	r = e.request(e.url, http.MethodPost, "/oauth/token", exchange, withBasic(map[string]string{"DPoP": good}, app.ClientID, secret))
	if r.status != http.StatusOK || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d %s", r.status, r.raw)
	}
	access := r.json["access_token"].(string)
	info := e.cfg.Issuer + "/api/d/info"
	r = e.request(e.url, http.MethodGet, "/api/d/info", nil, map[string]string{"Authorization": "DPoP " + access,
		"DPoP": key.proof(t, now(), http.MethodGet, info, ath(access))})
	if r.status != http.StatusUnauthorized || r.json["error"] != "use_dpop_nonce" || r.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("resource without nonce: %d %s", r.status, r.raw)
	}
	// Every instance hands out and accepts the same nonces.
	second := e.secondServer()
	r = e.request(second, http.MethodGet, "/api/d/info", nil, map[string]string{"Authorization": "DPoP " + access,
		"DPoP": key.proof(t, now(), http.MethodGet, info, ath(access), func(c map[string]any) { c["nonce"] = nonce })})
	if r.status != http.StatusOK {
		t.Fatalf("resource with the nonce on another instance: %d %s", r.status, r.raw)
	}
	// A success offers the nonce to sign the next proof with (RFC 9449
	// §8.2): the client is not refused once per nonce step. A bearer
	// token's success has none.
	offered := r.header.Get("DPoP-Nonce")
	if offered == "" {
		t.Fatal("no DPoP-Nonce on a resource's success")
	}
	r = e.request(e.url, http.MethodGet, "/api/d/info", nil, map[string]string{"Authorization": "DPoP " + access,
		"DPoP": key.proof(t, now(), http.MethodGet, info, ath(access), func(c map[string]any) { c["nonce"] = offered })})
	if r.status != http.StatusOK {
		t.Fatalf("resource with the offered nonce: %d %s", r.status, r.raw)
	}
	bt := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {e.code(nil)}}, e.app.ClientID, e.secret)
	if bt.status != http.StatusOK {
		t.Fatalf("a bearer exchange: %d %s", bt.status, bt.raw)
	}
	if b := e.info(bt.json["access_token"].(string)); b.status != http.StatusOK || b.header.Get("DPoP-Nonce") != "" {
		t.Fatalf("a bearer token's info: %d, DPoP-Nonce %q", b.status, b.header.Get("DPoP-Nonce"))
	}
}

// TestDPoPUserinfo: userinfo takes a DPoP-bound token with its proof, and
// refuses it as a bearer token, in the header or the form.
func TestDPoPUserinfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app, secret := e.securedApp(false, store.Security{RequireDPoP: true}, "openid", "profile", "read:products")
	key := newHolder(t, jose.ES256)
	now := e.clock.Now
	q := authorizeParams(app.ClientID)
	q.Set("scope", "openid profile")
	code := e.consentCode("/apps/authorize?"+q.Encode(), "openid", "profile")
	r := e.request(e.url, http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {verifier}}, withBasic(map[string]string{"DPoP": key.proof(t, now(), http.MethodPost, e.cfg.Issuer+"/oauth/token")}, app.ClientID, secret))
	if r.status != http.StatusOK || r.json["id_token"] == nil {
		t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	access := r.json["access_token"].(string)
	ui := e.cfg.Issuer + "/oauth/userinfo"
	got := e.request(e.url, http.MethodGet, "/oauth/userinfo", nil, map[string]string{"Authorization": "DPoP " + access,
		"DPoP": key.proof(t, now(), http.MethodGet, ui, ath(access))})
	if got.status != http.StatusOK || got.json["sub"] != e.merchant.ID {
		t.Fatalf("userinfo with DPoP: %d %s", got.status, got.raw)
	}
	for name, res := range map[string]response{
		"header": e.request(e.url, http.MethodGet, "/oauth/userinfo", nil, map[string]string{"Authorization": "Bearer " + access}),
		"form":   e.request(e.url, http.MethodPost, "/oauth/userinfo", url.Values{"access_token": {access}}, nil),
	} {
		if res.status != http.StatusUnauthorized || res.json["error"] != "invalid_token" {
			t.Errorf("bound token as bearer in the %s: %d %s", name, res.status, res.raw)
		}
	}
}

// TestDPoPRoundTrips: a DPoP check of /api/d/info takes the one Redis
// round trip of a bearer check (the token's lookup and the proof's replay
// record in one pipeline); a DPoP exchange adds the proof's record to the
// exchange's script.
func TestDPoPRoundTrips(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1"} })
	app, secret := e.securedApp(false, store.Security{RequireDPoP: true})
	key := newHolder(t, jose.ES256)
	now := e.clock.Now
	n := 0
	send := func(method, path string, v url.Values, h map[string]string) (response, int) {
		n++
		id := fmt.Sprintf("dpop-trips-%03d", n)
		h["X-Request-Id"] = id
		return e.request(e.url, method, path, v, h), e.calls.of(id)
	}
	// Warm up: the first exchange loads the script.
	if w := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {e.code(nil)}}, e.app.ClientID, e.secret); w.status != http.StatusOK {
		t.Fatalf("warm-up: %s", w.raw)
	}
	code := e.consentCode("/apps/authorize?"+authorizeParams(app.ClientID).Encode(), "read:products")
	r, trips := send(http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {verifier}}, withBasic(map[string]string{"DPoP": key.proof(t, now(), http.MethodPost, e.cfg.Issuer+"/oauth/token")}, app.ClientID, secret))
	if r.status != http.StatusOK || trips != 2 {
		t.Fatalf("DPoP exchange: %d round trips %v, %d %s", trips, e.calls.what(fmt.Sprintf("dpop-trips-%03d", n)), r.status, r.raw)
	}
	access := r.json["access_token"].(string)
	info := func() (response, int) {
		return send(http.MethodGet, "/api/d/info", nil, map[string]string{"Authorization": "DPoP " + access,
			"DPoP": key.proof(t, now(), http.MethodGet, e.cfg.Issuer+"/api/d/info", ath(access))})
	}
	info() // the merchant's cache is filled on the first
	if r, trips := info(); r.status != http.StatusOK || trips != 1 {
		t.Fatalf("DPoP check: %d round trips %v, %d %s", trips, e.calls.what(fmt.Sprintf("dpop-trips-%03d", n)), r.status, r.raw)
	}
}

// TestPushLimit: a public app, which pushes with its client_id alone, is
// limited per client address; a confidential app is not.
func TestPushLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.PAR.PublicPerAddress = 2 })
	pub, _ := e.securedApp(true, store.Security{})
	for i := range 2 {
		if r := e.push(authorizeParams(pub.ClientID), nil); r.status != http.StatusCreated {
			t.Fatalf("push %d: %d %s", i, r.status, r.raw)
		}
	}
	r := e.push(authorizeParams(pub.ClientID), nil)
	assertOAuthError(t, r, http.StatusTooManyRequests, "invalid_request")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After on a limited push")
	}
	for i := range 3 {
		if r := e.push(authorizeParams(e.app.ClientID), nil, e.app.ClientID, e.secret); r.status != http.StatusCreated {
			t.Fatalf("confidential push %d: %d %s", i, r.status, r.raw)
		}
	}
}

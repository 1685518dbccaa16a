package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/server/safefetch"
	"github.com/enlace-oauth/enlace/store"
)

// assertionForm is a token request's client authentication by
// private_key_jwt.
func assertionForm(v url.Values, assertion string) url.Values {
	out := url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {assertion}}
	for k, x := range v {
		out[k] = x
	}
	return out
}

func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	key, stranger := newHolder(t, jose.PS256), newHolder(t, jose.PS256)
	rotated := newHolder(t, jose.ES256)
	// The app's keys at its jwks_uri, on a TLS server the fetcher may
	// reach in this test only; the set can change, and fetches are counted.
	var published atomic.Value
	published.Store(key.jwks(t))
	var fetches atomic.Int32
	ks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(published.Load().(string)))
	}))
	t.Cleanup(ks.Close)
	addr := netip.MustParseAddrPort(ks.Listener.Addr().String())
	e := startEnvWith(t, nil, nil, func(o *server.Options) {
		o.Fetch = safefetch.Options{Allow: func(a netip.AddrPort) bool { return a == addr },
			RootCAs: ks.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	})
	e.app, e.secret = e.newApp("Sincronizador", appRedirect)
	inline, secret := e.securedApp(false, store.Security{AuthMethod: store.AuthPrivateKeyJWT, JWKS: key.jwks(t)})
	remote, _ := e.securedApp(false, store.Security{AuthMethod: store.AuthPrivateKeyJWT, JWKSURI: ks.URL + "/jwks.json"})
	now := e.clock.Now

	for _, app := range []*store.App{inline, remote} {
		code := e.consentCode("/apps/authorize?"+authorizeParams(app.ClientID).Encode(), "read:products")
		exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}}
		// Refusals first: each is invalid_client and the code still works.
		for name, form := range map[string]url.Values{
			"the secret":       withSecret(exchange, app.ClientID, secret),
			"unregistered key": assertionForm(exchange, stranger.assertion(t, now(), app.ClientID, e.cfg.Issuer)),
			"another audience": assertionForm(exchange, key.assertion(t, now(), app.ClientID, "https://other.example")),
			"expired":          assertionForm(exchange, key.assertion(t, now().Add(-5*time.Minute), app.ClientID, e.cfg.Issuer)),
			"an hour ahead":    assertionForm(exchange, key.assertion(t, now(), app.ClientID, e.cfg.Issuer, func(c map[string]any) { c["exp"] = now().Add(time.Hour).Unix() })),
			"no jti":           assertionForm(exchange, key.assertion(t, now(), app.ClientID, e.cfg.Issuer, func(c map[string]any) { delete(c, "jti") })),
			"another client":   assertionForm(exchange, key.assertion(t, now(), e.app.ClientID, e.cfg.Issuer)),
			"sub is not iss":   assertionForm(exchange, key.assertion(t, now(), app.ClientID, e.cfg.Issuer, func(c map[string]any) { c["sub"] = "someone" })),
			"wrong type": func() url.Values {
				f := assertionForm(exchange, key.assertion(t, now(), app.ClientID, e.cfg.Issuer))
				f.Set("client_assertion_type", "x")
				return f
			}(),
			"client_id differs": func() url.Values {
				f := assertionForm(exchange, key.assertion(t, now(), app.ClientID, e.cfg.Issuer))
				f.Set("client_id", e.app.ClientID)
				return f
			}(),
		} {
			r := e.form("/oauth/token", form)
			if r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized || r.json["error"] != "invalid_client" {
				t.Errorf("%s: %d %s", name, r.status, r.raw)
			}
		}
		// A secret and an assertion together: one method only.
		assertOAuthError(t, e.form("/oauth/token", assertionForm(exchange, key.assertion(t, now(), app.ClientID, e.cfg.Issuer)),
			app.ClientID, secret), 400, "invalid_request")
		a := key.assertion(t, now(), app.ClientID, e.cfg.Issuer)
		r := e.form("/oauth/token", assertionForm(exchange, a))
		if r.status != http.StatusOK || r.json["access_token"] == nil {
			t.Fatalf("%s: exchange with an assertion: %d %s", app.Name, r.status, r.raw)
		}
		// The same assertion again: a replay, even for another grant.
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.json["refresh_token"].(string)}}
		assertOAuthError(t, e.form("/oauth/token", assertionForm(refresh, a)), 400, "invalid_client")
		// aud may be the token endpoint's URL too (RFC 7523 §3).
		r = e.form("/oauth/token", assertionForm(refresh, key.assertion(t, now(), app.ClientID, e.cfg.Issuer+"/oauth/token")))
		if r.status != http.StatusOK {
			t.Fatalf("refresh with an assertion: %d %s", r.status, r.raw)
		}
		// Revocation and introspection take the same authentication.
		in := e.form("/oauth/introspect", assertionForm(url.Values{"token": {r.json["access_token"].(string)}},
			key.assertion(t, now(), app.ClientID, e.cfg.Issuer)))
		if in.status != http.StatusOK || in.json["active"] != true {
			t.Fatalf("introspection with an assertion: %d %s", in.status, in.raw)
		}
	}

	// The jwks_uri is fetched once and kept; a key it did not have when
	// fetched makes it fetched again.
	n := fetches.Load()
	if n != 1 {
		t.Errorf("jwks_uri fetched %d times, want once", n)
	}
	published.Store(rotated.jwks(t))
	e.clock.Add(time.Minute)
	code := e.consentCode("/apps/authorize?"+authorizeParams(remote.ClientID).Encode(), "read:products")
	r := e.form("/oauth/token", assertionForm(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {verifier}}, rotated.assertion(t, now(), remote.ClientID, e.cfg.Issuer)))
	if r.status != http.StatusOK || fetches.Load() != n+1 {
		t.Fatalf("a rotated key at the jwks_uri: %d %s (fetches %d)", r.status, r.raw, fetches.Load())
	}
	// An app without private_key_jwt cannot send an assertion.
	assertOAuthError(t, e.form("/oauth/token", assertionForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-x"}},
		key.assertion(t, now(), e.app.ClientID, e.cfg.Issuer))), 400, "invalid_client")
}

func withSecret(v url.Values, id, secret string) url.Values {
	out := url.Values{"client_id": {id}, "client_secret": {secret}}
	for k, x := range v {
		out[k] = x
	}
	return out
}

// TestFAPI2Profile walks an app on the fapi2 profile through the whole
// flow — PAR, PKCE S256, DPoP, private_key_jwt — and each thing the
// profile refuses.
func TestFAPI2Profile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	client, proofKey := newHolder(t, jose.ES256), newHolder(t, jose.ES256)
	app, _ := e.securedApp(false, store.Security{FAPI2: true, AuthMethod: store.AuthPrivateKeyJWT, JWKS: client.jwks(t)})
	now := e.clock.Now
	parAuth := func(v url.Values) url.Values {
		return assertionForm(v, client.assertion(t, now(), app.ClientID, e.cfg.Issuer))
	}

	// Not pushed: refused, back to the app.
	p := e.browser().get("/apps/authorize?" + authorizeParams(app.ClientID).Encode())
	if loc, _ := url.Parse(p.location); p.status != http.StatusFound || loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("unpushed: %d %s", p.status, p.location)
	}
	// Pushed without PKCE, or with a secret: refused.
	noPKCE := authorizeParams(app.ClientID)
	noPKCE.Del("code_challenge")
	noPKCE.Del("code_challenge_method")
	assertOAuthError(t, e.push(parAuth(noPKCE), nil), 400, "invalid_request")
	assertOAuthError(t, e.push(withSecret(authorizeParams(app.ClientID), app.ClientID, "x"), nil), 400, "invalid_client")
	// An RS256 assertion is not one FAPI 2.0 allows.
	rs := newHolder(t, jose.RS256)
	rsApp, _ := e.securedApp(false, store.Security{FAPI2: true, AuthMethod: store.AuthPrivateKeyJWT, JWKS: rs.jwks(t)})
	assertOAuthError(t, e.push(assertionForm(authorizeParams(rsApp.ClientID), rs.assertion(t, now(), rsApp.ClientID, e.cfg.Issuer)), nil), 400, "invalid_client")

	pushCode := func() string {
		r := e.push(parAuth(authorizeParams(app.ClientID)), nil)
		if r.status != http.StatusCreated {
			t.Fatalf("push: %d %s", r.status, r.raw)
		}
		return e.consentCode("/apps/authorize?"+url.Values{"client_id": {app.ClientID}, "request_uri": {r.json["request_uri"].(string)}}.Encode(),
			"read:products")
	}
	tokenURL := e.cfg.Issuer + "/oauth/token"
	exchange := func(code string, dpopProof bool) response {
		h := map[string]string{}
		if dpopProof {
			h["DPoP"] = proofKey.proof(t, now(), http.MethodPost, tokenURL)
		}
		return e.request(e.url, http.MethodPost, "/oauth/token", parAuth(url.Values{"grant_type": {"authorization_code"},
			"code": {code}, "code_verifier": {verifier}}), h)
	}
	code := pushCode()
	assertOAuthError(t, exchange(code, false), 400, "invalid_dpop_proof")
	r := exchange(code, true)
	if r.status != http.StatusOK || r.json["token_type"] != "DPoP" {
		t.Fatalf("FAPI 2.0 exchange: %d %s", r.status, r.raw)
	}
	access := r.json["access_token"].(string)
	info := e.cfg.Issuer + "/api/d/info"
	if r := e.request(e.url, http.MethodGet, "/api/d/info", nil, map[string]string{"Authorization": "DPoP " + access,
		"DPoP": proofKey.proof(t, now(), http.MethodGet, info, ath(access))}); r.status != http.StatusOK {
		t.Fatalf("FAPI 2.0 token at a resource: %d %s", r.status, r.raw)
	}
	// No rotation (FAPI 2.0 §5.3.2.1): the same refresh token works
	// again, long after, and only the access token is new.
	rt := r.json["refresh_token"].(string)
	for i := range 2 {
		e.clock.Add(time.Minute)
		h := map[string]string{"DPoP": proofKey.proof(t, now(), http.MethodPost, tokenURL)}
		rr := e.request(e.url, http.MethodPost, "/oauth/token", parAuth(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), h)
		if rr.status != http.StatusOK || rr.json["refresh_token"] != rt || rr.json["access_token"] == access || rr.json["token_type"] != "DPoP" {
			t.Fatalf("fapi2 refresh %d: %d %s", i, rr.status, rr.raw)
		}
		access = rr.json["access_token"].(string)
	}
	if r := e.request(e.url, http.MethodGet, "/api/d/info", nil, map[string]string{"Authorization": "DPoP " + access,
		"DPoP": proofKey.proof(t, now(), http.MethodGet, info, ath(access))}); r.status != http.StatusOK {
		t.Fatalf("refreshed FAPI 2.0 token at a resource: %d %s", r.status, r.raw)
	}
	// Its codes live 60 seconds, not the platform's 24 hours.
	code = pushCode()
	e.clock.Add(61 * time.Second)
	assertOAuthError(t, exchange(code, true), 400, "invalid_grant")

	// A DPoP proof at PAR binds the code to its key (RFC 9449 §10.1): an
	// exchange with a proof of another key is refused and the code still
	// works with the right one.
	parURL := e.cfg.Issuer + "/oauth/par"
	other := newHolder(t, jose.ES256)
	mismatch := parAuth(authorizeParams(app.ClientID))
	mismatch.Set("dpop_jkt", other.thumbprint(t))
	assertOAuthError(t, e.push(mismatch, map[string]string{"DPoP": proofKey.proof(t, now(), http.MethodPost, parURL)}), 400, "invalid_dpop_proof")
	r = e.push(parAuth(authorizeParams(app.ClientID)), map[string]string{"DPoP": proofKey.proof(t, now(), http.MethodPost, parURL)})
	if r.status != http.StatusCreated {
		t.Fatalf("push with DPoP: %d %s", r.status, r.raw)
	}
	code = e.consentCode("/apps/authorize?"+url.Values{"client_id": {app.ClientID}, "request_uri": {r.json["request_uri"].(string)}}.Encode(),
		"read:products")
	wrongKey := e.request(e.url, http.MethodPost, "/oauth/token", parAuth(url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "code_verifier": {verifier}}), map[string]string{"DPoP": other.proof(t, now(), http.MethodPost, tokenURL)})
	assertOAuthError(t, wrongKey, 400, "invalid_grant")
	if r := exchange(code, true); r.status != http.StatusOK {
		t.Fatalf("bound code with its key: %d %s", r.status, r.raw)
	}

	// The profile cannot be put on an app it does not fit.
	for name, sec := range map[string]store.Security{
		"without private_key_jwt": {FAPI2: true},
		"with a secret method":    {FAPI2: true, AuthMethod: "client_secret_basic"},
	} {
		if _, _, err := e.st.CreateApp(context.Background(), store.AppSpec{Name: name, RedirectURIs: []string{appRedirect},
			Scopes: []string{"read:products"}, Security: sec}, e.cfg.Scopes.Names()); err == nil {
			t.Errorf("fapi2 %s was registered", name)
		}
	}
	// The metadata advertises what the profile needs.
	m := e.send(mustGet(e.url + "/.well-known/oauth-authorization-server"))
	if m.json["pushed_authorization_request_endpoint"] != e.cfg.Issuer+"/oauth/par" ||
		m.json["require_pushed_authorization_requests"] != false ||
		!containsAll(m.json["dpop_signing_alg_values_supported"], "ES256", "PS256", "EdDSA") ||
		!containsAll(m.json["token_endpoint_auth_methods_supported"], "private_key_jwt") {
		t.Errorf("metadata: %s", m.raw)
	}
}

func containsAll(v any, want ...string) bool {
	list, _ := v.([]any)
	for _, w := range want {
		found := false
		for _, x := range list {
			if x == w {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestReviewRefusals covers what a review of issue 19 found: a nonce
// retry resending the same client assertion, fapi2's audience and
// algorithms, a bound token at VerifyAccess, refused DPoP requests
// recording nothing, and insufficient_scope with DPoP's challenge.
func TestReviewRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.DPoP.RequireNonce = true })
	client, proofKey := newHolder(t, jose.ES256), newHolder(t, jose.ES256)
	app, _ := e.securedApp(false, store.Security{FAPI2: true, AuthMethod: store.AuthPrivateKeyJWT, JWKS: client.jwks(t)})
	now := e.clock.Now
	parURL, tokenURL := e.cfg.Issuer+"/oauth/par", e.cfg.Issuer+"/oauth/token"

	// PAR: the first try gets use_dpop_nonce; the same body and assertion
	// with a proof carrying the nonce then goes through.
	body := assertionForm(authorizeParams(app.ClientID), client.assertion(t, now(), app.ClientID, e.cfg.Issuer))
	r := e.push(body, map[string]string{"DPoP": proofKey.proof(t, now(), http.MethodPost, parURL)})
	assertOAuthError(t, r, 400, "use_dpop_nonce")
	nonce := r.header.Get("DPoP-Nonce")
	withNonce := func(c map[string]any) { c["nonce"] = nonce }
	r = e.push(body, map[string]string{"DPoP": proofKey.proof(t, now(), http.MethodPost, parURL, withNonce)})
	if r.status != http.StatusCreated {
		t.Fatalf("PAR retried with the nonce: %d %s", r.status, r.raw)
	}
	code := e.consentCode("/apps/authorize?"+url.Values{"client_id": {app.ClientID}, "request_uri": {r.json["request_uri"].(string)}}.Encode(),
		"read:products")
	// The token endpoint likewise (the nonce is current).
	exchange := assertionForm(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}},
		client.assertion(t, now(), app.ClientID, e.cfg.Issuer))
	assertOAuthError(t, e.request(e.url, http.MethodPost, "/oauth/token", exchange,
		map[string]string{"DPoP": proofKey.proof(t, now(), http.MethodPost, tokenURL)}), 400, "use_dpop_nonce")
	r = e.request(e.url, http.MethodPost, "/oauth/token", exchange, map[string]string{"DPoP": proofKey.proof(t, now(), http.MethodPost, tokenURL, withNonce)})
	if r.status != http.StatusOK || r.json["token_type"] != "DPoP" {
		t.Fatalf("exchange retried with the nonce: %d %s", r.status, r.raw)
	}
	access := r.json["access_token"].(string)

	// fapi2: aud is the issuer as a string; no RS256 proofs.
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.json["refresh_token"].(string)}}
	for name, a := range map[string]string{
		"aud as an array":           client.assertion(t, now(), app.ClientID, e.cfg.Issuer, func(c map[string]any) { c["aud"] = []string{e.cfg.Issuer} }),
		"aud the token endpoint":    client.assertion(t, now(), app.ClientID, tokenURL),
		"aud the issuer and others": client.assertion(t, now(), app.ClientID, e.cfg.Issuer, func(c map[string]any) { c["aud"] = []string{e.cfg.Issuer, "https://x"} }),
	} {
		r := e.request(e.url, http.MethodPost, "/oauth/token", assertionForm(refresh, a),
			map[string]string{"DPoP": proofKey.proof(t, now(), http.MethodPost, tokenURL, withNonce)})
		if r.status != http.StatusBadRequest || r.json["error"] != "invalid_client" {
			t.Errorf("fapi2 %s: %d %s", name, r.status, r.raw)
		}
	}
	rs := newHolder(t, jose.RS256)
	assertOAuthError(t, e.request(e.url, http.MethodPost, "/oauth/token", assertionForm(refresh, client.assertion(t, now(), app.ClientID, e.cfg.Issuer)),
		map[string]string{"DPoP": rs.proof(t, now(), http.MethodPost, tokenURL, withNonce)}), 400, "invalid_dpop_proof")
	if a, _ := e.st.GetApp(context.Background(), app.ClientID); a.IDTokenSigningAlg() != "ES256" {
		t.Errorf("a fapi2 app's ID tokens are %s by default", a.IDTokenSigningAlg())
	}
	if _, _, err := e.st.CreateApp(context.Background(), store.AppSpec{Name: "RS", RedirectURIs: []string{appRedirect},
		Scopes: []string{"openid"}, IDTokenAlg: "RS256", Security: store.Security{FAPI2: true, AuthMethod: store.AuthPrivateKeyJWT,
			JWKS: client.jwks(t)}}, e.cfg.Scopes.Names()); err == nil {
		t.Error("a fapi2 app was registered with RS256 ID tokens")
	}

	// A bound token: VerifyAccess (the exported bearer check) refuses it;
	// refused DPoP requests record no proof.
	if _, err := resource.NewVerifier(e.st, store.NewAppCache(e.st, time.Minute)).VerifyAccess(context.Background(), access); !errors.Is(err, resource.ErrInactive) {
		t.Errorf("VerifyAccess of a bound token: %v", err)
	}
	before := e.keyCount("dpop-proof:*")
	info := e.cfg.Issuer + "/api/d/info"
	stranger := newHolder(t, jose.ES256)
	for _, h := range []map[string]string{
		{"Authorization": "DPoP " + access, "DPoP": stranger.proof(t, now(), http.MethodGet, info, ath(access), withNonce)},
		{"Authorization": "DPoP at-" + store.NewID() + "." + store.NewSecret(), "DPoP": proofKey.proof(t, now(), http.MethodGet, info, ath("x"), withNonce)},
	} {
		if r := e.request(e.url, http.MethodGet, "/api/d/info", nil, h); r.status != http.StatusUnauthorized {
			t.Errorf("refused DPoP request: %d %s", r.status, r.raw)
		}
	}
	if after := e.keyCount("dpop-proof:*"); after != before {
		t.Errorf("refused DPoP requests recorded %d proofs", after-before)
	}
	// A scope the bound token lacks: DPoP's challenge.
	r = e.request(e.url, http.MethodGet, "/oauth/userinfo", nil, map[string]string{"Authorization": "DPoP " + access,
		"DPoP": proofKey.proof(t, now(), http.MethodGet, e.cfg.Issuer+"/oauth/userinfo", ath(access), withNonce)})
	if r.status != http.StatusForbidden || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `DPoP error="insufficient_scope"`) {
		t.Errorf("insufficient_scope of a bound token: %d %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}

// TestPARAudienceAndDeny: at PAR a non-fapi2 assertion may name the token
// endpoint (RFC 9126 §2), and a denial ends the pushed request.
func TestPARAudienceAndDeny(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	client := newHolder(t, jose.PS256)
	app, _ := e.securedApp(false, store.Security{AuthMethod: store.AuthPrivateKeyJWT, JWKS: client.jwks(t)})
	r := e.push(assertionForm(authorizeParams(app.ClientID), client.assertion(t, e.clock.Now(), app.ClientID, e.cfg.Issuer+"/oauth/token")), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("PAR with aud the token endpoint: %d %s", r.status, r.raw)
	}
	link := "/apps/authorize?" + url.Values{"client_id": {app.ClientID}, "request_uri": {r.json["request_uri"].(string)}}.Encode()
	b := e.browser()
	p := b.loginAndConsentPage(link)
	p = b.post(link, url.Values{"csrf_token": {csrfOf(t, p)}, "decision": {"cancel"}})
	if loc, _ := url.Parse(p.location); p.status != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" {
		t.Fatalf("deny: %d %s", p.status, p.location)
	}
	if p := b.get(link); p.status != http.StatusBadRequest {
		t.Fatalf("a denied request_uri again: %d %s", p.status, p.location)
	}
}

// TestJWKSURIUnreachable: an app whose jwks_uri cannot be fetched is
// refused, and its failures are not fetched again on every request.
func TestJWKSURIUnreachable(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int32
	ks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(ks.Close)
	addr := netip.MustParseAddrPort(ks.Listener.Addr().String())
	e := startEnvWith(t, nil, nil, func(o *server.Options) {
		o.Fetch = safefetch.Options{Allow: func(a netip.AddrPort) bool { return a == addr },
			RootCAs: ks.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	})
	key := newHolder(t, jose.ES256)
	app, _ := e.securedApp(false, store.Security{AuthMethod: store.AuthPrivateKeyJWT, JWKSURI: ks.URL + "/jwks"})
	for range 3 {
		assertOAuthError(t, e.form("/oauth/token", assertionForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt-x"}},
			key.assertion(t, e.clock.Now(), app.ClientID, e.cfg.Issuer))), 400, "invalid_client")
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("an unreachable jwks_uri was fetched %d times for 3 requests", n)
	}
}

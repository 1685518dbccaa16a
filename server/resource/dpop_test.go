package resource_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/enlace-oauth/enlace/server/dpop"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// dpopKey signs proofs as a client library would.
type dpopKey struct{ k *ecdsa.PrivateKey }

func newDPoPKey(t *testing.T) dpopKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dpopKey{k}
}

func (d dpopKey) jkt(t *testing.T) string {
	jwk := jose.JSONWebKey{Key: d.k.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

func (d dpopKey) proof(t *testing.T, method, htu, token string, iat time.Time) string {
	t.Helper()
	return d.proofWithNonce(t, method, htu, token, iat, "")
}

// proofWithNonce is proof with a nonce claim, when nonce is not "".
func (d dpopKey) proofWithNonce(t *testing.T, method, htu, token string, iat time.Time, nonce string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: d.k}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	claims := map[string]any{"jti": store.NewSecret(), "htm": method, "htu": htu, "iat": iat.Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	b, _ := json.Marshal(claims)
	obj, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

// TestDPoPMiddleware: both front ends take a DPoP-bound token only as
// Authorization: DPoP with a fresh proof of its key for this request, and
// bearer tokens as before.
func TestDPoPMiddleware(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key, thief := newDPoPKey(t), newDPoPKey(t)
	ctx := context.Background()
	_, code, err := e.st.Approve(ctx, store.Grant{ClientID: e.app.ClientID, MerchantID: e.merchant.ID, RedirectURI: redirect,
		Scopes: []string{"read:checkouts"}})
	if err != nil {
		t.Fatal(err)
	}
	bound, err := e.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: e.app.ClientID, JKT: key.jkt(t)})
	if err != nil {
		t.Fatal(err)
	}
	plain := e.connect("read:checkouts")
	v := resource.NewVerifierWith(e.st, store.NewAppCache(e.st, time.Minute), resource.Options{BaseURL: "https://api.example/"})
	const htu = "https://api.example/r"
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			next := &seen{}
			h := m.build(v, next, "read:checkouts")
			do := func(auth, proof string) answer {
				req := httptest.NewRequest(http.MethodGet, "/r", nil)
				req.Header.Set("Authorization", auth)
				if proof != "" {
					req.Header.Set("DPoP", proof)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
				_ = json.Unmarshal(rec.Body.Bytes(), &a.body)
				return a
			}
			p := key.proof(t, http.MethodGet, htu, bound.AccessToken, e.clock.Now())
			if a := do("DPoP "+bound.AccessToken, p); a.status != http.StatusOK || next.count() != 1 || next.info.JKT != key.jkt(t) {
				t.Fatalf("DPoP request: %d %s", a.status, a.raw)
			}
			for name, c := range map[string]struct{ auth, proof, code string }{
				"replayed proof":    {"DPoP " + bound.AccessToken, p, "invalid_dpop_proof"},
				"as Bearer":         {"Bearer " + bound.AccessToken, "", "invalid_token"},
				"the thief's proof": {"DPoP " + bound.AccessToken, thief.proof(t, http.MethodGet, htu, bound.AccessToken, e.clock.Now()), "invalid_token"},
				"wrong htu":         {"DPoP " + bound.AccessToken, key.proof(t, http.MethodGet, "https://other.example/r", bound.AccessToken, e.clock.Now()), "invalid_dpop_proof"},
				"wrong htm":         {"DPoP " + bound.AccessToken, key.proof(t, http.MethodPost, htu, bound.AccessToken, e.clock.Now()), "invalid_dpop_proof"},
				"ath of another":    {"DPoP " + bound.AccessToken, key.proof(t, http.MethodGet, htu, plain.AccessToken, e.clock.Now()), "invalid_dpop_proof"},
				"stale proof":       {"DPoP " + bound.AccessToken, key.proof(t, http.MethodGet, htu, bound.AccessToken, e.clock.Now().Add(-2*time.Minute)), "invalid_dpop_proof"},
				"bearer as DPoP":    {"DPoP " + plain.AccessToken, key.proof(t, http.MethodGet, htu, plain.AccessToken, e.clock.Now()), "invalid_token"},
			} {
				a := do(c.auth, c.proof)
				if a.status != http.StatusUnauthorized || a.body["error"] != c.code ||
					!strings.HasPrefix(a.header.Get("WWW-Authenticate"), `DPoP error="`+c.code+`"`) {
					t.Errorf("%s: %d %s %q", name, a.status, a.raw, a.header.Get("WWW-Authenticate"))
				}
			}
			if a := do("Bearer "+plain.AccessToken, ""); a.status != http.StatusOK {
				t.Errorf("bearer token: %d %s", a.status, a.raw)
			}
			if next.count() != 2 {
				t.Errorf("the handler ran %d times, want 2", next.count())
			}
		})
	}
	// A revoked connection's bound token is dead at once.
	if err := e.st.RevokeConnection(ctx, bound.ConnectionID, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/r", nil)
	req.Header.Set("Authorization", "DPoP "+bound.AccessToken)
	req.Header.Set("DPoP", key.proof(t, http.MethodGet, htu, bound.AccessToken, e.clock.Now()))
	if _, refusal, _ := v.VerifyRequest(req); refusal == nil || refusal.Code != "invalid_token" {
		t.Fatalf("revoked bound token: %+v", refusal)
	}
}

// TestDPoPMiddlewareOffersNonce: with nonces required, both front ends
// refuse a proof without one (use_dpop_nonce, the nonce in DPoP-Nonce) and
// put the current nonce on a DPoP request's success, which a bearer
// token's success does not carry.
func TestDPoPMiddlewareOffersNonce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := newDPoPKey(t)
	ctx := context.Background()
	_, code, err := e.st.Approve(ctx, store.Grant{ClientID: e.app.ClientID, MerchantID: e.merchant.ID, RedirectURI: redirect,
		Scopes: []string{"read:checkouts"}})
	if err != nil {
		t.Fatal(err)
	}
	bound, err := e.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: e.app.ClientID, JKT: key.jkt(t)})
	if err != nil {
		t.Fatal(err)
	}
	plain := e.connect("read:checkouts")
	checker := &dpop.Checker{MaxAge: time.Minute, Skew: 5 * time.Second, Now: e.clock.Now,
		Nonces: dpop.NewNonces(e.st.NonceSecret, time.Hour)}
	v := resource.NewVerifierWith(e.st, store.NewAppCache(e.st, time.Minute),
		resource.Options{BaseURL: "https://api.example/", DPoP: checker})
	const htu = "https://api.example/r"
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			h := m.build(v, &seen{}, "read:checkouts")
			do := func(auth, proof string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, "/r", nil)
				req.Header.Set("Authorization", auth)
				if proof != "" {
					req.Header.Set("DPoP", proof)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			rec := do("DPoP "+bound.AccessToken, key.proof(t, http.MethodGet, htu, bound.AccessToken, e.clock.Now()))
			nonce := rec.Header().Get("DPoP-Nonce")
			if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "use_dpop_nonce") || nonce == "" {
				t.Fatalf("no nonce in the proof: %d %s, DPoP-Nonce %q", rec.Code, rec.Body, nonce)
			}
			rec = do("DPoP "+bound.AccessToken, key.proofWithNonce(t, http.MethodGet, htu, bound.AccessToken, e.clock.Now(), nonce))
			offered := rec.Header().Get("DPoP-Nonce")
			if valid, err := checker.Nonces.Valid(ctx, offered, e.clock.Now()); rec.Code != http.StatusOK || !valid || err != nil {
				t.Fatalf("with the nonce: %d %s, DPoP-Nonce %q (valid %v, %v)", rec.Code, rec.Body, offered, valid, err)
			}
			if rec = do("Bearer "+plain.AccessToken, ""); rec.Code != http.StatusOK || rec.Header().Get("DPoP-Nonce") != "" {
				t.Fatalf("bearer token: %d, DPoP-Nonce %q", rec.Code, rec.Header().Get("DPoP-Nonce"))
			}
		})
	}
}

package resource_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// BenchmarkVerifyRequest is a token check as a resource server makes it,
// against a real redis-server: a bearer token, and a DPoP-bound one with a
// fresh proof per request, for each proof algorithm. The proofs are signed
// before the timer starts; what is measured is the check (the proof's
// verification, and the token lookup with the proof's replay record in
// one pipelined round trip). Run with -benchtime=20000x or so.
func BenchmarkVerifyRequest(b *testing.B) {
	srv := redistest.Start(b)
	st := store.New(srv.Client(b), store.Options{Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	cat := []string{"read:products"}
	app, _, err := st.CreateApp(ctx, store.AppSpec{Name: "Bench", RedirectURIs: []string{redirect}, Scopes: cat}, cat)
	if err != nil {
		b.Fatal(err)
	}
	m, err := st.CreateMerchant(ctx, "bench@tienda.cl", "Bench", "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	apps := store.NewAppCache(st, time.Hour)
	runCtx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	go apps.Run(runCtx, ready)
	b.Cleanup(cancel)
	<-ready
	v := resource.NewVerifierWith(st, apps, resource.Options{BaseURL: "https://api.example"})
	issue := func(jkt string) string {
		_, code, err := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: m.ID, RedirectURI: redirect, Scopes: cat})
		if err != nil {
			b.Fatal(err)
		}
		iss, err := st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: app.ClientID, JKT: jkt})
		if err != nil {
			b.Fatal(err)
		}
		return iss.AccessToken
	}
	check := func(b *testing.B, reqs []*http.Request) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, refusal, cause := v.VerifyRequest(reqs[i%len(reqs)]); refusal != nil {
				b.Fatalf("refused: %v %v", refusal, cause)
			}
		}
	}
	b.Run("bearer", func(b *testing.B) {
		tok := issue("")
		req := httptest.NewRequest(http.MethodGet, "/r", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		check(b, []*http.Request{req})
	})
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.PS256} {
		b.Run("dpop-"+string(alg), func(b *testing.B) {
			key, jkt := benchKey(b, alg)
			tok := issue(jkt)
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
			if err != nil {
				b.Fatal(err)
			}
			sum := sha256.Sum256([]byte(tok))
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				payload, _ := json.Marshal(map[string]any{"jti": store.NewSecret(), "htm": "GET", "htu": "https://api.example/r",
					"iat": time.Now().Unix(), "ath": base64.RawURLEncoding.EncodeToString(sum[:])})
				obj, err := signer.Sign(payload)
				if err != nil {
					b.Fatal(err)
				}
				proof, _ := obj.CompactSerialize()
				reqs[i] = httptest.NewRequest(http.MethodGet, "/r", nil)
				reqs[i].Header.Set("Authorization", "DPoP "+tok)
				reqs[i].Header.Set("DPoP", proof)
			}
			check(b, reqs)
		})
	}
}

func benchKey(b *testing.B, alg jose.SignatureAlgorithm) (crypto.Signer, string) {
	b.Helper()
	var k crypto.Signer
	switch alg {
	case jose.EdDSA:
		_, k, _ = ed25519.GenerateKey(rand.Reader)
	case jose.PS256:
		k = mustRSA(b)
	default:
		k = mustEC(b)
	}
	jwk := jose.JSONWebKey{Key: k.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		b.Fatal(err)
	}
	return k, base64.RawURLEncoding.EncodeToString(tp)
}

func mustRSA(b *testing.B) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

func mustEC(b *testing.B) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func sign(t *testing.T, key any, opts *jose.SignerOptions, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	obj, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}

func TestCheck(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := &Checker{MaxAge: time.Minute, Skew: 5 * time.Second, Now: func() time.Time { return now }}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := func() map[string]any {
		return map[string]any{"jti": "j1", "htm": "GET", "htu": "https://rs.example/api/d/info", "iat": now.Unix(), "ath": ATH("at-1")}
	}
	req := Request{Method: "GET", URL: "https://RS.example:443/api/d/info", AccessToken: "at-1"}
	good := sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), claims())
	p, err := c.Check(context.Background(), good, req)
	if err != nil || p.JTI != "j1" || len(p.JKT) != 43 {
		t.Fatalf("good proof: %+v %v", p, err)
	}
	// The htu is compared without query or fragment, after normalisation.
	withQuery := claims()
	withQuery["htu"] = "https://rs.example/api/d/info?x=1#f"
	if _, err := c.Check(context.Background(), sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), withQuery), req); err != nil {
		t.Errorf("htu with a query: %v", err)
	}
	for name, proof := range map[string]string{
		"no typ":          sign(t, key, &jose.SignerOptions{EmbedJWK: true}, claims()),
		"typ jwt":         sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("JWT"), claims()),
		"no jwk":          sign(t, key, (&jose.SignerOptions{}).WithType("dpop+jwt"), claims()),
		"private jwk":     sign(t, key, (&jose.SignerOptions{}).WithType("dpop+jwt").WithHeader("jwk", jose.JSONWebKey{Key: key}), claims()),
		"another path":    sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), merge(claims(), "htu", "https://rs.example/other")),
		"another host":    sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), merge(claims(), "htu", "https://evil.example/api/d/info")),
		"relative htu":    sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), merge(claims(), "htu", "/api/d/info")),
		"iat as a string": sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), merge(claims(), "iat", "now")),
		"iat too far":     sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), merge(claims(), "iat", now.Add(10*time.Second).Unix())),
		"long jti":        sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), merge(claims(), "jti", string(make([]byte, 300)))),
		"alg none":        "eyJhbGciOiJub25lIiwidHlwIjoiZHBvcCtqd3QifQ.eyJqdGkiOiJqIn0.",
		"tampered":        good[:len(good)-4] + "AAAA",
	} {
		if _, err := c.Check(context.Background(), proof, req); err == nil {
			t.Errorf("%s: accepted", name)
		} else if _, ok := AsError(err); !ok {
			t.Errorf("%s: not an *Error: %v", name, err)
		}
	}
}

func merge(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }

func TestNonces(t *testing.T) {
	ctx := context.Background()
	loads := 0
	n := NewNonces(func(context.Context) ([]byte, error) { loads++; return []byte("0123456789abcdef0123456789abcdef"), nil }, time.Minute)
	t0 := time.Unix(1_800_000_000, 0)
	cur, err := n.Current(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	for d, want := range map[time.Duration]bool{0: true, 59 * time.Second: true, 2*time.Minute - time.Second: true, 3 * time.Minute: false} {
		// A nonce is good in its step and the next, not after.
		start := t0.Truncate(time.Minute)
		if ok, _ := n.Valid(ctx, cur, start.Add(d)); ok != want {
			t.Errorf("nonce %v after its step began: %v, want %v", d, ok, want)
		}
	}
	if ok, _ := n.Valid(ctx, "forged", t0); ok {
		t.Error("a forged nonce is valid")
	}
	other := NewNonces(func(context.Context) ([]byte, error) { return []byte("another secret of thirty-two b!!"), nil }, time.Minute)
	if ok, _ := other.Valid(ctx, cur, t0); ok {
		t.Error("a nonce of another secret is valid")
	}
	if loads != 1 {
		t.Errorf("the secret was loaded %d times", loads)
	}
}

// TestCheckRefusesCostlyOrOddProofs: a huge RSA key or an unusual exponent
// (costly to verify, sent by anyone), a JSON-serialised JWS, a jwk for
// another algorithm and credentials in htu are refused before any
// signature is verified.
func TestCheckRefusesCostlyOrOddProofs(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := &Checker{MaxAge: time.Minute, Skew: 5 * time.Second, Now: func() time.Time { return now }}
	req := Request{Method: "POST", URL: "https://as.example/oauth/token"}
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	claims := b64(map[string]any{"jti": "j", "htm": "POST", "htu": req.URL, "iat": now.Unix()})
	rsaJWK := func(bits int, e int) map[string]string {
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		n.SetBit(n, 0, 1)
		eb := big.NewInt(int64(e)).Bytes()
		return map[string]string{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(n.Bytes()), "e": base64.RawURLEncoding.EncodeToString(eb)}
	}
	for name, jwk := range map[string]map[string]string{
		"8192-bit key":      rsaJWK(8192, 65537),
		"exponent 2^31 - 1": rsaJWK(2048, 1<<31-1),
	} {
		proof := b64(map[string]any{"typ": "dpop+jwt", "alg": "RS256", "jwk": jwk}) + "." + claims + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 256))
		if _, err := c.Check(context.Background(), proof, req); err == nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := map[string]any{"jti": "j2", "htm": "POST", "htu": req.URL, "iat": now.Unix()}
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	payload, _ := json.Marshal(good)
	obj, _ := s.Sign(payload)
	if _, err := c.Check(context.Background(), obj.FullSerialize(), req); err == nil {
		t.Error("a JSON-serialised proof was accepted")
	}
	wrongAlg := sign(t, key, (&jose.SignerOptions{}).WithType("dpop+jwt").WithHeader("jwk", jose.JSONWebKey{Key: key.Public(), Algorithm: "PS256"}), good)
	if _, err := c.Check(context.Background(), wrongAlg, req); err == nil {
		t.Error("a jwk for PS256 verified an ES256 proof")
	}
	withUser := map[string]any{"jti": "j3", "htm": "POST", "htu": "https://user:pw@as.example/oauth/token", "iat": now.Unix()}
	if _, err := c.Check(context.Background(), sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), withUser), req); err == nil {
		t.Error("an htu with credentials was accepted")
	}
	// A fractional iat is a NumericDate too (RFC 7519 §2).
	frac := map[string]any{"jti": "j4", "htm": "POST", "htu": req.URL, "iat": float64(now.Unix()) + 0.5}
	if _, err := c.Check(context.Background(), sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), frac), req); err != nil {
		t.Errorf("a fractional iat: %v", err)
	}
	if _, err := c.Check(context.Background(), sign(t, key, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), good), Request{Method: "POST", URL: req.URL, NoRS256: true}); err != nil {
		t.Errorf("ES256 with NoRS256: %v", err)
	}
}

package dpop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
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

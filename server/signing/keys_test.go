package signing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/server/signing"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// newKeys returns keys over a store on the embedded Redis (what is
// measured here is the signature, not Redis), tended once.
func newKeys(tb testing.TB) *signing.Keys {
	tb.Helper()
	_, rdb := redistest.Embedded(tb)
	st := store.New(rdb, store.Options{EncryptionKey: []byte("signing keys bench key, 32 bytes")})
	k := signing.New(st, signing.Options{Policy: store.KeyPolicy{RotateEvery: 720 * time.Hour,
		PublishAhead: 24 * time.Hour, Retain: time.Hour}})
	if err := k.Tend(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return k
}

type claims struct {
	Iss, Sub, Aud, Nonce string
	Exp, Iat             int64
}

// BenchmarkSign is the cost of one ID token's signature by algorithm.
func BenchmarkSign(b *testing.B) {
	k := newKeys(b)
	c := claims{Iss: "https://auth.example.com", Sub: "94cf0511-b86d-4fd1-8f83-9cc16eb60efd",
		Aud: "8e2b7977-41b1-4388-9c3b-5f9e10ecbb40", Nonce: "n-0S6_WzA2Mj", Exp: 1796245122, Iat: 1796241522}
	for _, alg := range store.IDTokenAlgs() {
		b.Run(alg, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.Sign(ctx, alg, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSignVerifyConcurrently signs with both algorithms from many
// goroutines and verifies each token (the race detector watches the
// signer cache), and refuses a token altered after signing.
func TestSignVerifyConcurrently(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			alg := store.IDTokenAlgs()[i%2]
			tok, err := k.Sign(ctx, alg, claims{Sub: "m", Iss: "i"})
			if err != nil {
				t.Error(err)
				return
			}
			var got claims
			if err := k.Verify(ctx, tok, &got); err != nil || got.Sub != "m" {
				t.Errorf("%s: %v %+v", alg, err, got)
			}
			bad := tok[:len(tok)-3] + "AAA"
			if err := k.Verify(ctx, bad, &got); err == nil {
				t.Errorf("%s: an altered token verified", alg)
			}
		})
	}
	wg.Wait()
}

package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestSealNeedsTheToken: what Redis holds (the token's digest and the
// sealed answer) does not open the sealed answer.
func TestSealNeedsTheToken(t *testing.T) {
	t.Parallel()
	token := NewCredential(KindRefresh, NewID())
	sealed, err := seal(token, []byte("the new pair"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := unseal(token, sealed); err != nil || string(pt) != "the new pair" {
		t.Fatalf("unseal with the token: %v", err)
	}
	digest, _ := hex.DecodeString(Digest(token))
	raw, _ := base64.RawStdEncoding.DecodeString(sealed)
	// Keys a reader of Redis could compute from the digest.
	for name, key := range map[string][]byte{
		"digest":             digest,
		"HMAC(digest,label)": hmacSum(digest, []byte(sealLabel)),
		"HMAC(label,digest)": hmacSum([]byte(sealLabel), digest),
	} {
		block, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(block)
		if _, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(sealLabel)); err == nil {
			t.Fatalf("the sealed answer opens with a key derived from the stored digest (%s)", name)
		}
	}
	if _, err := unseal(token+"x", sealed); err == nil {
		t.Fatal("another token opens it")
	}
}

func hmacSum(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// TestScriptsSafeToRunTwice: the exchange and refresh scripts, run a
// second time with the very same arguments (as a Redis client resends a
// command whose reply it lost), answer as the first run did and revoke
// nothing; a real replay (other arguments) still does.
func TestScriptsSafeToRunTwice(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := New(rdb, Options{})
		conn, code, err := s.Approve(ctx, Grant{ClientID: "app", MerchantID: "m", RedirectURI: "https://a.example/cb",
			Scopes: []string{"read:products"}})
		if err != nil {
			t.Fatal(err)
		}
		iss := s.newIssued(conn.ID, "app")
		run := func() ExchangeResult {
			res, err := s.Transitions().Exchange(ctx, conn.ID, ExchangeArgs{Code: Digest(code), ClientID: "app",
				Now: MillisOf(iss.IssuedAt), Access: Digest(iss.AccessToken), Refresh: Digest(iss.RefreshToken),
				AccessExp: MillisOf(iss.AccessExpiresAt), RefreshExp: MillisOf(iss.RefreshExpiresAt), TokenID: iss.TokenID})
			if err != nil {
				t.Fatal(err)
			}
			return *res
		}
		if first, again := run(), run(); first.Outcome != OutcomeOK || first != again {
			t.Fatalf("exchange run twice: %v then %v", first, again)
		}
		if _, err := s.LookupAccess(ctx, iss.AccessToken); err != nil {
			t.Fatalf("the exchange's token after a second run: %v", err)
		}

		next := s.newIssued(conn.ID, "app")
		sealed, err := next.seal(iss.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		refresh := func() RefreshResult {
			res, err := s.Transitions().Refresh(ctx, conn.ID, RefreshArgs{Refresh: Digest(iss.RefreshToken),
				ClientID: "app", Now: MillisOf(next.IssuedAt), Access: Digest(next.AccessToken),
				RefreshNew: Digest(next.RefreshToken), AccessExp: MillisOf(next.AccessExpiresAt),
				RefreshExp: MillisOf(next.RefreshExpiresAt), TokenID: next.TokenID, Sealed: sealed,
				RetryUntil: MillisOf(next.IssuedAt.Add(10 * time.Second))})
			if err != nil {
				t.Fatal(err)
			}
			return *res
		}
		if first, again := refresh(), refresh(); first.Outcome != OutcomeOK || first != again {
			t.Fatalf("refresh run twice: %v then %v", first, again)
		}
		if _, err := s.LookupAccess(ctx, next.AccessToken); err != nil {
			t.Fatalf("the refresh's token after a second run: %v", err)
		}
		// A replay of the used code is still one.
		if _, err := s.ExchangeCode(ctx, CodeExchange{Code: code, ClientID: "app"}); err == nil {
			t.Fatal("a replayed code was taken")
		}
		if _, err := s.LookupAccess(ctx, next.AccessToken); err == nil {
			t.Fatal("a replayed code did not revoke the connection")
		}
	})
}

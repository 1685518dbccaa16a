package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestPushedRequests: a pushed authorization request is the pushing app's,
// must be presented within its life, may be presented again until it is
// decided (a reload), and is decided once, however many decisions race.
func TestPushedRequests(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		uri, err := f.st.PushAuthorization(ctx, f.app.ClientID, "client_id=x&scope=a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.ClaimPushed(ctx, uri, "another-app", time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another app's claim: %v", err)
		}
		if err := f.st.ConsumePushed(ctx, uri, f.app.ClientID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a decision before it was presented: %v", err)
		}
		for range 2 {
			params, err := f.st.ClaimPushed(ctx, uri, f.app.ClientID, time.Hour)
			if err != nil || params != "client_id=x&scope=a" {
				t.Fatalf("claim: %q %v", params, err)
			}
		}
		// Claimed, it outlives its first minute: the merchant is logging in.
		f.clock.Add(10 * time.Minute)
		if _, err := f.st.ClaimPushed(ctx, uri, f.app.ClientID, time.Hour); err != nil {
			t.Fatalf("claimed request after its minute: %v", err)
		}
		var won atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if f.st.ConsumePushed(ctx, uri, f.app.ClientID) == nil {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d decisions won", won.Load())
		}
		if _, err := f.st.ClaimPushed(ctx, uri, f.app.ClientID, time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("decided request claimed again: %v", err)
		}
		// Not presented within its life: gone, by the store's clock.
		late, _ := f.st.PushAuthorization(ctx, f.app.ClientID, "a=b", time.Minute)
		f.clock.Add(time.Minute)
		if _, err := f.st.ClaimPushed(ctx, late, f.app.ClientID, time.Hour); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("late claim: %v", err)
		}
		for _, bad := range []string{"", "urn:x", store.RequestURIPrefix + "unknown"} {
			if _, err := f.st.ClaimPushed(ctx, bad, f.app.ClientID, time.Hour); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("claim %q: %v", bad, err)
			}
		}
	})
}

// TestDPoPBindings: the DPoP key a connection's tokens are bound to, as
// the lookups see it, and a bound refresh token or code refused without
// its key and without revoking anything.
func TestDPoPBindings(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		const jkt, other = "key-thumbprint", "another-key"
		_, code := f.approve(t, "")
		iss, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID, JKT: jkt, BindRefresh: true})
		if err != nil || iss.JKT != jkt {
			t.Fatalf("exchange: %+v %v", iss, err)
		}
		at, err := f.st.LookupAccess(ctx, iss.AccessToken)
		if err != nil || at.JKT != jkt {
			t.Fatalf("access lookup: %+v %v", at, err)
		}
		rt, err := f.st.LookupToken(ctx, iss.RefreshToken)
		if err != nil || rt.JKT != jkt {
			t.Fatalf("refresh lookup: %+v %v", rt, err)
		}
		for _, k := range []string{"", other} {
			_, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID, JKT: k})
			var ref *store.Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("refresh with key %q: %v", k, err)
			}
		}
		next, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID, JKT: jkt})
		if err != nil || next.JKT != jkt {
			t.Fatalf("refresh with the key: %+v %v", next, err)
		}
		// The retry window's answer says which key its token is bound to.
		again, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID, JKT: jkt})
		if err != nil || again.AccessToken != next.AccessToken || again.JKT != jkt {
			t.Fatalf("retry: %+v %v", again, err)
		}
		// An old, used refresh token without the key is refused and
		// revokes nothing: only the key's holder is a replay.
		f.clock.Add(time.Minute)
		if _, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID}); err == nil {
			t.Fatal("a used bound refresh token refreshed without a proof")
		}
		if c, _ := f.st.GetConnection(ctx, iss.ConnectionID); c.Status != store.StatusActive {
			t.Fatalf("a keyless replay revoked the connection: %s", c.Status)
		}
		// An unbound public refresh token becomes bound at its first
		// refresh with a proof.
		_, code2 := f.approve(t, "")
		open, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code2, ClientID: f.app.ClientID})
		if err != nil {
			t.Fatal(err)
		}
		rebound, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: open.RefreshToken, ClientID: f.app.ClientID, JKT: jkt, BindRefresh: true})
		if err != nil {
			t.Fatal(err)
		}
		if rt, err := f.st.LookupToken(ctx, rebound.RefreshToken); err != nil || rt.JKT != jkt {
			t.Fatalf("the refresh token was not bound: %+v %v", rt, err)
		}
		// The proof replay cache: one use, and the pipelined check.
		if ok, err := f.st.ClaimProof(ctx, jkt, "jti-1", time.Minute); err != nil || !ok {
			t.Fatalf("first proof: %v %v", ok, err)
		}
		if ok, _ := f.st.ClaimProof(ctx, jkt, "jti-1", time.Minute); ok {
			t.Fatal("a proof was claimed twice")
		}
		info, fresh, err := f.st.LookupAccessProof(ctx, next.AccessToken, jkt, "jti-2", time.Minute)
		if err != nil || !fresh || info.JKT != jkt {
			t.Fatalf("lookup with proof: %+v %v %v", info, fresh, err)
		}
		if _, fresh, _ := f.st.LookupAccessProof(ctx, next.AccessToken, jkt, "jti-2", time.Minute); fresh {
			t.Fatal("a resource proof was claimed twice")
		}

		// A code bound to a key (dpop_jkt) needs a proof of it.
		conn, bound, err := f.st.Approve(ctx, store.Grant{ClientID: f.app.ClientID, MerchantID: f.merchant.ID,
			RedirectURI: "https://app.example.com/cb", Scopes: []string{"read:products"}, CodeJKT: jkt})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"", other} {
			if _, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: bound, ClientID: f.app.ClientID, JKT: k}); err == nil {
				t.Fatalf("bound code exchanged with key %q", k)
			}
		}
		if c, _ := f.st.GetConnection(ctx, conn.ID); c.Status != store.StatusPending {
			t.Fatalf("a refused exchange changed the connection: %s", c.Status)
		}
		if _, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: bound, ClientID: f.app.ClientID, JKT: jkt}); err != nil {
			t.Fatalf("bound code with its key: %v", err)
		}
		// An assertion's jti is one use per app.
		until := f.clock.Now().Add(time.Minute)
		if ok, _ := f.st.ClaimAssertion(ctx, f.app.ClientID, "a-1", until); !ok {
			t.Fatal("first assertion refused")
		}
		if ok, _ := f.st.ClaimAssertion(ctx, f.app.ClientID, "a-1", until); ok {
			t.Fatal("assertion claimed twice")
		}
		// Every instance derives its nonces from one secret.
		s1, err1 := f.st.NonceSecret(ctx)
		s2, err2 := store.New(rdb, store.Options{}).NonceSecret(ctx)
		if err1 != nil || err2 != nil || string(s1) != string(s2) || len(s1) != 32 {
			t.Fatalf("nonce secrets differ: %v %v", err1, err2)
		}
	})
}

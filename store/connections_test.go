package store_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

func TestListAndRevokeConnections(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		other, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Other", RedirectURIs: []string{"https://o.example.com/cb"}, Scopes: catalogue}, catalogue)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for range 3 {
			c, code := f.approve(t, "")
			f.exchange(t, code)
			ids = append(ids, c.ID)
			f.clock.Add(time.Millisecond) // distinct creation times
		}
		otherConn, _, err := f.st.Approve(ctx, store.Grant{ClientID: other.ClientID, MerchantID: f.merchant.ID,
			RedirectURI: "https://o.example.com/cb", Scopes: []string{"read:products"}})
		if err != nil {
			t.Fatal(err)
		}

		list, total, err := f.st.ListConnections(ctx, store.ConnectionFilter{ClientID: f.app.ClientID}, 0, 2)
		if err != nil || total != 3 || len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[1] {
			t.Fatalf("page 1: %v total=%d %v", err, total, list)
		}
		list, _, _ = f.st.ListConnections(ctx, store.ConnectionFilter{ClientID: f.app.ClientID}, 2, 2)
		if len(list) != 1 || list[0].ID != ids[0] {
			t.Fatalf("page 2: %v", list)
		}
		if _, total, _ := f.st.ListConnections(ctx, store.ConnectionFilter{MerchantID: f.merchant.ID}, 0, 10); total != 4 {
			t.Fatalf("by merchant: %d", total)
		}
		if _, total, _ := f.st.ListConnections(ctx, store.ConnectionFilter{MerchantID: f.merchant.ID, ClientID: other.ClientID}, 0, 10); total != 1 {
			t.Fatalf("by merchant and app: %d", total)
		}
		if _, total, _ := f.st.ListConnections(ctx, store.ConnectionFilter{}, 0, 10); total != 4 {
			t.Fatalf("all: %d", total)
		}
		counts, err := f.st.CountConnections(ctx, []string{f.app.ClientID, other.ClientID})
		if err != nil || counts[f.app.ClientID] != 3 || counts[other.ClientID] != 1 {
			t.Fatalf("counts: %v %v", err, counts)
		}

		// Revoked ones leave the lists; the record says who did it.
		if err := f.st.RevokeConnection(ctx, ids[1], "admin:x"); err != nil {
			t.Fatal(err)
		}
		if err := f.st.RevokeConnection(ctx, ids[1], "admin:x"); err != nil {
			t.Fatalf("revoking twice: %v", err)
		}
		got, err := f.st.GetConnection(ctx, ids[1])
		if err != nil || got.Status != store.StatusRevoked || got.RevokedBy != "admin:x" || got.RevokedAt.IsZero() {
			t.Fatalf("revoked record: %v %+v", err, got)
		}
		if _, total, _ := f.st.ListConnections(ctx, store.ConnectionFilter{ClientID: f.app.ClientID}, 0, 10); total != 2 {
			t.Fatalf("after revoke: %d", total)
		}

		// Expired records are dropped from the lists when met.
		if err := rdb.Del(ctx, "conn:{"+otherConn.ID+"}").Err(); err != nil {
			t.Fatal(err)
		}
		if _, total, _ := f.st.ListConnections(ctx, store.ConnectionFilter{ClientID: other.ClientID}, 0, 10); total != 0 {
			t.Fatalf("expired connection listed: %d", total)
		}
		// A fresh entry without its record may be a write in flight (on a
		// cluster the index can land first): kept for now...
		if n := rdb.ZCard(ctx, "app-conns:"+other.ClientID).Val(); n != 1 {
			t.Fatalf("a fresh entry without its record was dropped: %d", n)
		}
		// ...and dropped once it is older than any write in flight.
		f.clock.Add(2 * time.Minute)
		if _, total, _ := f.st.ListConnections(ctx, store.ConnectionFilter{ClientID: other.ClientID}, 0, 10); total != 0 {
			t.Fatalf("expired connection listed: %d", total)
		}
		if n := rdb.ZCard(ctx, "app-conns:"+other.ClientID).Val(); n != 0 {
			t.Fatalf("expired connection left in the index: %d", n)
		}

		n, err := f.st.RevokeAppConnections(ctx, f.app.ClientID, "admin:x")
		if err != nil || n != 2 {
			t.Fatalf("revoke all: %v %d", err, n)
		}
	})
}

func TestRevokeByToken(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		_, code := f.approve(t, "")
		iss := f.exchange(t, code)
		before := redistest.Snapshot(t, rdb)
		for name, tok := range map[string]string{
			"unknown":  "at-" + store.NewID() + "." + store.NewSecret(),
			"garbage":  "x",
			"the code": code,
		} {
			if ok, err := f.st.RevokeByToken(ctx, tok, f.app.ClientID); ok || err != nil {
				t.Errorf("%s: %v %v", name, ok, err)
			}
		}
		if ok, err := f.st.RevokeByToken(ctx, iss.AccessToken, "another-client"); ok || err != nil {
			t.Fatalf("another client's token: %v %v", ok, err)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
		if ok, err := f.st.RevokeByToken(ctx, iss.RefreshToken, f.app.ClientID); !ok || err != nil {
			t.Fatalf("own refresh token: %v %v", ok, err)
		}
		if _, err := f.st.LookupAccess(ctx, iss.AccessToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("the access token survived revoking the refresh token")
		}
		if _, err := f.st.LookupToken(ctx, iss.RefreshToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("the refresh token survived")
		}
	})
}

func TestLookupToken(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		_, code := f.approve(t, "")
		iss := f.exchange(t, code)
		rt, err := f.st.LookupToken(ctx, iss.RefreshToken)
		if err != nil || rt.Kind != store.KindRefresh || !rt.ExpiresAt.Equal(iss.RefreshExpiresAt) {
			t.Fatalf("refresh: %v %+v", err, rt)
		}
		at, err := f.st.LookupToken(ctx, iss.AccessToken)
		if err != nil || at.Kind != store.KindAccess || !at.ExpiresAt.Equal(iss.AccessExpiresAt) {
			t.Fatalf("access: %v %+v", err, at)
		}
		if _, err := f.st.LookupAccess(ctx, iss.RefreshToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("a refresh token passed as an access token")
		}
	})
}

func TestAudit(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		conn, code := f.approve(t, "")
		iss := f.exchange(t, code)
		if _, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID}); err != nil {
			t.Fatal(err)
		}
		_, _ = f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID}) // reuse
		if err := f.st.SetAppDisabled(ctx, f.app.ClientID, true, "admin:a"); err != nil {
			t.Fatal(err)
		}
		conn2, _ := f.approve(t, "")
		if err := f.st.RevokeConnection(ctx, conn2.ID, store.ActorMerchant(f.merchant.ID)); err != nil {
			t.Fatal(err)
		}
		events, next, err := f.st.ListAudit(ctx, store.AuditFilter{}, "", 100)
		if err != nil || next != "" {
			t.Fatal(err, next)
		}
		var types []string
		for _, e := range events {
			types = append(types, string(e.Type))
		}
		want := []string{"revoke", "grant", "app", "reuse", "refresh", "exchange", "grant"}
		if len(types) != len(want) {
			t.Fatalf("events %v, want %v", types, want)
		}
		for i := range want {
			if types[i] != want[i] {
				t.Fatalf("events %v, want %v", types, want)
			}
		}
		if events[0].Actor != store.ActorMerchant(f.merchant.ID) || events[0].ConnectionID != conn2.ID {
			t.Fatalf("revoke event: %+v", events[0])
		}
		mine, _, _ := f.st.ListAudit(ctx, store.AuditFilter{ConnectionID: conn.ID}, "", 100)
		if len(mine) != 4 {
			t.Fatalf("filtered by connection: %d", len(mine))
		}
		page1, next, _ := f.st.ListAudit(ctx, store.AuditFilter{}, "", 3)
		page2, _, _ := f.st.ListAudit(ctx, store.AuditFilter{}, next, 3)
		if len(page1) != 3 || next == "" || len(page2) != 3 || page2[0].ID == page1[2].ID || page2[0].Type != "reuse" {
			t.Fatalf("pagination: %v / %v", page1, page2)
		}
	})
}

func TestAdminAccountsAndKeys(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		a, err := f.st.CreateAdmin(ctx, "ops@example.com", "admin pw")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.AuthenticateAdmin(ctx, "ops@example.com", "admin pw"); err != nil {
			t.Fatal(err)
		}
		// Merchants and admins never mix.
		if _, err := f.st.AuthenticateAdmin(ctx, f.merchant.Email, "correct horse"); !errors.Is(err, store.ErrBadCredentials) {
			t.Fatalf("merchant as admin: %v", err)
		}
		if _, err := f.st.AuthenticateMerchant(ctx, "ops@example.com", "admin pw"); !errors.Is(err, store.ErrBadCredentials) {
			t.Fatalf("admin as merchant: %v", err)
		}
		if got, err := f.st.GetAdmin(ctx, a.ID); err != nil || got.Email != "ops@example.com" {
			t.Fatal(err)
		}
		key, err := f.st.CreateAdminKey(ctx, "ci")
		if err != nil {
			t.Fatal(err)
		}
		if k, err := f.st.AuthenticateAdminKey(ctx, key); err != nil || k.Name != "ci" {
			t.Fatalf("key: %v", err)
		}
		for _, bad := range []string{key + "x", "ek-", "", f.secret} {
			if _, err := f.st.AuthenticateAdminKey(ctx, bad); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("bad key %q accepted", bad)
			}
		}
		if _, err := f.st.CreateAdminKey(ctx, " "); !errors.Is(err, store.ErrInvalid) {
			t.Fatal("nameless key")
		}
	})
}

// TestAppCache: a cached app is served without Redis; a change made here
// is seen at once, and one made by another instance (another Store on the
// same Redis) arrives over pub/sub.
func TestAppCache(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cache := store.NewAppCache(f.st, time.Hour)
		ready := make(chan struct{})
		go cache.Run(ctx, ready)
		<-ready

		if a, err := cache.Get(ctx, f.app.ClientID); err != nil || a.Disabled {
			t.Fatal(err)
		}
		// Served from memory: a change written behind the cache's back is
		// not seen...
		rdb.HSet(ctx, "app:"+f.app.ClientID, "name", "Renamed")
		if a, _ := cache.Get(ctx, f.app.ClientID); a.Name != "Shop sync" {
			t.Fatal("not cached")
		}
		// ...but a change through the store is, at once.
		if err := f.st.SetAppDisabled(ctx, f.app.ClientID, true, "test"); err != nil {
			t.Fatal(err)
		}
		if a, _ := cache.Get(ctx, f.app.ClientID); !a.Disabled || a.Name != "Renamed" {
			t.Fatalf("local change not seen: %+v", a)
		}
		// Another instance's change arrives over pub/sub.
		other := store.New(rdb, store.Options{})
		if err := other.SetAppDisabled(ctx, f.app.ClientID, false, "test"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			a, err := cache.Get(ctx, f.app.ClientID)
			if err != nil {
				t.Fatal(err)
			}
			if !a.Disabled {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("another instance's change did not arrive within 2 s")
			}
			runtime.Gosched()
		}
		if err := f.st.SetAppDisabled(ctx, "nope", true, "test"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown app: %v", err)
		}
	})
}

// TestAuditWriter: with the writer running, events are queued and written
// in batches, in order; a reader sees them all; stopping writes the rest.
func TestAuditWriter(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.st.RunAuditWriter(ctx); close(done) }()
		var ids []string
		for range 20 {
			c, _ := f.approve(t, "")
			ids = append(ids, c.ID)
		}
		events, _, err := f.st.ListAudit(context.Background(), store.AuditFilter{}, "", 100)
		if err != nil || len(events) != 20 {
			t.Fatalf("a reader must see every event so far: %v %d", err, len(events))
		}
		for i, e := range events {
			if e.ConnectionID != ids[len(ids)-1-i] {
				t.Fatalf("event %d out of order", i)
			}
		}
		for range 5 {
			f.approve(t, "")
		}
		cancel()
		<-done
		if n := rdb.XLen(context.Background(), "audit").Val(); n != 25 {
			t.Fatalf("stopping the writer left events unwritten: %d of 25", n)
		}
	})
}

// TestAppCacheSilentSubscription: when the subscription's connection goes
// silent (no message, no reset), an unanswered ping stops the cache from
// serving, since a change could go unheard; once the connection answers
// again, the cache serves again.
func TestAppCacheSilentSubscription(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	proxy := redistest.NewProxy(t, rs.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	st := store.New(rdb, store.Options{})
	cache := store.NewAppCache(st, time.Minute).PingAfter(100 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	go func() { cache.Run(ctx, ready); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-ready
	if !cache.Live() {
		t.Fatal("not live once subscribed")
	}
	poll := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
			<-tick.C
		}
	}
	proxy.Freeze()
	poll("the cache still serves over a silent subscription", func() bool { return !cache.Live() })
	proxy.Thaw()
	poll("the cache does not serve again once the subscription answers", cache.Live)
}

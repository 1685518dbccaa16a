package store_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
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

		list := func(f0 store.ConnectionFilter, p store.Page) *store.ConnectionPage {
			t.Helper()
			page, err := f.st.ListConnections(ctx, f0, p)
			if err != nil {
				t.Fatal(err)
			}
			return page
		}
		byApp := store.ConnectionFilter{ClientID: f.app.ClientID}
		// Latest expiry first: here, the last exchanged first.
		p1 := list(byApp, store.Page{Limit: 2})
		if p1.Total != 3 || len(p1.Connections) != 2 || p1.Connections[0].ID != ids[2] || p1.Connections[1].ID != ids[1] || p1.Next == "" {
			t.Fatalf("page 1: %+v", p1)
		}
		p2 := list(byApp, store.Page{Limit: 2, Cursor: p1.Next})
		if len(p2.Connections) != 1 || p2.Connections[0].ID != ids[0] || p2.Next != "" {
			t.Fatalf("page 2 by cursor: %+v", p2)
		}
		if p := list(byApp, store.Page{Limit: 2, Offset: 2}); len(p.Connections) != 1 || p.Connections[0].ID != ids[0] {
			t.Fatalf("page 2 by offset: %+v", p)
		}
		if p := list(store.ConnectionFilter{MerchantID: f.merchant.ID}, store.Page{}); p.Total != 4 || len(p.Connections) != 4 {
			t.Fatalf("by merchant: %+v", p)
		}
		if p := list(store.ConnectionFilter{MerchantID: f.merchant.ID, ClientID: other.ClientID}, store.Page{}); len(p.Connections) != 1 || p.Connections[0].ID != otherConn.ID {
			t.Fatalf("by merchant and app: %+v", p)
		}
		if p := list(store.ConnectionFilter{}, store.Page{}); p.Total != 4 {
			t.Fatalf("all: %+v", p)
		}
		counts, err := f.st.CountConnections(ctx, []*store.App{f.app, other})
		if err != nil || counts[f.app.ClientID] != 3 || counts[other.ClientID] != 1 {
			t.Fatalf("counts: %v %v", err, counts)
		}
		// Bad pages are refused.
		for _, p := range []store.Page{{Cursor: "not-a-cursor!"}, {Cursor: "Zm9v"}, {Limit: store.MaxLimit + 1},
			{Offset: store.MaxOffset + 1}, {Offset: 1, Cursor: p1.Next}, {Limit: -1}} {
			if _, err := f.st.ListConnections(ctx, byApp, p); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("page %+v: %v, want ErrInvalid", p, err)
			}
		}

		// Revoked ones leave the lists and the counts; the record says who did it.
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
		if p := list(byApp, store.Page{}); p.Total != 2 || len(p.Connections) != 2 {
			t.Fatalf("after revoke: %+v", p)
		}
		if counts, err := f.st.CountConnections(ctx, []*store.App{f.app, other}); err != nil || counts[f.app.ClientID] != 2 {
			t.Fatalf("counts after revoke (twice): %v %v", err, counts)
		}

		// An expired connection (the pending one: its code lapses first)
		// leaves lists and counts at once, before any trimming...
		f.clock.Add(store.DefaultLifetimes.Code + time.Millisecond)
		if p := list(store.ConnectionFilter{ClientID: other.ClientID}, store.Page{}); p.Total != 0 || len(p.Connections) != 0 {
			t.Fatalf("expired connection listed: %+v", p)
		}
		if p := list(store.ConnectionFilter{MerchantID: f.merchant.ID}, store.Page{}); p.Total != 2 {
			t.Fatalf("expired connection counted for its merchant: %+v", p)
		}
		// ...and its entries go when the indexes are trimmed.
		if n := store.IndexEntries(ctx, rdb, otherConn.ID); n != 3 {
			t.Fatalf("index entries before trimming: %d, want 3", n)
		}
		if err := store.TrimIndexes(ctx, f.st); err != nil {
			t.Fatal(err)
		}
		if n := store.IndexEntries(ctx, rdb, otherConn.ID); n != 0 {
			t.Fatalf("index entries after trimming: %d, want 0", n)
		}
		// The app's count follows its entries; trimming again changes nothing.
		for range 2 {
			if counts, err := f.st.CountConnections(ctx, []*store.App{f.app, other}); err != nil ||
				counts[other.ClientID] != 0 || counts[f.app.ClientID] != 2 {
				t.Fatalf("counts after trimming: %v %v", err, counts)
			}
			if err := store.TrimIndexes(ctx, f.st); err != nil {
				t.Fatal(err)
			}
		}
		if p := list(byApp, store.Page{}); p.Total != 2 {
			t.Fatalf("trimming dropped a live connection: %+v", p)
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
		// One connection's events are in one shard, in the order they
		// happened; across shards, the merge orders by time (events of the
		// same millisecond in different shards come by shard).
		byConn := map[string][]string{}
		var types []string
		for i, e := range events {
			types = append(types, string(e.Type))
			byConn[e.ConnectionID] = append(byConn[e.ConnectionID], string(e.Type))
			if i > 0 && e.Time.After(events[i-1].Time) {
				t.Fatalf("events out of time order: %+v", events)
			}
		}
		for id, want := range map[string][]string{conn.ID: {"reuse", "refresh", "exchange", "grant"},
			conn2.ID: {"revoke", "grant"}, "": {"app", "app"}} {
			if !slices.Equal(byConn[id], want) {
				t.Fatalf("events of %q: %v, want %v (all: %v)", id, byConn[id], want, types)
			}
		}
		if len(events) != 8 {
			t.Fatalf("events %v, want 8", types)
		}
		revoke := events[slices.IndexFunc(events, func(e store.Event) bool { return e.Type == store.EventRevoke })]
		if revoke.Actor != store.ActorMerchant(f.merchant.ID) || revoke.ConnectionID != conn2.ID {
			t.Fatalf("revoke event: %+v", revoke)
		}
		// Newest first: the disabling, then the app's registration.
		app := events[slices.IndexFunc(events, func(e store.Event) bool { return e.Type == store.EventApp })]
		if app.Actor != "admin:a" || app.ClientID != f.app.ClientID || app.Detail != "disabled" {
			t.Fatalf("app event: %+v", app)
		}
		if created := events[len(events)-1]; created.Type != store.EventApp || created.Detail != "created" ||
			created.Actor != store.ActorCLI || created.ClientID != f.app.ClientID {
			t.Fatalf("the app's registration event: %+v", created)
		}
		mine, _, _ := f.st.ListAudit(ctx, store.AuditFilter{ConnectionID: conn.ID}, "", 100)
		if len(mine) != 4 {
			t.Fatalf("filtered by connection: %d", len(mine))
		}
		page1, next, _ := f.st.ListAudit(ctx, store.AuditFilter{}, "", 3)
		page2, next2, _ := f.st.ListAudit(ctx, store.AuditFilter{}, next, 3)
		page3, next3, _ := f.st.ListAudit(ctx, store.AuditFilter{}, next2, 3)
		var paged []store.Event
		for _, p := range [][]store.Event{page1, page2, page3} {
			paged = append(paged, p...)
		}
		if len(page1) != 3 || len(page2) != 3 || len(page3) != 2 || next3 != "" ||
			!slices.EqualFunc(paged, events, func(a, b store.Event) bool { return a.ID == b.ID }) {
			t.Fatalf("pagination: %v / %v / %v, want %v", page1, page2, page3, events)
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
		key, _, err := f.st.CreateAdminKey(ctx, "ci", 0)
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
		if _, _, err := f.st.CreateAdminKey(ctx, " ", 0); !errors.Is(err, store.ErrInvalid) {
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
		rdb.HSet(ctx, store.AppKey(f.app.ClientID), "name", "Renamed")
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

// TestAuditMerged: events written in many shards come back merged, newest
// first, page by page, each once; a filter by connection reads its shard.
func TestAuditMerged(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		want := map[string]bool{}
		for range 40 {
			c, _ := f.approve(t, "")
			want[c.ID] = true
		}
		seen := map[string]bool{}
		var last store.Event
		before := ""
		for pages := 0; ; pages++ {
			events, next, err := f.st.ListAudit(ctx, store.AuditFilter{}, before, 7)
			if err != nil || pages > 10 {
				t.Fatalf("page %d: %v", pages, err)
			}
			for _, e := range events {
				if seen[e.ID] {
					t.Fatalf("event %s twice", e.ID)
				}
				seen[e.ID] = true
				if last.ID != "" && e.Time.After(last.Time) {
					t.Fatalf("event %s (%v) after a newer one (%v)", e.ID, e.Time, last.Time)
				}
				if e.Type == store.EventApp && e.Detail == "created" && e.ClientID == f.app.ClientID {
					last = e
					continue // the fixture's app
				}
				if e.Type != store.EventGrant || !want[e.ConnectionID] {
					t.Fatalf("unexpected event %+v", e)
				}
				last = e
			}
			if next == "" {
				break
			}
			before = next
		}
		if len(seen) != 41 {
			t.Fatalf("%d events, want 40 grants and the app's registration", len(seen))
		}
		for id := range want {
			events, _, err := f.st.ListAudit(ctx, store.AuditFilter{ConnectionID: id}, "", 10)
			if err != nil || len(events) != 1 || events[0].ConnectionID != id {
				t.Fatalf("by connection: %v %+v", err, events)
			}
			break
		}
		if _, _, err := f.st.ListAudit(ctx, store.AuditFilter{}, "1-0", 10); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a stream id without its shard: %v", err)
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

// TestOffsetCountsRows: with filters that drop index entries (another app
// of the same merchant), offset pages continue where the last page ended,
// as next_offset says: no row twice, none missed.
func TestOffsetCountsRows(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client(t)
	f := newFixture(t, rdb)
	ctx := context.Background()
	other, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Other", RedirectURIs: []string{"https://o.example.com/cb"},
		Scopes: catalogue}, catalogue)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for range 4 {
		c, _ := f.approve(t, "")
		mine = append(mine, c.ID)
		f.clock.Add(time.Millisecond)
		if _, _, err := f.st.Approve(ctx, store.Grant{ClientID: other.ClientID, MerchantID: f.merchant.ID,
			RedirectURI: "https://o.example.com/cb", Scopes: []string{"read:products"}}); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(time.Millisecond)
	}
	filter := store.ConnectionFilter{MerchantID: f.merchant.ID, ClientID: f.app.ClientID}
	var got []string
	for off := 0; off < 4; off += 2 {
		p, err := f.st.ListConnections(ctx, filter, store.Page{Limit: 2, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Connections {
			got = append(got, c.ID)
		}
	}
	slices.Reverse(mine) // latest expiry first
	if !slices.Equal(got, mine) {
		t.Fatalf("offset pages %v, want %v", got, mine)
	}
}

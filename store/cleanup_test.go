package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestAppWideRevocation: one write cuts off every connection of an app —
// every check refuses its tokens, codes and refresh tokens at once, lists
// and counts drop them — while a connection made afterwards works; the
// background clean-up then revokes each old connection, with its event.
func TestAppWideRevocation(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		cache := store.NewAppCache(f.st, time.Hour)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ready := make(chan struct{})
		go cache.Run(cctx, ready)
		<-ready
		v := resource.NewVerifier(f.st, cache)

		const old = 300
		var tokens []*store.Issued
		var codes []string
		for i := range old {
			_, code := f.approve(t, "")
			if i%3 == 0 {
				tokens = append(tokens, f.exchange(t, code))
			} else {
				codes = append(codes, code)
			}
		}
		if _, err := v.VerifyAccess(ctx, tokens[0].AccessToken); err != nil {
			t.Fatalf("before: %v", err)
		}
		r, err := f.st.RevokeAllConnections(ctx, f.app.ClientID, "admin:ops")
		if err != nil || r.Generation != 1 || r.Done || r.Revoked != 0 {
			t.Fatalf("revoke all: %v %+v", err, r)
		}
		if _, err := f.st.RevokeAllConnections(ctx, "nope", "admin:ops"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown app: %v", err)
		}
		app, err := cache.Get(ctx, f.app.ClientID)
		if err != nil || app.Generation != 1 || app.RevokedAllBy != "admin:ops" {
			t.Fatalf("cached app after the revocation: %v %+v", err, app)
		}

		// At once, before any clean-up: every old credential is refused.
		for _, iss := range tokens {
			if _, err := v.VerifyAccess(ctx, iss.AccessToken); !errors.Is(err, resource.ErrInactive) {
				t.Fatalf("an old access token still works: %v", err)
			}
		}
		if _, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: tokens[1].RefreshToken, ClientID: f.app.ClientID,
			AppGeneration: app.Generation}); err == nil {
			t.Fatal("an old refresh token still refreshes")
		}
		if _, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: codes[0], ClientID: f.app.ClientID,
			AppGeneration: app.Generation}); err == nil {
			t.Fatal("an old code still exchanges")
		}
		if n, _ := f.st.CountConnections(ctx, []*store.App{app}); n[app.ClientID] != 0 {
			t.Fatalf("count after the revocation: %d", n[app.ClientID])
		}
		if p, _ := f.st.ListConnections(ctx, store.ConnectionFilter{ClientID: app.ClientID}, store.Page{}); len(p.Connections) != 0 {
			t.Fatalf("the app's list after the revocation: %d", len(p.Connections))
		}
		if p, _ := f.st.ListConnections(ctx, store.ConnectionFilter{MerchantID: f.merchant.ID}, store.Page{}); len(p.Connections) != 0 {
			t.Fatalf("the merchant's list after the revocation: %d", len(p.Connections))
		}

		// A connection made afterwards works, and the clean-up spares it.
		conn, code, err := f.st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: f.merchant.ID,
			RedirectURI: "https://app.example.com/cb", Scopes: []string{"read:products"}, AppGeneration: app.Generation})
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: app.ClientID, AppGeneration: app.Generation})
		if err != nil {
			t.Fatalf("a new connection's code: %v", err)
		}
		if _, err := v.VerifyAccess(ctx, fresh.AccessToken); err != nil {
			t.Fatalf("a new connection's token: %v", err)
		}

		steps := make(chan store.Revocation, 1000)
		mctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			f.st.RunMaintenance(mctx, store.MaintenanceOptions{Tick: time.Millisecond, Batch: 64,
				OnStep: func(r store.Revocation) { steps <- r }})
			close(done)
		}()
		defer func() { stop(); <-done }()
		var last store.Revocation
		for !last.Done {
			select {
			case last = <-steps:
			case <-time.After(10 * time.Second):
				t.Fatalf("clean-up stuck at %+v", last)
			}
		}
		if last.Revoked != old || last.Shard != store.Shards {
			t.Fatalf("clean-up revoked %d of %d (%+v)", last.Revoked, old, last)
		}
		got, err := f.st.AppRevocation(ctx, app.ClientID)
		if err != nil || !got.Done || got.Revoked != old || got.FinishedAt.IsZero() {
			t.Fatalf("progress after: %v %+v", err, got)
		}
		c, err := f.st.GetConnection(ctx, tokens[2].ConnectionID)
		if err != nil || c.Status != store.StatusRevoked || c.RevokedBy != "admin:ops" {
			t.Fatalf("an old connection after the clean-up: %v %+v", err, c)
		}
		if c, _ := f.st.GetConnection(ctx, conn.ID); c.Status != store.StatusActive {
			t.Fatalf("the new connection after the clean-up: %+v", c)
		}
		if n, _ := f.st.CountConnections(ctx, []*store.App{app}); n[app.ClientID] != 1 {
			t.Fatalf("count after the clean-up: %d, want the new connection alone", n[app.ClientID])
		}
		if _, err := v.VerifyAccess(ctx, fresh.AccessToken); err != nil {
			t.Fatalf("the new connection's token after the clean-up: %v", err)
		}
		events, _, err := f.st.ListAudit(ctx, store.AuditFilter{ConnectionID: tokens[2].ConnectionID}, "", 10)
		if err != nil || len(events) == 0 || events[0].Type != store.EventRevoke || events[0].Detail != "app-wide revocation" {
			t.Fatalf("an old connection's last event: %v %+v", err, events)
		}
		// Every index entry of the old connections is gone.
		if n := store.IndexEntries(ctx, rdb, tokens[2].ConnectionID); n != 0 {
			t.Fatalf("index entries left: %d", n)
		}
	})
}

// TestMaintenanceOneAtATime: of several instances running the maintenance,
// one holds the lease and does every step; when it stops, another takes
// over and finishes from where it was.
func TestMaintenanceOneAtATime(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client(t)
	f := newFixture(t, rdb)
	ctx := context.Background()
	for range 200 {
		f.approve(t, "")
	}
	if _, err := f.st.RevokeAllConnections(ctx, f.app.ClientID, "admin:ops"); err != nil {
		t.Fatal(err)
	}
	type step struct {
		holder, lease string
		r             store.Revocation
	}
	steps := make(chan step, 1000)
	var mu sync.Mutex
	stops := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		st := store.New(rdb, store.Options{Now: f.clock.Now})
		mctx, stop := context.WithCancel(ctx)
		mu.Lock()
		stops[name] = stop
		mu.Unlock()
		wg.Go(func() {
			st.RunMaintenance(mctx, store.MaintenanceOptions{Holder: name, Tick: time.Millisecond, Batch: 8,
				OnStep: func(r store.Revocation) {
					steps <- step{name, rdb.Get(ctx, "lease:maintenance").Val(), r}
				}})
		})
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
		wg.Wait()
	}()
	holders := map[string]int{}
	var last step
	for !last.r.Done {
		select {
		case last = <-steps:
		case <-time.After(10 * time.Second):
			t.Fatalf("clean-up stuck at %+v", last)
		}
		if last.lease != last.holder {
			t.Fatalf("%s ran a step while %q held the lease", last.holder, last.lease)
		}
		holders[last.holder]++
		if holders[last.holder] == 3 && len(holders) == 1 {
			// The first holder stops (and gives the lease back): another
			// must take over and carry on from its progress.
			stops[last.holder]()
		}
	}
	if len(holders) < 2 || last.r.Revoked != 200 {
		t.Fatalf("steps by %v; revoked %d of 200", holders, last.r.Revoked)
	}
}

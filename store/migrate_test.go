package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestMigrateFromSchema1: a Redis as enlace wrote it before the shards —
// an app, a merchant, a live and a revoked connection with their indexes,
// audit events — is migrated in place: the app authenticates, the
// merchant is listed, the live connection's tokens work and refresh, it is
// listed and counted, the old events are in the trail, no v1 key is left,
// and a second run changes nothing.
func TestMigrateFromSchema1(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		st := store.New(rdb, store.Options{})
		now := time.Now().UnixMilli()
		clientID, merchantID, live, revoked := store.NewID(), store.NewID(), store.NewID(), store.NewID()
		secret := store.NewSecret()
		rdb.HSet(ctx, "app:"+clientID, "client_id", clientID, "name", "Old sync", "secret", store.Digest(secret),
			"redirect_uris", `["https://old.example.com/cb"]`, "scopes", "read:products", "created_at", now-1000,
			"disabled", "0", "public", "0", "require_pkce", "0", "first_party", "0")
		rdb.ZAdd(ctx, "apps", redis.Z{Score: float64(now - 1000), Member: clientID})
		m, err := st.CreateMerchant(ctx, "old@tienda.cl", "Old", "pw of old 7c1f")
		if err != nil {
			t.Fatal(err)
		}
		rdb.Del(ctx, "merchants")
		rdb.ZAdd(ctx, "merchants", redis.Z{Score: float64(now - 900), Member: m.ID})
		merchantID = m.ID
		access := store.NewCredential(store.KindAccess, live)
		refresh := store.NewCredential(store.KindRefresh, live)
		for id, status := range map[string]string{live: "active", revoked: "revoked"} {
			key := "conn:{" + id + "}"
			rdb.HSet(ctx, key, "id", id, "merchant_id", merchantID, "client_id", clientID, "scopes", "read:products",
				"created_at", now-500, "status", status, "code", store.Digest("x"), "code_exp", now+3600_000, "code_used", "1",
				"redirect_uri", "https://old.example.com/cb", "code_challenge", "", "tid", store.NewID(),
				"issued_at", now-400, "last_used", now-400, "at_scopes", "read:products", "at_exp", now+3600_000,
				"rt_exp", now+48*3600_000)
			if status == "active" {
				rdb.HSet(ctx, key, "at", store.Digest(access), "rt", store.Digest(refresh))
			}
			rdb.PExpire(ctx, key, 48*time.Hour)
			for _, idx := range []string{"conns", "merchant-conns:" + merchantID, "app-conns:" + clientID} {
				rdb.ZAdd(ctx, idx, redis.Z{Score: float64(now - 500), Member: id})
			}
		}
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "audit", Values: []any{"type", "grant", "connection_id", live,
			"client_id", clientID, "merchant_id", merchantID, "actor", "merchant:" + merchantID}})
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "audit", Values: []any{"type", "app", "client_id", clientID,
			"actor", "cli", "detail", "disabled"}})
		rdb.Set(ctx, "enlace-schema", "1", 0)
		if err := st.CheckSchema(ctx); err == nil {
			t.Fatal("schema 1 accepted before the migration")
		}

		mig, err := st.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if mig.Apps != 1 || mig.Accounts != 1 || mig.Connections != 2 || mig.Events != 2 {
			t.Fatalf("migration: %+v", mig)
		}
		if err := st.CheckSchema(ctx); err != nil {
			t.Fatalf("after the migration: %v", err)
		}
		app, err := st.GetApp(ctx, clientID)
		if err != nil || app.Name != "Old sync" || !store.DigestEqual(secret, app.SecretDigest) {
			t.Fatalf("app: %v %+v", err, app)
		}
		if apps, err := st.ListApps(ctx, store.Page{}); err != nil || apps.Total != 1 || len(apps.Apps) != 1 {
			t.Fatalf("apps: %v %+v", err, apps)
		}
		if ms, err := st.ListMerchants(ctx, store.Page{}); err != nil || ms.Total != 1 || len(ms.Accounts) != 1 {
			t.Fatalf("merchants: %v %+v", err, ms)
		}
		if info, err := st.LookupAccess(ctx, access); err != nil || info.ConnectionID != live {
			t.Fatalf("the old access token: %v %+v", err, info)
		}
		for _, f := range []store.ConnectionFilter{{ClientID: clientID}, {MerchantID: merchantID}, {}} {
			p, err := st.ListConnections(ctx, f, store.Page{})
			if err != nil || p.Total != 1 || len(p.Connections) != 1 || p.Connections[0].ID != live {
				t.Fatalf("connections %+v: %v %+v", f, err, p)
			}
		}
		if n, err := st.CountConnections(ctx, []*store.App{app}); err != nil || n[clientID] != 1 {
			t.Fatalf("count after the migration: %v %v", err, n)
		}
		if _, err := st.Refresh(ctx, store.RefreshRequest{RefreshToken: refresh, ClientID: clientID}); err != nil {
			t.Fatalf("the old refresh token: %v", err)
		}
		events, _, err := st.ListAudit(ctx, store.AuditFilter{ClientID: clientID}, "", 10)
		if err != nil || len(events) != 3 || events[0].Type != store.EventRefresh {
			t.Fatalf("audit after the migration: %v %+v", err, events)
		}
		for _, k := range []string{"app:" + clientID, "conn:{" + live + "}", "conn:{" + revoked + "}", "conns",
			"merchant-conns:" + merchantID, "app-conns:" + clientID, "audit"} {
			if rdb.Exists(ctx, k).Val() != 0 {
				t.Errorf("v1 key %s left", k)
			}
		}
		again, err := st.Migrate(ctx)
		if err != nil || again.Apps+again.Connections+again.Events != 0 || again.From != "2" {
			t.Fatalf("second run: %v %+v", err, again)
		}
	})
}

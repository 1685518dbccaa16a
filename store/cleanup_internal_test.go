package store

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestProgressRacesARevocation: a clean-up batch of generation 1 that
// records its progress after a second revocation (generation 2) has
// restarted the clean-up changes nothing: the new clean-up is neither
// overwritten nor marked done, and it revokes the connection approved
// between the two revocations.
func TestProgressRacesARevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := New(redistest.Start(t).Client(t), Options{})
	app, _, err := st.CreateApp(ctx, AppSpec{Name: "a", RedirectURIs: []string{"https://a.example.com/cb"},
		Scopes: []string{"read"}}, []string{"read"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeAllConnections(ctx, app.ClientID, "admin:x"); err != nil {
		t.Fatal(err)
	}
	between, _, err := st.Approve(ctx, Grant{ClientID: app.ClientID, MerchantID: "m", RedirectURI: "https://a.example.com/cb",
		Scopes: []string{"read"}, AppGeneration: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeAllConnections(ctx, app.ClientID, "admin:y"); err != nil { // generation 2
		t.Fatal(err)
	}
	// The generation-1 batch, finishing its last shard, records late.
	res, err := st.progress(ctx, shardOf(app.ClientID), ProgressArgs{ClientID: app.ClientID, Gen: 1, Revoked: 7,
		Shard: Shards, Now: MillisOf(time.Now())})
	if err != nil || res.Outcome != OutcomeRefused {
		t.Fatalf("a stale batch's progress: %v %+v", err, res)
	}
	r, err := st.AppRevocation(ctx, app.ClientID)
	if err != nil || r.Generation != 2 || r.Done || r.Shard != 0 || r.Revoked != 0 {
		t.Fatalf("the new clean-up after a stale batch: %v %+v", err, r)
	}
	for range 10 * Shards {
		if _, err := st.cleanupStep(ctx, MaintenanceOptions{}.normal()); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := st.AppRevocation(ctx, app.ClientID); !r.Done || r.Revoked != 1 {
		t.Fatalf("the new clean-up: %+v", r)
	}
	if c, _ := st.GetConnection(ctx, between.ID); c.Status != StatusRevoked {
		t.Fatalf("the connection approved between the revocations: %s", c.Status)
	}
}

// TestMigrateKeepsExpiries: a migrated connection expires when it would
// have, however long the migration took to reach it.
func TestMigrateKeepsExpiries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := New(rdb, Options{})
	id := NewID()
	old := "conn:{" + id + "}"
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	rdb.HSet(ctx, old, "id", id, "merchant_id", "m", "client_id", "c", "status", "active", "scopes", "read")
	rdb.PExpireAt(ctx, old, exp)
	rdb.Set(ctx, schemaKey, "1", 0)
	// Other keys take the migration a while before it reaches this one.
	slowed := false
	rdb.AddHook(slowFirstPTTL{&slowed})
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.PExpireTime(ctx, connKey(id)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(time.UnixMilli(got.Milliseconds())); d > 50*time.Millisecond || d < -50*time.Millisecond {
		t.Fatalf("the migrated record expires %v off its v1 expiry", d)
	}
}

// slowFirstPTTL delays the first PTTL, in a pipeline or not, by 500 ms.
type slowFirstPTTL struct{ done *bool }

func (h slowFirstPTTL) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h slowFirstPTTL) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h slowFirstPTTL) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if c.Name() == "pttl" && !*h.done {
				*h.done = true
				time.Sleep(500 * time.Millisecond)
			}
		}
		return next(ctx, cmds)
	}
}

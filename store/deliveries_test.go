package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// TestOutboxAndDeliveries, on every backend (one server, a cluster, the
// embedded Redis): an approval's event waits in the outbox until a
// deliverer takes it; one read by a deliverer that died is taken over by
// another after ClaimIdle, and queued once however often it is read; an
// event of an app without an endpoint is dropped; a claimed delivery is
// no other instance's until its lease ends, and a result under a lapsed
// claim is refused; the signing secret is sealed in Redis.
func TestOutboxAndDeliveries(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		st := store.New(rdb, store.Options{Now: f.clock.Now, EncryptionKey: testKey})
		if err := st.JoinOutbox(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.JoinOutbox(ctx); err != nil {
			t.Fatalf("joining twice: %v", err)
		}
		if _, _, err := store.New(rdb, store.Options{}).SetWebhook(ctx, f.app.ClientID, "https://hooks.example/h", false, store.ActorCLI); !errors.Is(err, store.ErrNoEncryptionKey) {
			t.Fatalf("a webhook without an encryption key: %v", err)
		}
		secret, _, err := st.SetWebhook(ctx, f.app.ClientID, "https://hooks.example/h", false, store.ActorCLI)
		if err != nil {
			t.Fatal(err)
		}
		if raw := rdb.HGet(ctx, store.AppKey(f.app.ClientID), "webhook_secret").Val(); raw == "" || raw == secret ||
			len(raw) < len(secret) {
			t.Fatalf("the signing secret is stored as %q", raw)
		}
		for _, bad := range []string{"http://hooks.example/h", "https://u:p@hooks.example/h", "/h", "https://hooks.example/h#x"} {
			if _, _, err := st.SetWebhook(ctx, f.app.ClientID, bad, false, store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s: %v", bad, err)
			}
		}

		conn, _ := f.approve(t, "")
		// A deliverer reads the event and dies before acknowledging it.
		key, group := store.OutboxKeyOf(conn.ID)
		read, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "dead", Streams: []string{key, ">"}, Block: -1}).Result()
		if err != nil || len(read) != 1 || len(read[0].Messages) != 1 {
			t.Fatalf("the dead deliverer's read: %v %v", read, err)
		}
		if tr, err := st.TransferOutbox(ctx, "b", store.AllShards, true, store.DeliveryOptions{ClaimIdle: time.Hour}); err != nil || tr.Queued != 0 {
			t.Fatalf("taken over before ClaimIdle: %+v %v", tr, err)
		}
		o := store.DeliveryOptions{ClaimIdle: time.Millisecond}
		time.Sleep(5 * time.Millisecond) // ClaimIdle must pass, in Redis's own clock
		tr, err := st.TransferOutbox(ctx, "b", store.AllShards, true, o)
		if err != nil || tr.Queued != 1 {
			t.Fatalf("taking over: %+v %v", tr, err)
		}
		if n := rdb.XLen(ctx, key).Val(); n != 0 {
			t.Fatalf("the outbox keeps %d entries after the transfer", n)
		}
		page, err := st.Deliveries(ctx, f.app.ClientID, "", 10)
		if err != nil || len(page.Deliveries) != 1 || page.Deliveries[0].Type != store.WebhookConnectionCreated {
			t.Fatalf("deliveries: %+v %v", page, err)
		}

		// An app without an endpoint: its events are dropped.
		if err := st.RemoveWebhook(ctx, f.app.ClientID, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		c2, _ := f.approve(t, "")
		// Read by shard: the others' outboxes do not hold it.
		its := store.EventShard(store.Event{ConnectionID: c2.ID})
		if tr, err := st.TransferOutbox(ctx, "b", store.AllShards&^its, false, o); err != nil || tr.Dropped != 0 {
			t.Fatalf("the other shards: %+v %v", tr, err)
		}
		if tr, err := st.TransferOutbox(ctx, "b", its, false, o); err != nil || tr.Dropped != 1 || tr.Queued != 0 {
			t.Fatalf("an app without an endpoint: %+v %v", tr, err)
		}

		// Claims: one instance at a time, until the lease ends.
		ds, err := st.ClaimDeliveries(ctx, 10, time.Minute, 0)
		if err != nil || len(ds) != 1 {
			t.Fatalf("claim: %v %v", ds, err)
		}
		if again, _ := st.ClaimDeliveries(ctx, 10, time.Minute, 3); len(again) != 0 {
			t.Fatal("a claimed delivery was claimed again within its lease")
		}
		f.clock.Add(2 * time.Minute)
		taken, err := st.ClaimDeliveries(ctx, 10, time.Minute, 5)
		if err != nil || len(taken) != 1 {
			t.Fatalf("after the lease: %v %v", taken, err)
		}
		if _, err := st.RecordAttempt(ctx, ds[0], store.AttemptOutcome{OK: true}); !errors.Is(err, store.ErrStaleClaim) {
			t.Fatalf("a result under a lapsed claim: %v", err)
		}
		if _, err := st.RecordAttempt(ctx, taken[0], store.AttemptOutcome{OK: true, Attempt: store.DeliveryAttempt{Status: 204}}); err != nil {
			t.Fatal(err)
		}
		d, err := st.GetDelivery(ctx, f.app.ClientID, taken[0].ID)
		if err != nil || d.Status != store.DeliveryDelivered || d.Attempts != 1 {
			t.Fatalf("after the result: %+v %v", d, err)
		}
		if b, err := st.Backlog(ctx); err != nil || b.Undelivered != 0 {
			t.Fatalf("backlog: %+v %v", b, err)
		}
		// The names of stopped deliverers are forgotten, once they have
		// nothing pending; the caller's own is kept.
		shard := -1
		for n := range store.Shards {
			if k, _ := store.OutboxKeyOf(conn.ID); k == fmt.Sprintf("outbox:{s%02d}", n) {
				shard = n
			}
		}
		// (The embedded Redis does not track a consumer's idle time, so
		// there nothing counts as stopped, and nothing is forgotten.)
		want := 1
		if strings.HasSuffix(t.Name(), "/embedded") {
			want = 0
		}
		if n, err := st.PruneOutboxConsumers(ctx, shard, 0, "b"); err != nil || n != want {
			t.Fatalf("prune: %d %v", n, err)
		}
		cs, err := rdb.XInfoConsumers(ctx, key, group).Result()
		if err != nil || len(cs) != 2-want || cs[0].Name != "b" {
			t.Fatalf("consumers after pruning: %+v %v", cs, err)
		}
	})
}

// TestDeliveriesPaging: an app's deliveries page newest first by cursor,
// each exactly once, however many share a millisecond (an app-wide
// revocation makes thousands at once); a cursor this listing did not make
// is refused.
func TestDeliveriesPaging(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		st := store.New(rdb, store.Options{Now: f.clock.Now, EncryptionKey: testKey})
		if _, _, err := st.SetWebhook(ctx, f.app.ClientID, "https://hooks.example/h", false, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		if err := st.JoinOutbox(ctx); err != nil {
			t.Fatal(err)
		}
		// The fixture's clock stands still: every event has one millisecond.
		const n = 130
		for range n {
			f.approve(t, "")
		}
		queued := 0
		for queued < n {
			tr, err := st.TransferOutbox(ctx, "p", store.AllShards, false, store.DeliveryOptions{})
			if err != nil || tr.Queued == 0 {
				t.Fatalf("transfer: %+v %v after %d", tr, err, queued)
			}
			queued += tr.Queued
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			page, err := st.Deliveries(ctx, f.app.ClientID, cursor, 40)
			if err != nil || pages > 5 || page.Total != n {
				t.Fatalf("page %d: %v %+v", pages, err, page)
			}
			for _, d := range page.Deliveries {
				if seen[d.ID] {
					t.Fatalf("%s listed twice", d.ID)
				}
				seen[d.ID] = true
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		if len(seen) != n {
			t.Fatalf("%d deliveries listed, want %d", len(seen), n)
		}
		for _, bad := range []string{"x", "123:evt_1", "0000000000000:../../x"} {
			if _, err := st.Deliveries(ctx, f.app.ClientID, bad, 10); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("cursor %q: %v", bad, err)
			}
		}
	})
}

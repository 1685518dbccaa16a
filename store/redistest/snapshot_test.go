package redistest

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { Main(m) }

// A snapshot sees an appended stream entry, and does not see a consumer
// acknowledging and deleting one: the webhook dispatcher does that in the
// background while a test checks that a request wrote nothing.
func TestSnapshotStreams(t *testing.T) {
	ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		add := func() string {
			id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "s", Values: []string{"k", "v"}}).Result()
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		first := add()
		before := Snapshot(t, rdb)
		if err := rdb.XDel(ctx, "s", first).Err(); err != nil {
			t.Fatal(err)
		}
		after := Snapshot(t, rdb)
		if after["s"] != before["s"] {
			t.Fatalf("a deleted entry changed the snapshot: %s → %s", before["s"], after["s"])
		}
		second := add()
		if after = Snapshot(t, rdb); after["s"] == before["s"] || !strings.Contains(after["s"], second) {
			t.Fatalf("an appended entry did not change the snapshot: %s → %s", before["s"], after["s"])
		}
		if err := rdb.Set(ctx, "k", "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if difference(after, Snapshot(t, rdb)) == "" {
			t.Fatal("a new key did not change the snapshot")
		}
	})
}

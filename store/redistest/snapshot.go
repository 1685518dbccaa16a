package redistest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Snapshot returns every key of the database with its type and content, so
// a test can prove that a refused request wrote nothing.
func Snapshot(tb testing.TB, rdb redis.UniversalClient) map[string]string {
	tb.Helper()
	ctx := context.Background()
	var keys []string
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		// KEYS answers for one node: ask every primary.
		var mu sync.Mutex
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			ks, err := n.Keys(ctx, "*").Result()
			mu.Lock()
			keys = append(keys, ks...)
			mu.Unlock()
			return err
		})
	} else {
		keys, err = rdb.Keys(ctx, "*").Result()
	}
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		typ := rdb.Type(ctx, k).Val()
		var b strings.Builder
		switch typ {
		case "hash":
			h := rdb.HGetAll(ctx, k).Val()
			for _, f := range slices.Sorted(maps.Keys(h)) {
				fmt.Fprintf(&b, "%s=%s ", f, h[f])
			}
		case "string":
			b.WriteString(rdb.Get(ctx, k).Val())
		case "zset":
			for _, z := range rdb.ZRangeWithScores(ctx, k, 0, -1).Val() {
				fmt.Fprintf(&b, "%v:%v ", z.Member, z.Score)
			}
		case "stream":
			// The last ID it handed out: an appended audit or outbox event
			// is a write like any other, while a webhook dispatcher that
			// acknowledges and deletes entries in the background is not
			// the request under test.
			fmt.Fprintf(&b, "last=%s", rdb.XInfoStream(ctx, k).Val().LastGeneratedID)
		case "list":
			b.WriteString(strings.Join(rdb.LRange(ctx, k, 0, -1).Val(), " "))
		case "set":
			b.WriteString(strings.Join(slices.Sorted(slices.Values(rdb.SMembers(ctx, k).Val())), " "))
		default:
			fmt.Fprintf(&b, "(%s)", typ)
		}
		out[k] = typ + ":" + b.String()
	}
	return out
}

// AssertUnchanged fails the test when two snapshots differ.
func AssertUnchanged(tb testing.TB, before, after map[string]string) {
	tb.Helper()
	if d := difference(before, after); d != "" {
		tb.Fatal(d)
	}
}

// difference says how two snapshots differ (one key's change), or "" when
// they do not.
func difference(before, after map[string]string) string {
	for k, v := range before {
		if w, ok := after[k]; !ok {
			return fmt.Sprintf("key %s was deleted", k)
		} else if w != v {
			return fmt.Sprintf("key %s changed:\n before %s\n after  %s", k, v, w)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			return fmt.Sprintf("key %s was written", k)
		}
	}
	return ""
}

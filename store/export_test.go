package store

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// TrimIndexes runs one full trimming pass over every index, for tests.
func TrimIndexes(ctx context.Context, s *Store) error {
	pos := make([]string, Shards*3)
	for {
		if err := s.trimIndexes(ctx, pos, 500); err != nil {
			return err
		}
		done := true
		for _, p := range pos {
			done = done && p == ""
		}
		if done {
			return nil
		}
	}
}

// IndexEntries counts the index entries of connection id in its shard.
func IndexEntries(ctx context.Context, rdb redis.UniversalClient, id string) int {
	n := 0
	sh := shardOf(id)
	for _, k := range []string{connsIndexKey(sh), appConnsKey(sh), merchantConnsKey(sh)} {
		for _, m := range rdb.ZRange(ctx, k, 0, -1).Val() {
			if len(m) > len(id) && m[len(m)-len(id)-1:] == ":"+id {
				n++
			}
		}
	}
	return n
}

// OutboxKeyOf is the outbox of connection (or app) id's shard, and the
// consumer group the deliverers share, for tests that play a deliverer
// that died.
func OutboxKeyOf(id string) (string, string) { return outboxKey(shardOf(id)), outboxGroup }

// ResourcesKey is the key of a merchant's resources of one type.
func ResourcesKey(merchantID, typ string) string { return resourcesKey(merchantID, typ) }

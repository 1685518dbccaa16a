package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Migrate brings a Redis written by an older enlace to SchemaVersion, in
// place, and reports what it moved. Run it with every instance stopped
// (serve refuses to start on an older schema, so none can be writing): it
// is not atomic, but it is idempotent, so a migration that failed half way
// is finished by running it again.
//
// From schema 1 (one slot per connection, unsharded indexes, one audit
// stream) to 2 (keys.go): apps move to their shard's slot; the app,
// merchant and admin indexes become lexicographic; every connection moves
// to its shard with its TTL and gets its index entries; the old indexes go;
// the audit stream's events move to their shards' streams, ids kept.
func (s *Store) Migrate(ctx context.Context) (*Migration, error) {
	v, err := s.rdb.Get(ctx, schemaKey).Result()
	if errors.Is(err, redis.Nil) {
		// An empty Redis, or one from before the marker: schema 1 too.
		v = "1"
	} else if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	m := &Migration{From: v, To: SchemaVersion}
	switch v {
	case strconv.Itoa(SchemaVersion):
		return m, nil
	case "1":
	default:
		return nil, fmt.Errorf("%w: cannot migrate from key schema %q", ErrSchema, v)
	}
	steps := []struct {
		name string
		fn   func(context.Context, *Migration) error
	}{
		{"apps", s.migrateApps},
		{"accounts", s.migrateAccountIndexes},
		{"connections", s.migrateConnections},
		{"audit", s.migrateAudit},
	}
	for _, st := range steps {
		if err := st.fn(ctx, m); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", st.name, err)
		}
	}
	if err := s.rdb.Set(ctx, schemaKey, SchemaVersion, 0).Err(); err != nil {
		return nil, fmt.Errorf("migrate: mark the schema: %w", err)
	}
	return m, nil
}

// Migration is what Migrate moved.
type Migration struct {
	From        string
	To          int
	Apps        int
	Accounts    int
	Connections int
	Events      int
	// Skipped counts connection records without a TTL, left where they
	// were (v1 never wrote one).
	Skipped int
}

// v1 index entries are bare ids scored by creation time; v2 ones are
// byCreation members scored 0.
func (s *Store) migrateIndex(ctx context.Context, key string, move func(id string, created int64) error) (int, error) {
	entries, err := s.rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, z := range entries {
		id, _ := z.Member.(string)
		if strings.Contains(id, ":") {
			continue // moved already
		}
		if err := move(id, int64(z.Score)); err != nil {
			return n, err
		}
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, key, redis.Z{Member: byCreation(int64(z.Score), id)})
			p.ZRem(ctx, key, id)
			return nil
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Store) migrateApps(ctx context.Context, m *Migration) error {
	n, err := s.migrateIndex(ctx, appsIndexKey, func(id string, _ int64) error {
		old := "app:" + id
		fields, err := s.rdb.HGetAll(ctx, old).Result()
		if err != nil || len(fields) == 0 {
			return err
		}
		if err := s.rdb.HSet(ctx, appKey(id), fields).Err(); err != nil {
			return err
		}
		return s.rdb.Del(ctx, old).Err()
	})
	m.Apps = n
	return err
}

func (s *Store) migrateAccountIndexes(ctx context.Context, m *Migration) error {
	for _, key := range []string{merchantsIndexKey, adminsIndexKey} {
		n, err := s.migrateIndex(ctx, key, func(string, int64) error { return nil })
		m.Accounts += n
		if err != nil {
			return err
		}
	}
	return nil
}

// forEachPrimary runs fn on the server, or on every primary of a cluster:
// for SCAN, which sees one node's keys.
func (s *Store) forEachPrimary(ctx context.Context, fn func(ctx context.Context, c redis.Cmdable) error) error {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return fn(ctx, c) })
	}
	return fn(ctx, s.rdb)
}

// scanEach calls fn with every key matching pattern, on every primary (on
// a cluster, from one goroutine per primary at once).
func (s *Store) scanEach(ctx context.Context, pattern string, fn func(key string) error) error {
	return s.forEachPrimary(ctx, func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			if err := fn(iter.Val()); err != nil {
				return err
			}
		}
		return iter.Err()
	})
}

func (s *Store) migrateConnections(ctx context.Context, m *Migration) error {
	// v1 connection keys end in their hash tag: conn:{<id>}.
	err := s.scanKeys(ctx, "conn:{*}", func(old string) error {
		id := strings.TrimSuffix(strings.TrimPrefix(old, "conn:{"), "}")
		if strings.Contains(id, "{") || strings.Contains(id, "}") {
			return nil
		}
		// Moved already by a run that failed before deleting the old key:
		// its index entries carry the expiry it had then.
		if n, err := s.rdb.Exists(ctx, connKey(id)).Result(); err != nil || n > 0 {
			if err != nil {
				return err
			}
			return s.rdb.Del(ctx, old, "retry:{"+id+"}").Err()
		}
		var all *redis.MapStringStringCmd
		var pttl *redis.DurationCmd
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			all, pttl = p.HGetAll(ctx, old), p.PTTL(ctx, old)
			return nil
		}); err != nil {
			return err
		}
		// The expiry from the TTL as of this key's read, not the step's
		// start: a long migration must not shorten the last keys' lives.
		fields, ttl, now := all.Val(), pttl.Val(), time.Now()
		switch {
		case len(fields) == 0 || ttl == -2*time.Nanosecond:
			return nil // expired meanwhile
		case ttl < 0:
			// v1 gave every connection a TTL; one without is left as it
			// is, and said.
			m.Skipped++
			return nil
		}
		exp := now.Add(ttl).UnixMilli()
		fields["exp"], fields["gen"] = strconv.FormatInt(exp, 10), "0"
		sh := shardOf(id)
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, connKey(id), fields)
			p.PExpireAt(ctx, connKey(id), time.UnixMilli(exp))
			if ConnectionStatus(fields["status"]) != StatusRevoked {
				all, app, merchant := indexMembers(id, fields["merchant_id"], fields["client_id"], 0, exp)
				p.ZAdd(ctx, connsIndexKey(sh), redis.Z{Member: all})
				p.ZAdd(ctx, appConnsKey(sh), redis.Z{Member: app})
				p.ZAdd(ctx, merchantConnsKey(sh), redis.Z{Member: merchant})
				p.HIncrBy(ctx, appCountsKey(sh), appGen(fields["client_id"], 0), 1)
			}
			return nil
		})
		if err != nil {
			return err
		}
		m.Connections++
		return s.rdb.Del(ctx, old, "retry:{"+id+"}").Err()
	})
	if err != nil {
		return err
	}
	// The v1 indexes: conns, merchant-conns:<id>, app-conns:<id> (v2's
	// carry a shard's hash tag).
	if err := s.rdb.Del(ctx, "conns").Err(); err != nil {
		return err
	}
	for _, pattern := range []string{"merchant-conns:*", "app-conns:*"} {
		err := s.scanKeys(ctx, pattern, func(k string) error {
			if strings.Contains(k, "{") {
				return nil
			}
			return s.rdb.Del(ctx, k).Err()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// scanKeys is scanEach over a snapshot of the matching keys, so that fn may
// write keys that match too.
func (s *Store) scanKeys(ctx context.Context, pattern string, fn func(key string) error) error {
	// A cluster's primaries are scanned at once, each in a goroutine.
	var mu sync.Mutex
	var keys []string
	if err := s.scanEach(ctx, pattern, func(k string) error {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, k)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) migrateAudit(ctx context.Context, m *Migration) error {
	const old = "audit"
	min := "-"
	for {
		msgs, err := s.rdb.XRangeN(ctx, old, min, "+", 1000).Result()
		if err != nil {
			return err
		}
		for _, msg := range msgs {
			values := msg.Values
			owner, _ := values["connection_id"].(string)
			if owner == "" {
				owner, _ = values["client_id"].(string)
			}
			if _, ok := values["t"]; !ok {
				ms, _, _ := strings.Cut(msg.ID, "-")
				values["t"] = ms
			}
			err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: auditKey(shardOf(owner)), ID: msg.ID, Values: values}).Err()
			switch {
			case err == nil:
				m.Events++
			case !strings.Contains(err.Error(), "equal or smaller"):
				return err
			}
			// (An id that is there already was moved by an earlier run.)
			min = "(" + msg.ID
		}
		if len(msgs) < 1000 {
			return s.rdb.Del(ctx, old).Err()
		}
	}
}

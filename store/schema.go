package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SchemaVersion is the version of the key schema (keys.go) this code
// reads and writes. A change to it that old code would misread bumps it,
// and Migrate learns to bring the older one up. 2: connections sharded,
// with their indexes and audit events in their shard's slot.
const SchemaVersion = 2

// ErrSchema is a Redis whose data this code cannot read.
var ErrSchema = errors.New("unknown key schema")

// CheckSchema makes sure the Redis holds the key schema this code knows:
// it records SchemaVersion in an empty Redis (and 1 in one with data from
// before the marker), and refuses a Redis marked with another version, so that two versions of enlace
// never write one Redis in two layouts.
func (s *Store) CheckSchema(ctx context.Context) error {
	marked, err := s.rdb.Exists(ctx, schemaKey).Result()
	if err != nil {
		return fmt.Errorf("check key schema: %w", err)
	}
	if marked == 0 {
		// No marker yet: an empty Redis, or one written before the marker
		// existed, which is schema 1. Its data says which, before anything
		// is marked, so no instance ever reads the wrong mark. SETNX: of
		// two instances starting at once, both write the same one, and
		// neither overwrites another.
		want := SchemaVersion
		v1, err := s.holdsSchema1(ctx)
		if err != nil {
			return fmt.Errorf("check key schema: %w", err)
		}
		if v1 {
			want = 1
		}
		if err := s.rdb.SetNX(ctx, schemaKey, want, 0).Err(); err != nil {
			return fmt.Errorf("check key schema: %w", err)
		}
	}
	v, err := s.rdb.Get(ctx, schemaKey).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("check key schema: %s vanished as it was read", schemaKey)
	}
	if err != nil {
		return fmt.Errorf("check key schema: %w", err)
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s holds %q, not a version number; is this Redis another program's? "+
			"Point enlace at its own Redis (or database)", ErrSchema, schemaKey, v)
	case n > SchemaVersion:
		return fmt.Errorf("%w: this Redis holds enlace key schema %d, newer than this enlace knows (%d); "+
			"run the newer enlace that wrote it", ErrSchema, n, SchemaVersion)
	case n < SchemaVersion:
		return fmt.Errorf("%w: this Redis holds enlace key schema %d, older than this enlace writes (%d); "+
			"stop every enlace instance, run `enlace migrate` once, then start them again", ErrSchema, n, SchemaVersion)
	}
	return nil
}

// holdsSchema1 reports whether an unmarked Redis holds data of schema 1:
// its unsharded connection index or audit stream, or an index of apps or
// accounts whose entries are bare ids (schema 2 writes "<created>:<id>").
func (s *Store) holdsSchema1(ctx context.Context) (bool, error) {
	var exists []*redis.IntCmd
	var firsts []*redis.StringSliceCmd
	// One command per key: on a cluster they are in different slots.
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		exists = append(exists, p.Exists(ctx, "conns"), p.Exists(ctx, "audit"))
		for _, k := range []string{appsIndexKey, merchantsIndexKey, adminsIndexKey} {
			firsts = append(firsts, p.ZRange(ctx, k, 0, 0))
		}
		return nil
	}); err != nil {
		return false, err
	}
	for _, c := range exists {
		if c.Val() > 0 {
			return true, nil
		}
	}
	for _, c := range firsts {
		for _, m := range c.Val() {
			if !strings.Contains(m, ":") {
				return true, nil
			}
		}
	}
	return false, nil
}

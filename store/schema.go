package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// SchemaVersion is the version of the key schema (keys.go) this code
// reads and writes. A change to it that old code would misread bumps it.
const SchemaVersion = 1

// ErrSchema is a Redis whose data this code cannot read.
var ErrSchema = errors.New("unknown key schema")

// CheckSchema makes sure the Redis holds the key schema this code knows:
// it records SchemaVersion in an empty (or pre-marker) Redis, and refuses
// a Redis marked with another version, so that two versions of enlace
// never write one Redis in two layouts.
func (s *Store) CheckSchema(ctx context.Context) error {
	// SETNX: of two instances starting on an empty Redis, both write the
	// same marker, and neither overwrites a different one.
	if err := s.rdb.SetNX(ctx, schemaKey, SchemaVersion, 0).Err(); err != nil {
		return fmt.Errorf("check key schema: %w", err)
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
			"migrate it first (see the release notes of this version)", ErrSchema, n, SchemaVersion)
	}
	return nil
}

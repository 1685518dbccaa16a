package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestSchemaMarker: a new Redis is marked with the schema version, a
// marked one is accepted again, and one marked by another version (or by
// another program) is refused with a message that says what to do, and is
// left as it was.
func TestSchemaMarker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb, store.Options{})
	for range 2 {
		if err := st.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if v := rdb.Get(ctx, "enlace-schema").Val(); v != "2" {
		t.Fatalf("marker %q", v)
	}
	for marker, hint := range map[string]string{"3": "newer", "1": "enlace migrate", "banana": "another program"} {
		rdb.Set(ctx, "enlace-schema", marker, 0)
		err := st.CheckSchema(ctx)
		if !errors.Is(err, store.ErrSchema) || !strings.Contains(err.Error(), hint) {
			t.Errorf("marker %q: %v", marker, err)
		}
		if v := rdb.Get(ctx, "enlace-schema").Val(); v != marker {
			t.Errorf("the check rewrote marker %q as %q", marker, v)
		}
	}
}

// TestSchemaBeforeTheMarker: a Redis with enlace data but no marker was
// written before the marker existed (schema 1): it is marked so and
// refused with the way to migrate it.
func TestSchemaBeforeTheMarker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	rdb.ZAdd(ctx, "apps", redis.Z{Score: 1, Member: "some-app"})
	err := store.New(rdb, store.Options{}).CheckSchema(ctx)
	if !errors.Is(err, store.ErrSchema) || !strings.Contains(err.Error(), "enlace migrate") {
		t.Fatalf("pre-marker data: %v", err)
	}
	if v := rdb.Get(ctx, "enlace-schema").Val(); v != "1" {
		t.Fatalf("marker %q, want 1", v)
	}
}

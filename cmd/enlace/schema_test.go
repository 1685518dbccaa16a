package main

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestRefusesUnknownSchema: neither serve nor an admin command touches a
// Redis that a newer enlace has written; both say what to do, and write
// nothing.
func TestRefusesUnknownSchema(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	ctx := context.Background()
	rdb.Set(ctx, "enlace-schema", "3", 0)
	environ := []string{"ENLACE_REDIS_ADDR=" + rs.Addr, "ENLACE_HTTP_ADDR=127.0.0.1:0"}
	for _, args := range [][]string{{"serve"}, {"app", "list"}} {
		r := runCmd(t, environ, "", args...)
		if r.code == 0 || !strings.Contains(r.stderr, "newer than this enlace knows") {
			t.Errorf("%v on schema 3: %d %s", args, r.code, r.stderr)
		}
	}
	if keys := rdb.Keys(ctx, "*").Val(); len(keys) != 1 {
		t.Errorf("keys after the refusals: %v", keys)
	}
}

// TestMigrateCommand: on a Redis of schema 1, serve refuses and names the
// command; `enlace migrate` brings it to this version's schema, after
// which the admin commands work, and a second run has nothing to do.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	ctx := context.Background()
	rdb.HSet(ctx, "app:old-app", "client_id", "old-app", "name", "Old", "secret", "x", "redirect_uris",
		`["https://old.example.com/cb"]`, "scopes", "read:products", "created_at", "1700000000000", "disabled", "0")
	rdb.ZAdd(ctx, "apps", redis.Z{Score: 1700000000000, Member: "old-app"})
	environ := []string{"ENLACE_REDIS_ADDR=" + rs.Addr, "ENLACE_HTTP_ADDR=127.0.0.1:0"}
	if r := runCmd(t, environ, "", "serve"); r.code == 0 || !strings.Contains(r.stderr, "enlace migrate") {
		t.Fatalf("serve on schema 1: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, environ, "", "migrate"); r.code != 0 || !strings.Contains(r.stdout, "from 1 to 2: 1 apps") {
		t.Fatalf("migrate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, environ, "", "app", "list"); r.code != 0 || !strings.Contains(r.stdout, "old-app") {
		t.Fatalf("app list after the migration: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, environ, "", "migrate"); r.code != 0 || !strings.Contains(r.stdout, "nothing to do") {
		t.Fatalf("migrate again: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

package main

import (
	"context"
	"strings"
	"testing"

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
	rdb.Set(ctx, "enlace-schema", "2", 0)
	environ := []string{"ENLACE_REDIS_ADDR=" + rs.Addr, "ENLACE_HTTP_ADDR=127.0.0.1:0"}
	for _, args := range [][]string{{"serve"}, {"app", "list"}} {
		r := runCmd(t, environ, "", args...)
		if r.code == 0 || !strings.Contains(r.stderr, "newer than this enlace knows") {
			t.Errorf("%v on schema 2: %d %s", args, r.code, r.stderr)
		}
	}
	if keys := rdb.Keys(ctx, "*").Val(); len(keys) != 1 {
		t.Errorf("keys after the refusals: %v", keys)
	}
}

package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestKeysListAndRotate drives `enlace keys` against a real redis-server:
// a scheduled rotation publishes a pending key, a second one changes
// nothing, --now withdraws the older keys, and nothing without
// encryption.key.
func TestKeysListAndRotate(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const keyB64 = "dGVzdCBlbmNyeXB0aW9uIGtleSBvZiAzMiBieXRlcyE="
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr, "ENLACE_ENCRYPTION_KEY=" + keyB64}
	ctx := context.Background()

	if r := runCmd(t, environ, "", "keys", "list"); r.code != 0 || !strings.Contains(r.stdout, "no signing keys yet") {
		t.Fatalf("empty list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// The first rotation of a new deployment: each algorithm's first
	// key, signing at once.
	r := runCmd(t, environ, "", "keys", "rotate", "--json")
	var added []struct {
		ID, Alg string
		State   store.KeyState
	}
	if err := json.Unmarshal([]byte(r.stdout), &added); r.code != 0 || err != nil || len(added) != 2 {
		t.Fatalf("rotate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	list := func() []map[string]any {
		t.Helper()
		r := runCmd(t, environ, "", "keys", "list", "--json")
		var v []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &v); r.code != 0 || err != nil {
			t.Fatalf("list: %d %s %s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, "PRIVATE") || strings.Contains(r.stdout, "sealed") {
			t.Fatal("a private key in the listing")
		}
		return v
	}
	keys := list()
	if len(keys) != 2 || keys[0]["state"] != "signing" || keys[1]["state"] != "signing" {
		t.Fatalf("keys: %v", keys)
	}
	// The next: published, signing a day later; another while it waits
	// adds nothing.
	r = runCmd(t, environ, "", "keys", "rotate", "--alg", "ES256")
	if r.code != 0 || !strings.Contains(r.stdout, "is published and signs from") || len(list()) != 3 {
		t.Fatalf("second rotate: %d %s", r.code, r.stdout)
	}
	r = runCmd(t, environ, "", "keys", "rotate", "--alg", "ES256")
	if r.code != 0 || !strings.Contains(r.stdout, "already published") || len(list()) != 3 {
		t.Fatalf("third rotate: %d %s", r.code, r.stdout)
	}
	// --now: a new RS256 key signs at once, the older one is withdrawn.
	r = runCmd(t, environ, "", "keys", "rotate", "--alg", "RS256", "--now")
	if r.code != 0 || !strings.Contains(r.stdout, "signs now") {
		t.Fatalf("rotate --now: %d %s %s", r.code, r.stdout, r.stderr)
	}
	states := map[string]int{}
	for _, k := range list() {
		states[k["alg"].(string)+" "+k["state"].(string)]++
	}
	if states["RS256 signing"] != 1 || states["RS256 withdrawn"] != 1 || states["ES256 pending"] != 1 ||
		states["ES256 signing"] != 1 {
		t.Fatalf("states: %v", states)
	}
	// What Redis holds is sealed: no PEM, no raw key.
	raw, err := srv.Client(t).HGetAll(ctx, "signing-keys:{s00}").Result()
	if err != nil || len(raw) != 4 {
		t.Fatalf("stored keys: %v %v", raw, err)
	}
	for _, v := range raw {
		if strings.Contains(v, "PRIVATE") || !strings.Contains(v, `"sealed"`) {
			t.Fatalf("stored key: %s", v)
		}
	}

	// Refusals: an unknown algorithm is a usage error; without
	// encryption.key the command says what is missing.
	if r := runCmd(t, environ, "", "keys", "rotate", "--alg", "HS256"); r.code != 2 {
		t.Fatalf("--alg HS256: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, []string{"ENLACE_REDIS_ADDR=" + srv.Addr}, "", "keys", "list"); r.code == 0 ||
		!strings.Contains(r.stderr, "encryption.key is not set") {
		t.Fatalf("without a key: %d %s", r.code, r.stderr)
	}
	// A wrong key opens nothing, and says so.
	other := []string{"ENLACE_REDIS_ADDR=" + srv.Addr, "ENLACE_ENCRYPTION_KEY=" + "b3RoZXIgZW5jcnlwdGlvbiBrZXkgb2YgMzIgYnl0ZXM="}
	if r := runCmd(t, other, "", "keys", "list"); r.code == 0 || !strings.Contains(r.stderr, "does not open") {
		t.Fatalf("wrong key: %d %s", r.code, r.stderr)
	}
}

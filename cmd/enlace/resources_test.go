package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestMerchantResourcesCommands: `enlace merchant resources set` from a
// file or standard input, `list` of one type or all, by id or email; a
// bad command line exits 2, a bad set or an unknown merchant or type 1,
// and neither writes anything.
func TestMerchantResourcesCommands(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}
	r := runCmd(t, environ, "a long password\n", "merchant", "create", "--email", "ana@tienda.cl", "--name", "Tienda de Ana",
		"--password-stdin", "--json")
	var m struct{ ID string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil || m.ID == "" {
		t.Fatalf("merchant create: %d %s %s", r.code, r.stdout, r.stderr)
	}

	r = runCmd(t, environ, `[{"id":"W2","name":"Bodega Norte"},{"id":"W1","name":" Bodega Central "}]`,
		"merchant", "resources", "set", "ana@tienda.cl", "warehouse", "--stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "2 warehouse resources set for merchant "+m.ID) ||
		!strings.Contains(r.stdout, "warehouse  W1  Bodega Central") ||
		strings.Index(r.stdout, "W1") > strings.Index(r.stdout, "W2") {
		t.Fatalf("set --stdin: %d %s %s", r.code, r.stdout, r.stderr)
	}
	file := filepath.Join(t.TempDir(), "channels.json")
	if err := os.WriteFile(file, []byte(`[{"id":"C1","name":"Mercado Libre"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, environ, "", "merchant", "resources", "set", m.ID, "channel", "--file", file, "--json")
	var set []map[string]string
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &set) != nil || len(set) != 1 || set[0]["id"] != "C1" {
		t.Fatalf("set --file --json: %d %s %s", r.code, r.stdout, r.stderr)
	}

	r = runCmd(t, environ, "", "merchant", "resources", "list", "ana@tienda.cl")
	if r.code != 0 || !strings.Contains(r.stdout, "TYPE") || !strings.Contains(r.stdout, "warehouse  W2  Bodega Norte") ||
		!strings.Contains(r.stdout, "channel    C1  Mercado Libre") {
		t.Fatalf("list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, environ, "", "merchant", "resources", "list", m.ID, "warehouse", "--json")
	var one []map[string]string
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &one) != nil || len(one) != 2 || one[0]["name"] != "Bodega Central" {
		t.Fatalf("list TYPE --json: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, environ, "", "merchant", "resources", "list", m.ID, "--json")
	var all map[string][]map[string]string
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &all) != nil || len(all) != 3 || len(all["warehouse"]) != 2 ||
		all["store"] == nil || len(all["store"]) != 0 {
		t.Fatalf("list --json: %d %s %s", r.code, r.stdout, r.stderr)
	}

	before := redistest.Snapshot(t, rdb)
	for name, c := range map[string]struct {
		stdin string
		args  []string
		code  int
		says  string
	}{
		"no source":        {"[]", []string{"set", m.ID, "warehouse"}, 2, "--file FILE or --stdin"},
		"two sources":      {"[]", []string{"set", m.ID, "warehouse", "--stdin", "--file", file}, 2, "one of them"},
		"no type":          {"[]", []string{"set", m.ID, "--stdin"}, 2, "two arguments"},
		"list, no one":     {"", []string{"list"}, 2, "the merchant's id or email"},
		"list, too many":   {"", []string{"list", m.ID, "warehouse", "channel"}, 2, "the merchant's id or email"},
		"unknown type":     {"[]", []string{"set", m.ID, "planet", "--stdin"}, 1, `no resource type "planet" (the types are warehouse, channel, store)`},
		"list, bad type":   {"", []string{"list", m.ID, "planet"}, 1, `no resource type "planet"`},
		"unknown merchant": {"[]", []string{"set", "nadie@tienda.cl", "warehouse", "--stdin"}, 1, `no merchant with id or email "nadie@tienda.cl"`},
		"list, nobody":     {"", []string{"list", "no-such-id"}, 1, `no merchant with id or email "no-such-id"`},
		"not JSON":         {"W1,Bodega", []string{"set", m.ID, "warehouse", "--stdin"}, 1, "a JSON array"},
		"a key twice":      {`[{"id":"W1","id":"W2","name":"B"}]`, []string{"set", m.ID, "warehouse", "--stdin"}, 1, `gives "id" twice`},
		"duplicate id": {`[{"id":"W1","name":"A"},{"id":"W1","name":"B"}]`, []string{"set", m.ID, "warehouse", "--stdin"}, 1,
			`resources[1]: id "W1" is given twice`},
		"missing file": {"", []string{"set", m.ID, "warehouse", "--file", filepath.Join(t.TempDir(), "nope.json")}, 1, "no such file"},
		"over 1 MiB":   {"[" + strings.Repeat(" ", 1<<20) + "]", []string{"set", m.ID, "warehouse", "--stdin"}, 1, "more than 1 MiB"},
	} {
		r := runCmd(t, environ, c.stdin, append([]string{"merchant", "resources"}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.says) {
			t.Errorf("%s: exit %d, %s; want %d saying %s", name, r.code, r.stderr, c.code, c.says)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	if r := runCmd(t, environ, "[]", "merchant", "resources", "set", m.ID, "warehouse", "--stdin", "--json"); r.code != 0 ||
		strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("set []: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, environ, "", "merchant", "resources", "list", m.ID, "warehouse", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("list after []: %s", r.stdout)
	}
	if r := runCmd(t, environ, "", "merchant", "resources"); r.code != 2 || !strings.Contains(r.stderr, "set, list") &&
		!strings.Contains(r.stderr, "list, set") {
		t.Fatalf("the group alone: %d %s", r.code, r.stderr)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestScale: a short scale run against a real server and Redis reports
// every target at every size, Redis's memory per connection, and the p99
// growth; bad flags are refused before anything is written.
func TestScale(t *testing.T) {
	t.Parallel()
	url, redisAddr := benchServer(t)
	out := filepath.Join(t.TempDir(), "scale.json")
	r := runCmd(t, nil, "scale", "--url", url, "--redis", redisAddr, "--sizes", "1000,3000", "--requests", "10",
		"--json-file", out)
	if r.code != 0 {
		t.Fatalf("scale: %d %s %s", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep scaleReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Figures) != 2*len(scaleTargets) || len(rep.Memory) != 2 {
		t.Fatalf("report: %d figures, %d memory rows", len(rep.Figures), len(rep.Memory))
	}
	for _, f := range rep.Figures {
		if f.N != 10 || f.P50 <= 0 || f.P99 < f.P50 || (f.Size != 1000 && f.Size != 3000) {
			t.Errorf("figure %+v", f)
		}
	}
	for _, m := range rep.Memory {
		if m.PerConnection <= 0 || m.UsedBytes <= 0 {
			t.Errorf("memory %+v", m)
		}
	}
	for _, tg := range scaleTargets {
		if rep.P99Growth[tg.Name] <= 0 {
			t.Errorf("no p99 growth for %s", tg.Name)
		}
	}
	for _, bad := range [][]string{{"--sizes", "3000,1000"}, {"--sizes", "10"}, {"--requests", "1"},
		{"--url", "http://example.com"}} {
		if r := runCmd(t, nil, append([]string{"scale", "--redis", redisAddr}, bad...)...); r.code == 0 {
			t.Errorf("scale %v succeeded", bad)
		}
	}
}

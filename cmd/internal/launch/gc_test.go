package launch

import (
	"testing"

	"github.com/enlace-oauth/enlace/server/config"
)

// TestGCPercent: serve sets runtime.gc_percent unless it is 0 or the
// environment has GOGC, which the runtime has applied already.
func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		name    string
		pct     int
		environ []string
		want    int
		set     bool
	}{
		{"configured", 200, []string{"HOME=/root"}, 200, true},
		{"GOGC wins", 200, []string{"GOGC=100"}, 0, false},
		{"GOGC off wins", 300, []string{"GOGC=off"}, 0, false},
		{"empty GOGC is unset", 200, []string{"GOGC="}, 200, true},
		{"not GOGC", 200, []string{"XGOGC=50", "GOGCX=50"}, 200, true},
		{"0 leaves Go's", 0, nil, 0, false},
	} {
		got, set := GCPercent(config.Runtime{GCPercent: c.pct}, c.environ)
		if got != c.want || set != c.set {
			t.Errorf("%s: %d %v, want %d %v", c.name, got, set, c.want, c.set)
		}
	}
}

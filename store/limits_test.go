package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

func TestLoginLimits(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		st := store.New(rdb, store.Options{})
		ctx := context.Background()
		l := store.LoginLimits{PerAccount: 3, PerAddress: 5, Period: time.Hour}
		attempt := func(kind, email, addr string) time.Duration {
			t.Helper()
			w, err := st.LoginAttempt(ctx, kind, email, addr, l)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		// Successful logins are taken back and never use up the limit.
		for range 10 {
			if attempt("merchant", "ana@x.cl", "10.0.0.1") != 0 {
				t.Fatal("a successful login used up the limit")
			}
			if err := st.LoginSucceeded(ctx, "merchant", "ana@x.cl", "10.0.0.1", l); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 3 {
			if w := attempt("merchant", "Ana@x.cl", "10.0.0.1"); w != 0 {
				t.Fatalf("failure %d: wait %v", i+1, w)
			}
		}
		if w := attempt("merchant", " ana@x.cl", "10.0.0.2"); w <= 0 || w > time.Hour {
			t.Fatalf("after 3 failures the account must wait: %v", w)
		}
		// The same email as an admin is another account.
		if attempt("admin", "ana@x.cl", "10.0.0.3") != 0 {
			t.Fatal("admin and merchant accounts share a counter")
		}
		// Per address: 5 attempts over different accounts.
		for i := range 5 {
			if attempt("merchant", string(rune('a'+i))+"@x.cl", "10.0.0.9") != 0 {
				t.Fatalf("address attempt %d refused", i+1)
			}
		}
		if attempt("merchant", "fresh@x.cl", "10.0.0.9") == 0 {
			t.Fatal("the address is over its limit")
		}
		// Another store on the same Redis (another instance) sees the counts.
		other := store.New(rdb, store.Options{})
		if w, _ := other.LoginAttempt(ctx, "merchant", "ana@x.cl", "10.0.0.4", l); w == 0 {
			t.Fatal("the limit does not hold across instances")
		}
	})
}

// TestLimitAddress: IPv6 addresses count by their /64, IPv4 ones alone.
func TestLimitAddress(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"::ffff:203.0.113.7":   "::ffff:203.0.113.7",
		"not an address":       "not an address",
	} {
		if got := store.LimitAddress(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

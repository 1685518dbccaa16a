package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"enlace/store"
	"enlace/store/redistest"
)

func TestLoginLimits(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, rdb *redis.Client) {
		st := store.New(rdb, store.Options{})
		ctx := context.Background()
		l := store.LoginLimits{PerAccount: 3, PerAddress: 5, Period: time.Hour}
		wait := func(kind, email, addr string) time.Duration {
			t.Helper()
			w, err := st.LoginWait(ctx, kind, email, addr, l)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		fail := func(kind, email, addr string) {
			t.Helper()
			if err := st.LoginFailed(ctx, kind, email, addr, l); err != nil {
				t.Fatal(err)
			}
		}
		// Looking does not count.
		for range 10 {
			if wait("merchant", "ana@x.cl", "10.0.0.1") != 0 {
				t.Fatal("a look counted as an attempt")
			}
		}
		for i := range 3 {
			if w := wait("merchant", "Ana@x.cl", "10.0.0.1"); w != 0 {
				t.Fatalf("before failure %d: wait %v", i+1, w)
			}
			fail("merchant", "Ana@x.cl", "10.0.0.1")
		}
		if w := wait("merchant", " ana@x.cl", "10.0.0.2"); w <= 0 || w > time.Hour {
			t.Fatalf("after 3 failures the account must wait: %v", w)
		}
		// The same email as an admin is another account.
		if wait("admin", "ana@x.cl", "10.0.0.3") != 0 {
			t.Fatal("admin and merchant accounts share a counter")
		}
		// Per address: 5 failures over different accounts.
		for i := range 5 {
			fail("merchant", string(rune('a'+i))+"@x.cl", "10.0.0.9")
		}
		if wait("merchant", "fresh@x.cl", "10.0.0.9") == 0 {
			t.Fatal("the address is over its limit")
		}
		// Another store on the same Redis (another instance) sees the counts.
		other := store.New(rdb, store.Options{})
		if w, _ := other.LoginWait(ctx, "merchant", "ana@x.cl", "10.0.0.4", l); w == 0 {
			t.Fatal("the limit does not hold across instances")
		}
	})
}

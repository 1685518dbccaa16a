package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"enlace/store"
	"enlace/store/redistest"
)

func TestAllowLogin(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, rdb *redis.Client) {
		st := store.New(rdb, store.Options{})
		ctx := context.Background()
		l := store.LoginLimits{PerAccount: 3, PerAddress: 5, Period: time.Hour}
		for i := range 3 {
			if wait, err := st.AllowLogin(ctx, "merchant", "Ana@x.cl", "10.0.0.1", l); err != nil || wait != 0 {
				t.Fatalf("attempt %d: %v %v", i+1, wait, err)
			}
		}
		wait, err := st.AllowLogin(ctx, "merchant", "ana@x.cl ", "10.0.0.2", l)
		if err != nil || wait <= 0 || wait > time.Hour {
			t.Fatalf("4th attempt on the account must wait: %v %v", wait, err)
		}
		// The same email as an admin is another account.
		if wait, _ := st.AllowLogin(ctx, "admin", "ana@x.cl", "10.0.0.3", l); wait != 0 {
			t.Fatal("admin and merchant accounts share a counter")
		}
		// Per address: 5 attempts over different accounts.
		for i := range 5 {
			if wait, _ := st.AllowLogin(ctx, "merchant", "u"+string(rune('a'+i))+"@x.cl", "10.0.0.9", l); wait != 0 {
				t.Fatalf("address attempt %d refused", i+1)
			}
		}
		if wait, _ := st.AllowLogin(ctx, "merchant", "fresh@x.cl", "10.0.0.9", l); wait == 0 {
			t.Fatal("6th attempt from one address allowed")
		}
		// Another store on the same Redis (another instance) sees the counts.
		other := store.New(rdb, store.Options{})
		if wait, _ := other.AllowLogin(ctx, "merchant", "ana@x.cl", "10.0.0.4", l); wait == 0 {
			t.Fatal("the limit does not hold across instances")
		}
	})
}

package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestSigningKeys: keys are stored sealed and read back whole, one
// rotation of several concurrent ones wins, a withdrawal takes the older
// keys out, pruning removes what is named, each change with its audit
// event; and the ring's schedule says what signs, what is published and
// what is due.
func TestSigningKeys(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		key := []byte("signing keys test key, 32 bytes")
		key = append(key, '!')
		st := store.New(rdb, store.Options{EncryptionKey: key})
		if keys, err := st.SigningKeys(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("empty: %v %v", keys, err)
		}
		if _, err := store.New(rdb, store.Options{}).AddSigningKey(ctx, store.NewSigningKey{Alg: store.AlgRS256}); !errors.Is(err, store.ErrNoEncryptionKey) {
			t.Fatalf("without a key: %v", err)
		}
		if _, err := st.AddSigningKey(ctx, store.NewSigningKey{Alg: "HS256"}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("HS256: %v", err)
		}

		// Concurrent first keys: exactly one is stored.
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				_, err := st.AddSigningKey(ctx, store.NewSigningKey{Alg: store.AlgES256, ActiveFrom: time.Now()})
				errs <- err
			}()
		}
		won := 0
		for range 4 {
			switch err := <-errs; {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrConflict):
				t.Fatal(err)
			}
		}
		keys, err := st.SigningKeys(ctx)
		if won != 1 || err != nil || len(keys) != 1 {
			t.Fatalf("%d won, %d stored, %v", won, len(keys), err)
		}
		first := keys[0]
		if first.Alg != store.AlgES256 || first.Signer == nil || first.Public() == nil {
			t.Fatalf("key %+v", first)
		}

		// The raw hash holds no private key in the clear.
		raw, err := rdb.HGetAll(ctx, "signing-keys:{s00}").Result()
		if err != nil || len(raw) != 1 {
			t.Fatal(raw, err)
		}
		for _, v := range raw {
			if strings.Contains(v, "PRIVATE KEY") || !strings.Contains(v, `"sealed"`) {
				t.Fatalf("stored: %s", v)
			}
		}
		// Under another encryption.key it does not open.
		other := store.New(rdb, store.Options{EncryptionKey: []byte(strings.Repeat("x", 32))})
		if _, err := other.SigningKeys(ctx); err == nil || !strings.Contains(err.Error(), "does not open") {
			t.Fatalf("other key: %v", err)
		}

		policy := store.KeyPolicy{RotateEvery: 30 * 24 * time.Hour, PublishAhead: 24 * time.Hour, Retain: time.Hour}
		now := time.Now()
		ring := store.KeyRing{Keys: keys, Policy: policy}
		if ring.Signing(store.AlgES256, now) != first || len(ring.Published(now)) != 1 {
			t.Fatal("the first key does not sign")
		}
		// RS256 has none: due at once; ES256 nothing yet.
		if due := ring.Due(now); len(due) != 1 || due[0].Alg != store.AlgRS256 || due[0].ActiveFrom.After(now) {
			t.Fatalf("due: %+v", due)
		}
		// Near the end of its period, the next ES256 key is due, to sign
		// when the period ends (at least PublishAhead ahead).
		late := first.ActiveFrom.Add(policy.RotateEvery - policy.PublishAhead + time.Minute)
		var next store.NewSigningKey
		for _, d := range ring.Due(late) {
			if d.Alg == store.AlgES256 {
				next = d
			}
		}
		if next.After != first.ID || !next.ActiveFrom.Equal(late.Add(policy.PublishAhead)) &&
			!next.ActiveFrom.Equal(first.ActiveFrom.Add(policy.RotateEvery)) {
			t.Fatalf("next: %+v", next)
		}
		// A rotation over a newest key that is no longer the newest is
		// refused, and writes nothing.
		pending, err := st.AddSigningKey(ctx, store.NewSigningKey{Alg: store.AlgES256, ActiveFrom: now.Add(policy.PublishAhead), After: first.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.AddSigningKey(ctx, store.NewSigningKey{Alg: store.AlgES256, After: first.ID}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale rotation: %v", err)
		}
		keys, _ = st.SigningKeys(ctx)
		ring = store.KeyRing{Keys: keys, Policy: policy}
		if len(keys) != 2 {
			t.Fatalf("%d keys", len(keys))
		}
		// Pending: published, not signing; nothing more due.
		if st, _ := ring.State(ring.Find(pending.ID, now), now); st != store.KeyPending || ring.Signing(store.AlgES256, now).ID != first.ID {
			t.Fatalf("pending key state %s", st)
		}
		for _, d := range ring.Due(now) {
			if d.Alg == store.AlgES256 {
				t.Fatalf("due while a key waits: %+v", d)
			}
		}
		// Once it signs, the first is retired and published for Retain,
		// then expired.
		after := pending.ActiveFrom.Add(time.Second)
		if ring.Signing(store.AlgES256, after).ID != pending.ID {
			t.Fatal("the pending key does not take over")
		}
		if st, until := ring.State(keys[0], after); st != store.KeyRetired || !until.Equal(pending.ActiveFrom.Add(policy.Retain)) {
			t.Fatalf("retired: %s %v", st, until)
		}
		gone := pending.ActiveFrom.Add(policy.Retain + time.Second)
		if st, _ := ring.State(keys[0], gone); st != store.KeyExpired || len(ring.Published(gone)) != 1 {
			t.Fatalf("expired: %s", st)
		}
		if exp := ring.Expired(gone); len(exp) != 1 || exp[0] != first.ID {
			t.Fatalf("to prune: %v", exp)
		}

		// An emergency rotation withdraws every older key at once.
		urgent, err := st.AddSigningKey(ctx, store.NewSigningKey{Alg: store.AlgES256, After: pending.ID, Withdraw: true})
		if err != nil {
			t.Fatal(err)
		}
		keys, _ = st.SigningKeys(ctx)
		ring = store.KeyRing{Keys: keys, Policy: policy}
		if pub := ring.Published(time.Now()); len(pub) != 1 || pub[0].ID != urgent.ID {
			t.Fatalf("published after a withdrawal: %v", pub)
		}
		if ring.Signing(store.AlgES256, time.Now()).ID != urgent.ID {
			t.Fatal("the urgent key does not sign")
		}

		// Pruning, then pruning again (nothing there: no event).
		if err := st.PruneSigningKeys(ctx, []string{first.ID, pending.ID}); err != nil {
			t.Fatal(err)
		}
		if err := st.PruneSigningKeys(ctx, []string{first.ID}); err != nil {
			t.Fatal(err)
		}
		if keys, _ := st.SigningKeys(ctx); len(keys) != 1 {
			t.Fatalf("after pruning: %d keys", len(keys))
		}
		events, _, err := st.ListAudit(ctx, store.AuditFilter{}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.Type == store.EventKeys {
				n++
			}
		}
		if n != 4 { // first, pending, urgent, one prune
			t.Fatalf("%d key events", n)
		}
	})
}

package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestPasswordHashesBounded: a burst of logins runs at most as many
// argon2id hashes at once as the store has slots (each takes 64 MiB), and
// a login whose request is gone stops waiting.
func TestPasswordHashesBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(redistest.Start(t).Client(t), Options{})
	if _, err := s.CreateMerchant(ctx, "ana@tienda.cl", "Tienda", "s3creta-larga"); err != nil {
		t.Fatal(err)
	}
	w := watchHashes(s)
	const logins = 12
	var wg sync.WaitGroup
	for i := range logins {
		wg.Go(func() {
			pw := "s3creta-larga"
			if i%2 == 1 {
				pw = "wrong"
			}
			_, err := s.AuthenticateMerchant(ctx, "ana@tienda.cl", pw)
			if (i%2 == 0) != (err == nil) {
				t.Errorf("login %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if peak, slots := w.peak.Load(), int64(cap(s.passwords.slots)); peak > slots || peak < 1 {
		t.Fatalf("%d hashes ran at once, want between 1 and %d", peak, slots)
	}

	// Every slot taken: a login with a cancelled context gives up.
	for range cap(s.passwords.slots) {
		s.passwords.slots <- struct{}{}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := s.passwords.do(cctx, func() error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("a hash with every slot taken and its request gone: ran=%v %v", ran, err)
	}
}

// TestTakenEmailCostsAHash: a sign-up with a taken email hashes the
// password as a new one does, so the answer takes as long and does not
// tell faster than the login page which emails exist.
func TestTakenEmailCostsAHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(redistest.Start(t).Client(t), Options{})
	w := watchHashes(s)
	reg := Registration{FirstName: "Ana", LastName: "Soto", Email: "ana@tienda.cl", Password: "s3creta-larga"}
	before := w.total.Load()
	if _, err := s.RegisterMerchant(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if n := w.total.Load() - before; n != 1 {
		t.Fatalf("a new sign-up ran %d hashes", n)
	}
	before = w.total.Load()
	if _, err := s.RegisterMerchant(ctx, reg); !errors.Is(err, ErrConflict) {
		t.Fatalf("taken email: %v", err)
	}
	if n := w.total.Load() - before; n != 1 {
		t.Fatalf("a sign-up with a taken email ran %d hashes, want 1 as a new one", n)
	}
}

// hashWatch counts a store's password hashes, and the most that ran at once.
type hashWatch struct{ total, peak atomic.Int64 }

func watchHashes(s *Store) *hashWatch {
	w := &hashWatch{}
	s.passwords.started = func(running int) {
		w.total.Add(1)
		for {
			p := w.peak.Load()
			if int64(running) <= p || w.peak.CompareAndSwap(p, int64(running)) {
				return
			}
		}
	}
	return w
}

// countingHook counts the commands a client sends.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// TestUnknownEmailSameRoundTrips: a login with an unknown email makes the
// same Redis round trips (and the same hash) as one with a known email and
// a wrong password, so neither timing nor work tells them apart.
func TestUnknownEmailSameRoundTrips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	h := &countingHook{}
	rdb.AddHook(h)
	s := New(rdb, Options{})
	if _, err := s.CreateMerchant(ctx, "ana@tienda.cl", "Tienda", "s3creta-larga"); err != nil {
		t.Fatal(err)
	}
	w := watchHashes(s)
	s.passwords.dummyHash() // made once per store, outside the comparison
	trips := func(email string) (int64, int64) {
		n, hashes := h.n.Load(), w.total.Load()
		if _, err := s.AuthenticateMerchant(ctx, email, "wrong"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("%s: %v", email, err)
		}
		return h.n.Load() - n, w.total.Load() - hashes
	}
	kn, kh := trips("ana@tienda.cl")
	un, uh := trips("nadie@tienda.cl")
	if kn != un || kh != uh || kh != 1 {
		t.Fatalf("known email: %d round trips, %d hashes; unknown: %d, %d", kn, kh, un, uh)
	}
}

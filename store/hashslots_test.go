package store

import (
	"context"
	"errors"
	"sync"
	"testing"

	"enlace/store/redistest"
)

// TestPasswordHashesBounded: a burst of logins runs at most as many
// argon2id hashes at once as the store has slots (each takes 64 MiB), and
// a login whose request is gone stops waiting.
func TestPasswordHashesBounded(t *testing.T) {
	ctx := context.Background()
	s := New(redistest.Start(t).Client(t), Options{})
	if _, err := s.CreateMerchant(ctx, "ana@tienda.cl", "Tienda", "s3creta-larga"); err != nil {
		t.Fatal(err)
	}
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
	if peak, slots := s.hashPeak.Load(), int64(cap(s.hashSlots)); peak > slots || peak < 1 {
		t.Fatalf("%d hashes ran at once, want between 1 and %d", peak, slots)
	}

	// Every slot taken: a login with a cancelled context gives up.
	for range cap(s.hashSlots) {
		s.hashSlots <- struct{}{}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	if err := s.withHashSlot(cctx, func() error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("a hash with every slot taken and its request gone: ran=%v %v", ran, err)
	}
}

// TestTakenEmailCostsAHash: a sign-up with a taken email hashes the
// password as a new one does, so the answer takes as long and does not
// tell faster than the login page which emails exist.
func TestTakenEmailCostsAHash(t *testing.T) {
	ctx := context.Background()
	s := New(redistest.Start(t).Client(t), Options{})
	reg := Registration{FirstName: "Ana", LastName: "Soto", Email: "ana@tienda.cl", Password: "s3creta-larga"}
	before := s.hashes.Load()
	if _, err := s.RegisterMerchant(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if n := s.hashes.Load() - before; n != 1 {
		t.Fatalf("a new sign-up ran %d hashes", n)
	}
	before = s.hashes.Load()
	if _, err := s.RegisterMerchant(ctx, reg); !errors.Is(err, ErrConflict) {
		t.Fatalf("taken email: %v", err)
	}
	if n := s.hashes.Load() - before; n != 1 {
		t.Fatalf("a sign-up with a taken email ran %d hashes, want 1 as a new one", n)
	}
}

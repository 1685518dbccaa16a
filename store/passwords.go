package store

import (
	"context"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
)

// hasher runs the argon2id work of passwords. Each hash takes 64 MiB, so
// a burst of logins would otherwise take the process's memory with it: at
// most cap(slots) run at once, and further ones wait for a slot (or their
// context).
type hasher struct {
	slots chan struct{}
	// started, when set, is told how many hashes run as one starts; tests
	// set it to watch the bound.
	started func(running int)

	mu      sync.Mutex
	running int

	dummyOnce sync.Once
	dummy     string
}

func newHasher(slots int) *hasher { return &hasher{slots: make(chan struct{}, slots)} }

// do runs fn, an argon2id hash, once a slot is free, or gives up when ctx
// ends first.
func (h *hasher) do(ctx context.Context, fn func() error) error {
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for a password hash slot: %w", ctx.Err())
	}
	defer func() { <-h.slots }()
	if h.started != nil {
		h.mu.Lock()
		h.running++
		h.started(h.running)
		h.mu.Unlock()
		defer func() { h.mu.Lock(); h.running--; h.mu.Unlock() }()
	}
	return fn()
}

// hash returns the argon2id hash of password.
func (h *hasher) hash(ctx context.Context, password string) (string, error) {
	var out string
	err := h.do(ctx, func() (err error) {
		out, err = argon2id.CreateHash(password, argon2id.DefaultParams)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return out, nil
}

// compare reports whether password matches hash; "" compares against a
// dummy hash, so that a failed login costs the same argon2id work whether
// or not the account exists, and timing does not tell which do.
func (h *hasher) compare(ctx context.Context, password, hash string) (bool, error) {
	if hash == "" {
		hash = h.dummyHash()
	}
	var match bool
	err := h.do(ctx, func() (err error) {
		match, err = argon2id.ComparePasswordAndHash(password, hash)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("compare password: %w", err)
	}
	return match, nil
}

// dummyHash is made once, with the same parameters as real hashes.
func (h *hasher) dummyHash() string {
	h.dummyOnce.Do(func() {
		h.dummy, _ = argon2id.CreateHash(NewSecret(), argon2id.DefaultParams)
	})
	return h.dummy
}

// MaxPasswordLength bounds a password, in characters, so that what is
// hashed stays small.
const MaxPasswordLength = 256

// DefaultMinPasswordLength is the shortest password accepted when
// Options.MinPasswordLength is not set.
const DefaultMinPasswordLength = 8

// MinPasswordLength is the shortest password this store accepts, for every
// kind of account and every way one is made (sign-up, the CLI, a reset).
func (s *Store) MinPasswordLength() int { return s.minPassword }

// CheckPassword applies the one password rule: at least
// MinPasswordLength and at most MaxPasswordLength characters. The error
// wraps ErrInvalid and says which bound was missed.
func (s *Store) CheckPassword(password string) error {
	switch n := utf8.RuneCountInString(password); {
	case n == 0:
		return fmt.Errorf("%w: the password is empty", ErrInvalid)
	case n < s.minPassword:
		return fmt.Errorf("%w: the password must be at least %d characters", ErrInvalid, s.minPassword)
	case n > MaxPasswordLength:
		return fmt.Errorf("%w: the password must be at most %d characters", ErrInvalid, MaxPasswordLength)
	}
	return nil
}

package store

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// LoginLimits bound failed login attempts per account and per client
// address in each period. They live in Redis, so they hold across
// instances.
type LoginLimits struct {
	PerAccount int
	PerAddress int
	Period     time.Duration
}

type limitKey struct {
	key   string
	limit redis_rate.Limit
}

func (l LoginLimits) keys(kind, email, address string) []limitKey {
	lim := func(n int) redis_rate.Limit { return redis_rate.Limit{Rate: n, Burst: n, Period: l.Period} }
	return []limitKey{
		{"login:" + kind + ":" + Digest(NormalizeEmail(email)), lim(l.PerAccount)},
		{"login:addr:" + address, lim(l.PerAddress)},
	}
}

// LoginWait reports how long a login for the account (kind + email) from
// the client address must wait because earlier failures used up a limit; 0
// means it may go ahead. It is checked before the password, so an attacker
// over the limit costs no argon2 work; it counts failures whether or not
// the email exists, so it tells nothing about which do.
func (s *Store) LoginWait(ctx context.Context, kind, email, address string, l LoginLimits) (time.Duration, error) {
	var wait time.Duration
	for _, k := range l.keys(kind, email, address) {
		// A cost of 0 looks without counting.
		res, err := s.limiter.AllowN(ctx, k.key, k.limit, 0)
		if err != nil {
			return 0, fmt.Errorf("login limit: %w", err)
		}
		if res.Remaining >= 1 {
			continue
		}
		// A refused cost-1 call writes nothing and says when one more
		// attempt will fit.
		res, err = s.limiter.AllowN(ctx, k.key, k.limit, 1)
		if err != nil {
			return 0, fmt.Errorf("login limit: %w", err)
		}
		wait = max(wait, res.RetryAfter, time.Second)
	}
	return wait, nil
}

// LoginFailed counts a failed login against the account and the address.
func (s *Store) LoginFailed(ctx context.Context, kind, email, address string, l LoginLimits) error {
	for _, k := range l.keys(kind, email, address) {
		if _, err := s.limiter.Allow(ctx, k.key, k.limit); err != nil {
			return fmt.Errorf("count failed login: %w", err)
		}
	}
	return nil
}

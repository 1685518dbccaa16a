package store

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// LoginLimits bound login attempts per account and per client address in
// each period. They live in Redis, so they hold across instances.
type LoginLimits struct {
	PerAccount int
	PerAddress int
	Period     time.Duration
}

// AllowLogin counts one login attempt for the account (kind + email) and for
// the client address, and reports how long to wait when either is over its
// limit (0 when the attempt may go ahead). It runs before the password is
// checked, so an attacker over the limit costs no argon2 work, and it
// counts attempts whether or not the email exists, so it tells nothing.
func (s *Store) AllowLogin(ctx context.Context, kind, email, address string, l LoginLimits) (time.Duration, error) {
	var wait time.Duration
	for _, c := range []struct {
		key  string
		rate int
	}{
		{"login:" + kind + ":" + Digest(NormalizeEmail(email)), l.PerAccount},
		{"login:addr:" + address, l.PerAddress},
	} {
		res, err := s.limiter.Allow(ctx, c.key, redis_rate.Limit{Rate: c.rate, Burst: c.rate, Period: l.Period})
		if err != nil {
			return 0, fmt.Errorf("login limit: %w", err)
		}
		if res.Allowed == 0 {
			wait = max(wait, res.RetryAfter)
		}
	}
	return wait, nil
}

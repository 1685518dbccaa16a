package store

import (
	"context"
	"fmt"
	"net/netip"
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
		{loginLimitKey(kind, Digest(NormalizeEmail(email))), lim(l.PerAccount)},
		{loginAddrLimitKey(LimitAddress(address)), lim(l.PerAddress)},
	}
}

// LoginAttempt counts a login attempt for the account (kind + email) and
// the client address before the password is checked, and reports how long
// to wait when either is over its limit (0: go ahead). Counting first means
// a burst of parallel attempts cannot all slip in before their failures are
// counted; LoginSucceeded takes a successful attempt back. An attacker over
// the limit costs no argon2 work, and attempts count whether or not the
// email exists, so the limit tells nothing about which do.
func (s *Store) LoginAttempt(ctx context.Context, kind, email, address string, l LoginLimits) (time.Duration, error) {
	var wait time.Duration
	for _, k := range l.keys(kind, email, address) {
		res, err := s.limiter.Allow(ctx, k.key, k.limit)
		if err != nil {
			return 0, fmt.Errorf("login limit: %w", err)
		}
		if res.Allowed == 0 {
			wait = max(wait, res.RetryAfter, time.Second)
		}
	}
	return wait, nil
}

// LoginSucceeded takes back the attempt a successful login counted, so
// that only failures use up the limits.
func (s *Store) LoginSucceeded(ctx context.Context, kind, email, address string, l LoginLimits) error {
	for _, k := range l.keys(kind, email, address) {
		res, err := s.limiter.AllowN(ctx, k.key, k.limit, -1)
		if err != nil {
			return fmt.Errorf("login limit: %w", err)
		}
		if res.ResetAfter <= 0 {
			// Fully paid back: the script does not write then, so drop the
			// key rather than leave the attempt counted.
			if err := s.limiter.Reset(ctx, k.key); err != nil {
				return fmt.Errorf("login limit: %w", err)
			}
		}
	}
	return nil
}

// RegistrationAttempt counts a sign-up from a client address and reports
// how long to wait when the address is over perPeriod sign-ups in period
// (0: go ahead). Like the login limits it lives in Redis, so it holds
// across instances.
func (s *Store) RegistrationAttempt(ctx context.Context, address string, perPeriod int, period time.Duration) (time.Duration, error) {
	res, err := s.limiter.Allow(ctx, registerAddrLimitKey(LimitAddress(address)),
		redis_rate.Limit{Rate: perPeriod, Burst: perPeriod, Period: period})
	if err != nil {
		return 0, fmt.Errorf("registration limit: %w", err)
	}
	if res.Allowed == 0 {
		return max(res.RetryAfter, time.Second), nil
	}
	return 0, nil
}

// PushAttempt counts a pushed authorization request of a public app from a
// client address (anyone may push as a public app: its client id is all
// it proves) and reports how long to wait when the address is over
// perMinute pushes in a minute (0: go ahead).
func (s *Store) PushAttempt(ctx context.Context, address string, perMinute int) (time.Duration, error) {
	res, err := s.limiter.Allow(ctx, pushAddrLimitKey(LimitAddress(address)), redis_rate.PerMinute(perMinute))
	if err != nil {
		return 0, fmt.Errorf("push limit: %w", err)
	}
	if res.Allowed == 0 {
		return max(res.RetryAfter, time.Second), nil
	}
	return 0, nil
}

// AppCreationAttempt counts a new app of a developer and reports how long
// to wait when the developer has registered perDay apps in the last 24
// hours (0: go ahead). The portal and RFC 7591 registration share it.
func (s *Store) AppCreationAttempt(ctx context.Context, developerID string, perDay int) (time.Duration, error) {
	res, err := s.limiter.Allow(ctx, appCreationLimitKey(developerID),
		redis_rate.Limit{Rate: perDay, Burst: perDay, Period: 24 * time.Hour})
	if err != nil {
		return 0, fmt.Errorf("app creation limit: %w", err)
	}
	if res.Allowed == 0 {
		return max(res.RetryAfter, time.Second), nil
	}
	return 0, nil
}

// LimitAddress is the unit a per-address limit counts: an IPv4 address as
// it is, an IPv6 address by its /64, since one subscriber usually holds a
// whole /64 and could otherwise step around the limit address by address.
func LimitAddress(address string) string {
	ip, err := netip.ParseAddr(address)
	if err != nil || ip.Is4() || ip.Is4In6() {
		return address
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return address
	}
	return p.String()
}

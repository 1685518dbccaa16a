package store

import (
	"context"
	"fmt"
	"time"
)

// ClaimNonce records the first approval of an authorization request that
// carries nonce for the app, for ttl (the life of its code); it reports
// false when the app's nonce was claimed already. Only the nonce's digest
// is kept. One SET NX: claiming is atomic across instances.
func (s *Store) ClaimNonce(ctx context.Context, clientID, nonce string, ttl time.Duration) (bool, error) {
	return s.claimOnce(ctx, nonceKey(clientID, Digest(nonce)), ttl, "claim nonce")
}

// claimOnce records key for ttl and reports whether it was new: the one
// use of a nonce, a DPoP proof or a client assertion, on every instance.
func (s *Store) claimOnce(ctx context.Context, key string, ttl time.Duration, what string) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, key, "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return ok, nil
}

// ReleaseNonce undoes ClaimNonce for an approval that failed: nothing was
// issued with the nonce.
func (s *Store) ReleaseNonce(ctx context.Context, clientID, nonce string) error {
	if err := s.rdb.Del(ctx, nonceKey(clientID, Digest(nonce))).Err(); err != nil {
		return fmt.Errorf("release nonce: %w", err)
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// SaveSession stores a browser session's encoded values under the digest of
// its id, so that reading Redis does not yield a usable session cookie.
func (s *Store) SaveSession(ctx context.Context, id string, data []byte, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, sessionKey(Digest(id)), data, ttl).Err(); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// LoadSession returns a session's encoded values, or ErrNotFound.
func (s *Store) LoadSession(ctx context.Context, id string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, sessionKey(Digest(id))).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	return b, nil
}

// DeleteSession ends a session on the server side.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, sessionKey(Digest(id))).Err(); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// AdminKey is an API key of the admin JSON API.
type AdminKey struct {
	Name      string
	CreatedAt time.Time
}

// adminKeyPrefix marks admin API keys, so a leaked one is recognisable.
const adminKeyPrefix = "ek-"

// CreateAdminKey makes an admin API key and returns it; only its digest is
// stored, so it is shown this once.
func (s *Store) CreateAdminKey(ctx context.Context, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("%w: the key needs a name", ErrInvalid)
	}
	key := adminKeyPrefix + NewSecret()
	err := s.rdb.HSet(ctx, adminAPIKey(Digest(key)), "name", name, "created_at", ms(s.now())).Err()
	if err != nil {
		return "", fmt.Errorf("create admin key: %w", err)
	}
	return key, nil
}

// AuthenticateAdminKey returns the key's record, or ErrNotFound.
func (s *Store) AuthenticateAdminKey(ctx context.Context, key string) (*AdminKey, error) {
	if !strings.HasPrefix(key, adminKeyPrefix) {
		return nil, ErrNotFound
	}
	v, err := s.rdb.HMGet(ctx, adminAPIKey(Digest(key)), "name", "created_at").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("look up admin key: %w", err)
	}
	name, _ := v[0].(string)
	if name == "" {
		return nil, ErrNotFound
	}
	created, _ := v[1].(string)
	c, _ := strconv.ParseInt(created, 10, 64)
	return &AdminKey{Name: name, CreatedAt: fromMS(c)}, nil
}

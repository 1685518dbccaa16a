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

// AdminKey is an API key of the admin JSON API. The key itself is never
// stored; ID is the start of its digest, which names it in listings and
// for revocation without revealing anything of the key.
type AdminKey struct {
	ID        string
	Name      string
	CreatedAt time.Time
	// ExpiresAt is when the key stops working; zero for a key that does
	// not expire.
	ExpiresAt time.Time
}

// adminKeyPrefix marks admin API keys, so a leaked one is recognisable.
const adminKeyPrefix = "ek-"

// adminKeyIDLength is how many hex digits of a key's digest make its id:
// 48 bits, plenty among an operator's few keys.
const adminKeyIDLength = 12

// CreateAdminKey makes an admin API key and returns it; only its digest is
// stored, so it is shown this once. A positive ttl makes the key expire
// then (Redis drops it); 0 makes one that lasts until revoked.
func (s *Store) CreateAdminKey(ctx context.Context, name string, ttl time.Duration) (string, *AdminKey, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", nil, fmt.Errorf("%w: the key needs a name", ErrInvalid)
	}
	if ttl < 0 {
		return "", nil, fmt.Errorf("%w: the key's lifetime must be positive", ErrInvalid)
	}
	key := adminKeyPrefix + NewSecret()
	digest := Digest(key)
	now := s.now().UTC().Truncate(time.Millisecond)
	k := &AdminKey{ID: digest[:adminKeyIDLength], Name: name, CreatedAt: now}
	fields := []any{"name", name, "created_at", ms(now)}
	if ttl > 0 {
		k.ExpiresAt = now.Add(ttl)
		fields = append(fields, "expires_at", ms(k.ExpiresAt))
	}
	// The record and the index are in different slots on a Redis Cluster:
	// listing drops index entries whose record is gone (expired, or a
	// failure between the two writes).
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, adminAPIKey(digest), fields...)
		if ttl > 0 {
			p.PExpireAt(ctx, adminAPIKey(digest), k.ExpiresAt)
		}
		p.ZAdd(ctx, adminKeysIndexKey, redis.Z{Member: byCreation(ms(now), digest)})
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("create admin key: %w", err)
	}
	return key, k, nil
}

// AuthenticateAdminKey returns the key's record, or ErrNotFound for an
// unknown, revoked or expired key.
func (s *Store) AuthenticateAdminKey(ctx context.Context, key string) (*AdminKey, error) {
	if !strings.HasPrefix(key, adminKeyPrefix) {
		return nil, ErrNotFound
	}
	return s.adminKey(ctx, Digest(key))
}

func (s *Store) adminKey(ctx context.Context, digest string) (*AdminKey, error) {
	v, err := s.rdb.HMGet(ctx, adminAPIKey(digest), "name", "created_at", "expires_at").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("look up admin key: %w", err)
	}
	name, _ := v[0].(string)
	if name == "" {
		return nil, ErrNotFound
	}
	k := &AdminKey{ID: digest[:adminKeyIDLength], Name: name}
	if created, ok := v[1].(string); ok {
		c, _ := strconv.ParseInt(created, 10, 64)
		k.CreatedAt = fromMS(c)
	}
	if expires, ok := v[2].(string); ok {
		e, _ := strconv.ParseInt(expires, 10, 64)
		k.ExpiresAt = fromMS(e)
	}
	if !k.ExpiresAt.IsZero() && !s.now().Before(k.ExpiresAt) {
		// Redis drops the key at its expiry; this covers the clock of a
		// store whose Now a test has moved.
		return nil, ErrNotFound
	}
	return k, nil
}

// AdminKeys lists the admin API keys that still work, oldest first. There
// are an operator's handful, so the list is read whole; entries whose key
// has expired are dropped from the index as they are met.
func (s *Store) AdminKeys(ctx context.Context) ([]*AdminKey, error) {
	members, err := s.rdb.ZRange(ctx, adminKeysIndexKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list admin keys: %w", err)
	}
	out := make([]*AdminKey, 0, len(members))
	for _, m := range members {
		_, digest, _ := strings.Cut(m, ":")
		k, err := s.adminKey(ctx, digest)
		if errors.Is(err, ErrNotFound) {
			_ = s.rdb.ZRem(ctx, adminKeysIndexKey, m).Err()
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// RevokeAdminKey deletes the key whose id (as AdminKeys lists it) is id;
// from then on the key is refused. ErrNotFound when no key has that id.
func (s *Store) RevokeAdminKey(ctx context.Context, id string) (*AdminKey, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) != adminKeyIDLength || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%w: an admin key id is %d hex digits, as admin key list prints it", ErrInvalid, adminKeyIDLength)
	}
	members, err := s.rdb.ZRange(ctx, adminKeysIndexKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("find admin key: %w", err)
	}
	for _, m := range members {
		_, digest, _ := strings.Cut(m, ":")
		if !strings.HasPrefix(digest, id) {
			continue
		}
		k, err := s.adminKey(ctx, digest)
		if err != nil {
			return nil, err
		}
		if err := s.rdb.Del(ctx, adminAPIKey(digest)).Err(); err != nil {
			return nil, fmt.Errorf("revoke admin key: %w", err)
		}
		_ = s.rdb.ZRem(ctx, adminKeysIndexKey, m).Err()
		return k, nil
	}
	return nil, ErrNotFound
}

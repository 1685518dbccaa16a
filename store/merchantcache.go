package store

import (
	"context"
	"sync"
	"time"
)

// MerchantCache keeps merchants in process for a short time, so that
// /api/d/info does not read one from Redis on every call. Nothing in enlace
// changes a merchant after it is created, so a short TTL is only a safety
// net for changes made behind its back.
type MerchantCache struct {
	store *Store
	ttl   time.Duration
	max   int

	mu      sync.Mutex
	entries map[string]cachedMerchant
}

type cachedMerchant struct {
	m       *Merchant
	expires time.Time
}

// NewMerchantCache returns a cache holding at most max merchants for ttl.
func NewMerchantCache(s *Store, ttl time.Duration, max int) *MerchantCache {
	return &MerchantCache{store: s, ttl: ttl, max: max, entries: map[string]cachedMerchant{}}
}

// Get returns the merchant, from the cache when it can.
func (c *MerchantCache) Get(ctx context.Context, id string) (*Merchant, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.m, nil
	}
	m, err := c.store.GetMerchant(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		// Crude but bounded: start over rather than track recency.
		clear(c.entries)
	}
	c.entries[id] = cachedMerchant{m: m, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return m, nil
}

package store

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// AppCache keeps apps in process so that token requests and token checks
// do not read Redis for them. A change to an app is published on
// AppChannel and drops it from every instance's cache; when the
// subscription breaks (and so could have missed a message) the whole cache
// is dropped, and entries also expire after a maximum age as a last resort.
type AppCache struct {
	store  *Store
	maxAge time.Duration

	mu      sync.Mutex
	entries map[string]cachedApp
	// gen counts invalidations, so that a load that raced one is not
	// cached with what it read before.
	gen uint64
	// live is set while the subscription stands; only then is anything
	// cached, since only then would a change be heard.
	live bool
	// silence is how long the subscription may stay quiet before it is
	// pinged (see Run).
	silence time.Duration
}

type cachedApp struct {
	app     *App
	expires time.Time
}

// NewAppCache returns a cache over the store's apps. Run must be running
// for invalidations to arrive; until it has subscribed, nothing is cached.
func NewAppCache(s *Store, maxAge time.Duration) *AppCache {
	c := &AppCache{store: s, maxAge: maxAge, entries: map[string]cachedApp{}, silence: 3 * time.Second}
	// Changes made through this store reach its own caches before the call
	// returns, not only when the pub/sub message comes back.
	s.cachesMu.Lock()
	s.caches = append(s.caches, c)
	s.cachesMu.Unlock()
	return c
}

// PingAfter sets how long the subscription may stay silent before Run
// pings it (3 s unless set); call it before Run.
func (c *AppCache) PingAfter(d time.Duration) *AppCache {
	c.silence = d
	return c
}

// Live reports whether the cache serves: its subscription stands and
// answers.
func (c *AppCache) Live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// Get returns the app, from the cache when it can.
func (c *AppCache) Get(ctx context.Context, clientID string) (*App, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[clientID]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.app, nil
	}
	app, err := c.store.GetApp(ctx, clientID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen && c.live {
		c.entries[clientID] = cachedApp{app: app, expires: now.Add(c.maxAge)}
	}
	c.mu.Unlock()
	return app, nil
}

// Invalidate drops one app, or every app when clientID is "".
func (c *AppCache) Invalidate(clientID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if clientID == "" {
		clear(c.entries)
		return
	}
	delete(c.entries, clientID)
}

// Run listens for app changes until ctx ends. ready, if not nil, is closed
// once the first subscription is confirmed.
func (c *AppCache) Run(ctx context.Context, ready chan<- struct{}) {
	ps := c.store.rdb.Subscribe(ctx, AppChannel)
	defer ps.Close()
	// Receive blocks on the connection and does not watch ctx; closing the
	// subscription is what ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	first := true
	// A connection can die without a word (its host gone, no reset): every
	// few seconds of silence the subscription is pinged, and a ping left
	// unanswered means the messages may be lost, so the cache stops
	// serving until the subscription stands again.
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, c.silence)
		var ne net.Error
		if err != nil && errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			if pinged {
				c.setLive(false)
			}
			if perr := ps.Ping(ctx); perr != nil {
				c.setLive(false)
			}
			pinged = true
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The connection broke: messages may have been lost. go-redis
			// resubscribes on the next Receive.
			c.setLive(false)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Pong:
			c.setLiveIfNot()
		case *redis.Subscription:
			c.setLive(true)
			if first && ready != nil {
				close(ready)
			}
			first = false
		case *redis.Message:
			c.Invalidate(m.Payload)
		}
	}
}

// setLiveIfNot marks the subscription as standing again after a ping was
// answered, if an unanswered one had stopped the cache.
func (c *AppCache) setLiveIfNot() {
	if !c.Live() {
		c.setLive(true)
	}
}

// setLive records whether the subscription stands, dropping everything
// either way: what was cached may have missed a message.
func (c *AppCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.live = live
	clear(c.entries)
}

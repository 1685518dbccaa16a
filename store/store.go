// Package store keeps enlace's state in Redis: apps, merchants, connections
// with their codes and tokens, and login sessions. It knows nothing of HTTP.
//
// Every credential is stored only as a digest, every key that can expire has
// a TTL, and every state transition of a connection (approve, exchange a
// code, rotate a refresh token, revoke) is a single Lua script over the
// keys of one shard — the record, the shard's listing indexes and its audit
// stream — so it is atomic, costs one round trip, records its own audit
// event, and runs unchanged on a Redis Cluster because the keys share the
// shard's hash tag (keys.go).
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Errors callers can test for with errors.Is.
var (
	// ErrNotFound: the record does not exist (or the credential is unknown,
	// expired or revoked, which callers must not distinguish).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a record with the same unique value already exists.
	ErrConflict = errors.New("already exists")
	// ErrInvalid: the input breaks a data rule; the message says which.
	ErrInvalid = errors.New("invalid input")
)

// Lifetimes are how long each credential lives.
type Lifetimes struct {
	Code    time.Duration
	Access  time.Duration
	Refresh time.Duration
	// RetryWindow is how long a just-used refresh token still gets the
	// answer it got, for a client that lost it.
	RetryWindow time.Duration
}

// DefaultLifetimes are the platform's defaults: 24 h codes, 6 h access
// tokens, 48 h refresh tokens.
var DefaultLifetimes = Lifetimes{Code: 24 * time.Hour, Access: 6 * time.Hour, Refresh: 48 * time.Hour,
	RetryWindow: 10 * time.Second}

// Options configure a Store.
type Options struct {
	Lifetimes Lifetimes
	// Now returns the current time; tests replace it to move past expiries.
	Now func() time.Time
	// AuditLength bounds the audit trail (approximately; each shard's
	// stream keeps its share, at least 1000); 0 means 100000.
	AuditLength int64
	// Logger receives what the store cannot return (background work that
	// failed).
	Logger *slog.Logger
	// MinPasswordLength is the shortest password of any account, in
	// characters; 0 means DefaultMinPasswordLength.
	MinPasswordLength int
	// EncryptionKey (EncryptionKeyBytes long) seals what enlace must read
	// back, such as webhook signing secrets; without one, webhooks cannot
	// be set up.
	EncryptionKey []byte
}

// Store is enlace's Redis-backed storage. It is safe for concurrent use.
type Store struct {
	rdb       redis.UniversalClient
	lifetimes Lifetimes
	now       func() time.Time
	auditMax  int64
	log       *slog.Logger
	limiter   *redis_rate.Limiter

	passwords   *hasher
	minPassword int

	encryptionKey []byte

	cachesMu  sync.Mutex
	caches    []*AppCache
	observers []func(Event)
}

// Observe registers fn to see every audit event as it happens (for
// metrics). fn must be quick and must not block.
func (s *Store) Observe(fn func(Event)) {
	s.cachesMu.Lock()
	defer s.cachesMu.Unlock()
	s.observers = append(s.observers, fn)
}

// Instrument adds a go-redis hook to the store's client (for metrics).
func (s *Store) Instrument(h redis.Hook) { s.rdb.AddHook(h) }

// appChanged tells every instance that an app changed: this process's
// caches at once, the others over pub/sub.
func (s *Store) appChanged(ctx context.Context, clientID string) error {
	s.cachesMu.Lock()
	for _, c := range s.caches {
		c.Invalidate(clientID)
	}
	s.cachesMu.Unlock()
	if err := s.rdb.Publish(ctx, AppChannel, clientID).Err(); err != nil {
		return fmt.Errorf("announce app change: %w", err)
	}
	return nil
}

// New returns a Store over an existing Redis client. Zero lifetimes take
// their defaults.
func New(rdb redis.UniversalClient, opts Options) *Store {
	lt := opts.Lifetimes
	if lt.Code <= 0 {
		lt.Code = DefaultLifetimes.Code
	}
	if lt.Access <= 0 {
		lt.Access = DefaultLifetimes.Access
	}
	if lt.Refresh <= 0 {
		lt.Refresh = DefaultLifetimes.Refresh
	}
	if lt.RetryWindow < 0 {
		lt.RetryWindow = 0
	} else if lt.RetryWindow == 0 {
		lt.RetryWindow = DefaultLifetimes.RetryWindow
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	auditMax := opts.AuditLength
	if auditMax <= 0 {
		auditMax = 100000
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	minPassword := opts.MinPasswordLength
	if minPassword <= 0 {
		minPassword = DefaultMinPasswordLength
	}
	return &Store{rdb: rdb, lifetimes: lt, now: now, auditMax: auditMax, log: log,
		limiter:     redis_rate.NewLimiter(rdb),
		passwords:   newHasher(max(2, runtime.GOMAXPROCS(0))),
		minPassword: minPassword, encryptionKey: opts.EncryptionKey}
}

// Lifetimes reports the lifetimes the store issues credentials with.
func (s *Store) Lifetimes() Lifetimes { return s.lifetimes }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// MillisOf is t in Unix milliseconds.
func MillisOf(t time.Time) Millis { return Millis(t.UnixMilli()) }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Now is the store's clock (Options.Now): what expiries are measured
// against, for callers that decide by them too.
func (s *Store) Now() time.Time { return s.now() }

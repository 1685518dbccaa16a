// Package store keeps enlace's state in Redis: apps, merchants, connections
// with their codes and tokens, and login sessions. It knows nothing of HTTP.
//
// Every credential is stored only as a digest, every key that can expire has
// a TTL, and every state transition of a connection (approve, exchange a
// code, rotate a refresh token, revoke) is a single Lua script over a single
// key, so it is atomic, costs one round trip, and runs unchanged on a Redis
// Cluster because the key carries a {connection-id} hash tag.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
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

// Rejected is a refusal of a grant by a state-transition script, in the
// OAuth error vocabulary: Code is "invalid_grant" or "invalid_scope", Reason
// a human description that is safe to return to the client.
type Rejected struct {
	Code   string
	Reason string
}

func (e *Rejected) Error() string { return e.Code + ": " + e.Reason }

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
	// AuditLength bounds the audit stream (approximately); 0 means 100000.
	AuditLength int64
	// Logger receives what the store cannot return (a failed audit write).
	Logger *slog.Logger
}

// Store is enlace's Redis-backed storage. It is safe for concurrent use.
type Store struct {
	rdb       redis.UniversalClient
	lifetimes Lifetimes
	now       func() time.Time
	auditMax  int64
	log       *slog.Logger
	limiter   *redis_rate.Limiter
	auditQ    auditQueue

	dummyOnce sync.Once
	dummy     string
	// hashSlots bounds the argon2id hashes running at once: each takes
	// 64 MiB, so a burst of logins would otherwise take the process's
	// memory with it. Further logins wait for a slot (or their context).
	hashSlots chan struct{}

	floorOnce  sync.Once
	floorFixed floorFixed   // the benchmark floor's arguments (floor.go)
	hashPeak   atomic.Int64 // most hashes seen running at once, for tests
	hashing    atomic.Int64
	hashes     atomic.Int64 // hashes run, for tests

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
	return &Store{rdb: rdb, lifetimes: lt, now: now, auditMax: auditMax, log: log,
		limiter: redis_rate.NewLimiter(rdb), auditQ: auditQueue{ch: make(chan Event, 4096), wake: make(chan struct{}, 1)},
		hashSlots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
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

// Key names, and how they live on a Redis Cluster.
//
// A connection's hash and its retry key carry the connection id as a hash
// tag ({id}), so each script (exchange, refresh, revoke) touches one slot:
// atomic and one round trip, on one node as on a cluster. Everything else
// is one key per record, and no command or MULTI spans two keys. What
// spans slots, and its consistency rule:
//   - Indexes (apps, merchants, admins, conns, merchant-conns:, app-conns:)
//     are sorted sets written in the same pipeline as the record they point
//     at; on a cluster the two are on different nodes and either may land
//     first. Readers skip entries whose record is missing, and drop one
//     only once it is a minute old (so an entry whose record is still in
//     flight survives); revocation removes entries lazily. An index may so
//     briefly lack a new record or list a dead one; the record decides.
//   - Uniqueness of an email is the SETNX of its email key, taken before
//     the account record is written; a failed write gives it back.
//   - The audit stream is one key (one node): events from every instance
//     are ordered by that node's stream ids, which is the order in which
//     they reached it.
//   - Rate-limit counters (login, registration) are one key per account or
//     address, each updated atomically by redis_rate's script, so limits
//     hold across instances.
//   - App changes are published on AppChannel; on a cluster, PUBLISH
//     reaches subscribers on every node.
func appKey(clientID string) string        { return "app:" + clientID }
func merchantKey(id string) string         { return "merchant:" + id }
func merchantEmailKey(email string) string { return "merchant-email:" + email }
func connKey(id string) string             { return "conn:{" + id + "}" }
func retryKey(id string) string            { return "retry:{" + id + "}" }
func merchantConnsKey(id string) string    { return "merchant-conns:" + id }
func appConnsKey(clientID string) string   { return "app-conns:" + clientID }
func sessionKey(digest string) string      { return "session:" + digest }
func adminKey(id string) string            { return "admin:" + id }
func adminEmailKey(email string) string    { return "admin-email:" + email }
func adminAPIKey(digest string) string     { return "admin-key:" + digest }

const (
	appsIndexKey      = "apps"
	merchantsIndexKey = "merchants"
	connsIndexKey     = "conns"
	adminsIndexKey    = "admins"
	// AppChannel is the pub/sub channel on which a changed app's client id
	// is published, so every instance drops it from its cache.
	AppChannel = "app-changed"
)

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// EventType is what an audit event records.
type EventType string

// Audit event types.
const (
	EventGrant    EventType = "grant"    // a merchant approved an app: a new connection
	EventExchange EventType = "exchange" // a code was exchanged for tokens
	EventSignIn   EventType = "signin"   // a first-party app signed a merchant in (password grant): a new connection
	EventRefresh  EventType = "refresh"  // a refresh token was rotated
	EventRevoke   EventType = "revoke"   // a connection was revoked (Actor says by whom)
	EventReuse    EventType = "reuse"    // a spent code or refresh token came back; its connection is revoked
	EventApp      EventType = "app"      // an app was disabled or enabled
)

// Actor is who caused an event or a revocation. Make one with the Actor*
// functions and constants; it is stored and shown as its string.
type Actor string

// Actors that are not a person or an app.
const (
	// ActorCLI is an operator at the command line.
	ActorCLI Actor = "cli"
	// ActorCodeReuse and ActorRefreshReuse revoke a connection whose spent
	// code or refresh token came back (store/lua/exchange.lua, refresh.lua).
	ActorCodeReuse    Actor = "code-reuse"
	ActorRefreshReuse Actor = "refresh-reuse"
)

// ActorMerchant is a merchant acting on the pages or a sign-in.
func ActorMerchant(id string) Actor { return Actor("merchant:" + id) }

// ActorAdmin is an admin acting on the admin pages.
func ActorAdmin(id string) Actor { return Actor("admin:" + id) }

// ActorAdminKey is a caller of the admin API, by its key's name.
func ActorAdminKey(name string) Actor { return Actor("admin-key:" + name) }

// ActorClient is an app acting at the token or revocation endpoint.
func ActorClient(clientID string) Actor { return Actor("client:" + clientID) }

// Event is one line of the audit trail. It never holds a credential.
type Event struct {
	ID           string
	Time         time.Time
	Type         EventType
	ConnectionID string
	ClientID     string
	MerchantID   string
	// Actor is who caused the event.
	Actor  Actor
	Detail string
}

// auditQueue carries events from request paths to the writer goroutine,
// so that recording them costs a token request no Redis round trip.
type auditQueue struct {
	ch chan Event
	// wake tells the writer that ch has events. The writer does not
	// receive from ch directly: an event it held outside mu would be in
	// neither the queue nor the stream, and a FlushAudit in that moment
	// would miss it.
	wake    chan struct{}
	running atomic.Bool
	// mu lets one goroutine at a time take events off ch and write them,
	// which keeps the stream in the order the events happened.
	mu sync.Mutex
}

// audit records an event in the bounded audit stream: through the writer
// when RunAuditWriter runs (and its queue has room), else at once. A
// failure to record is logged, not returned: the transition it describes
// has already happened.
func (s *Store) audit(ctx context.Context, e Event) {
	s.cachesMu.Lock()
	observers := s.observers
	s.cachesMu.Unlock()
	for _, fn := range observers {
		fn(e)
	}
	if s.auditQ.running.Load() {
		select {
		case s.auditQ.ch <- e:
			select {
			case s.auditQ.wake <- struct{}{}:
			default: // the writer is already woken
			}
			return
		default:
		}
	}
	s.auditQ.mu.Lock()
	defer s.auditQ.mu.Unlock()
	s.writeAudit(ctx, append(s.drainAudit(), e))
}

// RunAuditWriter writes queued audit events in pipelined batches until ctx
// ends, then writes what is left. Events still queued when the process is
// killed are lost; a graceful stop loses none.
func (s *Store) RunAuditWriter(ctx context.Context) {
	s.auditQ.running.Store(true)
	defer func() {
		s.auditQ.running.Store(false)
		s.FlushAudit(context.WithoutCancel(ctx))
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.auditQ.wake:
			s.FlushAudit(context.WithoutCancel(ctx))
		}
	}
}

// FlushAudit writes every queued event now, so a reader sees all that
// happened before the call.
func (s *Store) FlushAudit(ctx context.Context) {
	s.auditQ.mu.Lock()
	defer s.auditQ.mu.Unlock()
	for {
		batch := s.drainAudit()
		if len(batch) == 0 {
			return
		}
		s.writeAudit(ctx, batch)
	}
}

// drainAudit takes what is queued without waiting; callers hold auditQ.mu.
func (s *Store) drainAudit() []Event {
	var out []Event
	for len(out) < auditBatch {
		select {
		case e := <-s.auditQ.ch:
			out = append(out, e)
		default:
			return out
		}
	}
	return out
}

// auditBatch bounds one pipelined write.
const auditBatch = 512

func (s *Store) writeAudit(ctx context.Context, events []Event) {
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range events {
			vals := []any{"type", string(e.Type)}
			for _, kv := range [][2]string{
				{"connection_id", e.ConnectionID}, {"client_id", e.ClientID}, {"merchant_id", e.MerchantID},
				{"actor", string(e.Actor)}, {"detail", e.Detail},
			} {
				if kv[1] != "" {
					vals = append(vals, kv[0], kv[1])
				}
			}
			p.XAdd(ctx, &redis.XAddArgs{Stream: auditKey, MaxLen: s.auditMax, Approx: true, Values: vals})
		}
		return nil
	})
	if err != nil {
		failed := 0
		for _, c := range cmds {
			if c.Err() != nil {
				failed++
			}
		}
		s.log.Error("record audit events", "events", len(events), "failed", failed, "err", err)
	}
}

// AuditFilter narrows an audit listing; empty fields match everything.
type AuditFilter struct {
	ClientID     string
	MerchantID   string
	ConnectionID string
}

func (f AuditFilter) match(e Event) bool {
	return (f.ClientID == "" || f.ClientID == e.ClientID) &&
		(f.MerchantID == "" || f.MerchantID == e.MerchantID) &&
		(f.ConnectionID == "" || f.ConnectionID == e.ConnectionID)
}

// ListAudit returns up to limit events, newest first, older than before
// (an event id; "" for the newest), and the id to pass as before for the
// next page ("" at the end).
func (s *Store) ListAudit(ctx context.Context, f AuditFilter, before string, limit int) ([]Event, string, error) {
	if limit <= 0 {
		limit = 50
	}
	s.FlushAudit(ctx)
	max := "+"
	if before != "" {
		ms, seq, ok := strings.Cut(before, "-")
		if _, err := strconv.ParseUint(ms, 10, 64); err != nil || !ok {
			return nil, "", fmt.Errorf("%w: before must be an event id", ErrInvalid)
		}
		if _, err := strconv.ParseUint(seq, 10, 64); err != nil {
			return nil, "", fmt.Errorf("%w: before must be an event id", ErrInvalid)
		}
		max = "(" + before
	}
	var out []Event
	for len(out) < limit {
		msgs, err := s.rdb.XRevRangeN(ctx, auditKey, max, "-", int64(limit)).Result()
		if err != nil {
			return nil, "", fmt.Errorf("list audit: %w", err)
		}
		for _, m := range msgs {
			e := decodeEvent(m)
			if f.match(e) {
				out = append(out, e)
				if len(out) == limit {
					break
				}
			}
			max = "(" + m.ID
		}
		if len(msgs) < limit {
			return out, "", nil
		}
	}
	return out, out[len(out)-1].ID, nil
}

func decodeEvent(m redis.XMessage) Event {
	get := func(k string) string { v, _ := m.Values[k].(string); return v }
	msStr, _, _ := strings.Cut(m.ID, "-")
	t, _ := strconv.ParseInt(msStr, 10, 64)
	return Event{
		ID: m.ID, Time: fromMS(t), Type: EventType(get("type")), ConnectionID: get("connection_id"),
		ClientID: get("client_id"), MerchantID: get("merchant_id"), Actor: Actor(get("actor")), Detail: get("detail"),
	}
}

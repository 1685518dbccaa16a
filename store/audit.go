package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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
	EventApp      EventType = "app"      // an app was disabled, enabled, or revoked as a whole
	// EventResources: the platform replaced a merchant's resources of one
	// type (resources.go); MerchantID says whose, Detail the type and
	// what changed.
	EventResources EventType = "resources"
	// EventNarrow: a connection's scopes were limited to fewer resources
	// (narrow.go).
	EventNarrow EventType = "narrow"
	// EventKeys: an ID-token signing key was added (a rotation) or
	// retired keys were pruned (signingkeys.go).
	EventKeys EventType = "keys"
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
	// ActorDeliverer disables a webhook endpoint that failed too long
	// (store/lua/webhook.lua).
	ActorDeliverer Actor = "deliverer"
	// ActorKeyRotation adds and prunes ID-token signing keys on schedule
	// (signingkeys.go).
	ActorKeyRotation Actor = "key-rotation"
)

// ActorMerchant is a merchant acting on the pages or a sign-in.
func ActorMerchant(id string) Actor { return Actor("merchant:" + id) }

// ActorAdmin is an admin acting on the admin pages.
func ActorAdmin(id string) Actor { return Actor("admin:" + id) }

// ActorAdminKey is a caller of the admin API, by its key's name.
func ActorAdminKey(name string) Actor { return Actor("admin-key:" + name) }

// ActorClient is an app acting at the token or revocation endpoint.
func ActorClient(clientID string) Actor { return Actor("client:" + clientID) }

// ActorDeveloper is a developer, in the portal or through RFC 7591/7592.
func ActorDeveloper(id string) Actor { return Actor("developer:" + id) }

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
	// TokenID is the id of the token pair an exchange, refresh or sign-in
	// issued (the _id of the answer; not a credential).
	TokenID string
}

// observe shows an event to the observers (metrics). The event itself
// was written by the script that made the change it records.
func (s *Store) observe(e Event) {
	s.cachesMu.Lock()
	observers := s.observers
	s.cachesMu.Unlock()
	for _, fn := range observers {
		fn(e)
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

// An event's id is its stream entry's id and its shard,
// "<ms>-<seq>-<shard>": events are ordered by stream id, then shard, newest
// first, which is the order in which they reached their shards.
type eventID struct {
	ms, seq uint64
	shard   int
}

func parseEventID(v string) (eventID, bool) {
	parts := strings.Split(v, "-")
	if len(parts) != 3 {
		return eventID{}, false
	}
	ms, err1 := strconv.ParseUint(parts[0], 10, 64)
	seq, err2 := strconv.ParseUint(parts[1], 10, 64)
	shard, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || shard < 0 || shard >= Shards {
		return eventID{}, false
	}
	return eventID{ms, seq, shard}, true
}

func (id eventID) String() string { return fmt.Sprintf("%d-%d-%d", id.ms, id.seq, id.shard) }
func (id eventID) stream() string { return fmt.Sprintf("%d-%d", id.ms, id.seq) }

// newer reports whether id comes before o, newest first.
func (id eventID) newer(o eventID) bool {
	if id.ms != o.ms {
		return id.ms > o.ms
	}
	if id.seq != o.seq {
		return id.seq > o.seq
	}
	return id.shard > o.shard
}

// ListAudit returns up to limit events, newest first, older than before
// (an event id; "" for the newest), and the id to pass as before for the
// next page ("" at the end). It merges the shards' streams, reading each
// in batches of the page's size; a filter by connection reads its shard
// alone.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter, before string, limit int) ([]Event, string, error) {
	if limit <= 0 {
		limit = 50
	}
	var from eventID
	if before != "" {
		var ok bool
		if from, ok = parseEventID(before); !ok {
			return nil, "", fmt.Errorf("%w: before must be an event id", ErrInvalid)
		}
	}
	shards := make([]int, 0, Shards)
	if f.ConnectionID != "" {
		shards = append(shards, shardOf(f.ConnectionID))
	} else {
		for n := range Shards {
			shards = append(shards, n)
		}
	}
	// Each shard's stream is read from its own upper bound: below before,
	// or at it for the shards that order below before's own.
	type cursor struct {
		shard int
		max   string
		buf   []Event
		done  bool
	}
	cur := make([]*cursor, len(shards))
	for i, n := range shards {
		max := "+"
		if before != "" {
			max = "(" + from.stream()
			if n < from.shard {
				max = from.stream()
			}
		}
		cur[i] = &cursor{shard: n, max: max}
	}
	batch := int64(max(limit, 16))
	fill := func() error {
		var need []*cursor
		for _, c := range cur {
			if len(c.buf) == 0 && !c.done {
				need = append(need, c)
			}
		}
		if len(need) == 0 {
			return nil
		}
		cmds := make([]*redis.XMessageSliceCmd, len(need))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, c := range need {
				cmds[i] = p.XRevRangeN(ctx, auditKey(c.shard), c.max, "-", batch)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list audit: %w", err)
		}
		for i, c := range need {
			msgs := cmds[i].Val()
			for _, m := range msgs {
				c.buf = append(c.buf, decodeEvent(m, c.shard))
				c.max = "(" + m.ID
			}
			c.done = int64(len(msgs)) < batch
		}
		return nil
	}
	var out []Event
	for len(out) < limit {
		if err := fill(); err != nil {
			return nil, "", err
		}
		// The newest head among the shards.
		var best *cursor
		var bestID eventID
		for _, c := range cur {
			if len(c.buf) == 0 {
				continue
			}
			id, _ := parseEventID(c.buf[0].ID)
			if best == nil || id.newer(bestID) {
				best, bestID = c, id
			}
		}
		if best == nil {
			return out, "", nil
		}
		e := best.buf[0]
		best.buf = best.buf[1:]
		if f.match(e) {
			out = append(out, e)
		}
	}
	// Another page exists when any shard has more.
	more := false
	for _, c := range cur {
		more = more || len(c.buf) > 0 || !c.done
	}
	if !more {
		return out, "", nil
	}
	return out, out[len(out)-1].ID, nil
}

func decodeEvent(m redis.XMessage, shard int) Event {
	get := func(k string) string { v, _ := m.Values[k].(string); return v }
	msStr, _, _ := strings.Cut(m.ID, "-")
	t, err := strconv.ParseInt(get("t"), 10, 64)
	if err != nil {
		t, _ = strconv.ParseInt(msStr, 10, 64)
	}
	return Event{
		ID: m.ID + "-" + strconv.Itoa(shard), Time: fromMS(t), Type: EventType(get("type")), ConnectionID: get("connection_id"),
		ClientID: get("client_id"), MerchantID: get("merchant_id"), Actor: Actor(get("actor")), Detail: get("detail"),
		TokenID: get("token_id"),
	}
}

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Webhook deliveries. A lifecycle event is written to its shard's outbox
// stream by the script that made the change (lua/lib.lua webhook_event,
// lua/app.lua status_changed), so an event is never without its change
// nor a change without its event. The deliverer (server/webhooks) moves
// each event on, through a Redis Streams consumer group shared by every
// instance: TransferOutbox reads the shard streams, turns each event of an
// app with an active endpoint into a delivery in the app's shard (the
// webhook-delivery hash, the app's list and the due queue: lua/webhook.lua)
// and acknowledges and deletes the event; an event of an app without one
// is dropped. An instance that dies between reading and acknowledging
// leaves its events pending in the group, and another claims them after a
// while (XAUTOCLAIM); queueing is idempotent by the event's id, so that
// second reading creates nothing twice. ClaimDeliveries, RecordAttempt and
// ResendDelivery are the rest of a delivery's life.

// Event types of the webhooks.
const (
	WebhookConnectionCreated = "connection.created"
	WebhookConnectionRevoked = "connection.revoked"
	WebhookAppStatusChanged  = "app.status_changed"
	WebhookPing              = "ping"
)

// DeliveryStatus is where a delivery is.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending    DeliveryStatus = "pending"    // waiting for its next attempt
	DeliveryDelivering DeliveryStatus = "delivering" // an instance is attempting it
	DeliveryDelivered  DeliveryStatus = "delivered"  // a 2xx answered
	DeliveryFailed     DeliveryStatus = "failed"     // every attempt of the schedule failed
)

// Delivery is one event on its way to an app's webhook.
type Delivery struct {
	// ID is the event's id, sent as webhook-id on every attempt.
	ID       string
	ClientID string
	Type     string
	// Payload is the body, the same on every attempt.
	Payload   []byte
	CreatedAt time.Time
	Status    DeliveryStatus
	// Attempts counts the attempts made; Round is how many there were at
	// the last resend, where the retry schedule started again.
	Attempts, Round int
	// NextAt is when the next attempt is due (zero once delivered or
	// failed).
	NextAt      time.Time
	DeliveredAt time.Time
	// Log is the latest attempts, newest first.
	Log []DeliveryAttempt
	// claim is the token of the instance attempting it.
	claim string
}

// DeliveryAttempt is one attempt of a delivery.
type DeliveryAttempt struct {
	At time.Time
	// Status is the HTTP status answered; 0 when none was (Error says why).
	Status  int
	Latency time.Duration
	Error   string
}

// WebhookArgs are the arguments of lua/webhook.lua.
type WebhookArgs struct {
	Op           string `json:"op"`
	ID           string `json:"id"`
	Now          Millis `json:"now"`
	ClientID     string `json:"client_id,omitempty"`
	Type         string `json:"type,omitempty"`
	Payload      string `json:"payload,omitempty"`
	Retention    int64  `json:"retention,omitempty"`
	Member       string `json:"member,omitempty"`
	Trim         string `json:"trim,omitempty"`
	Claim        string `json:"claim,omitempty"`
	Lease        int64  `json:"lease,omitempty"`
	OK           bool   `json:"ok"`
	Status       int    `json:"status"`
	Latency      int64  `json:"latency"`
	Error        string `json:"error"`
	NextAt       Millis `json:"next_at"`
	DisableAfter int64  `json:"disable_after"`
	AuditMax     int64  `json:"audit_max,omitempty"`
}

// WebhookResult is the answer of lua/webhook.lua.
type WebhookResult struct {
	verdict
	Delivery map[string]string `json:"delivery"`
	Disabled bool              `json:"disabled"`
}

var webhookScript = newScript[WebhookArgs, WebhookResult]("webhook", false)

// outboxGroup is the consumer group every instance's deliverer joins.
const outboxGroup = "enlace-webhooks"

// DeliveryOptions are the deliverer's settings the store applies.
type DeliveryOptions struct {
	// Retention is how long a delivery's record is kept (and listed).
	Retention time.Duration
	// Batch bounds the events read from each shard, and the deliveries
	// claimed, in one pass.
	Batch int
	// ClaimIdle is how long an event read by an instance may stay
	// unacknowledged before another instance takes it over.
	ClaimIdle time.Duration
}

func (o DeliveryOptions) withDefaults() DeliveryOptions {
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = time.Minute
	}
	return o
}

// JoinOutbox creates the consumer group on every shard's outbox (and the
// stream, when there is none yet), reading from the start, so events
// written before any deliverer ran are delivered too. It may run on every
// start of every instance.
func (s *Store) JoinOutbox(ctx context.Context) error {
	cmds := make([]*redis.StatusCmd, Shards)
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range Shards {
			cmds[n] = p.XGroupCreateMkStream(ctx, outboxKey(n), outboxGroup, "0")
		}
		return nil
	})
	for _, c := range cmds {
		if err := c.Err(); err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
			return fmt.Errorf("join the webhook outbox: %w", err)
		}
	}
	return nil
}

// Transfer is what one TransferOutbox pass did.
type Transfer struct {
	// Queued events became deliveries; Dropped were of apps without an
	// active endpoint.
	Queued, Dropped int
	// Full is a shard that had a whole batch waiting: there may be more.
	Full bool
}

// ShardSet is a set of shards, one bit each (Shards is 32); AllShards
// holds every one.
type ShardSet uint32

// AllShards is every shard.
const AllShards = ShardSet(1<<Shards - 1)

// EventShard is the shard whose outbox an event's change wrote to: its
// connection's, or its app's for an app event.
func EventShard(e Event) ShardSet {
	if e.ConnectionID != "" {
		return 1 << shardOf(e.ConnectionID)
	}
	return 1 << shardOf(e.ClientID)
}

// TransferOutbox moves the events waiting in the outboxes of shards on to
// deliveries, as consumer of the group (one name per instance). With
// reclaim, it first takes over events another consumer read and left
// unacknowledged for ClaimIdle (that instance died). Full reports that a
// shard had more than one batch waiting.
func (s *Store) TransferOutbox(ctx context.Context, consumer string, shards ShardSet, reclaim bool, o DeliveryOptions) (Transfer, error) {
	o = o.withDefaults()
	var t Transfer
	read := make([]*redis.XStreamSliceCmd, Shards)
	claimed := make([]*redis.XAutoClaimCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range Shards {
			if shards&(1<<n) == 0 {
				continue
			}
			if reclaim {
				claimed[n] = p.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: outboxKey(n), Group: outboxGroup,
					Consumer: consumer, MinIdle: o.ClaimIdle, Start: "0-0", Count: int64(o.Batch)})
			}
			read[n] = p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: outboxGroup, Consumer: consumer,
				Streams: []string{outboxKey(n), ">"}, Count: int64(o.Batch), Block: -1})
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		if redis.HasErrorPrefix(err, "NOGROUP") {
			// The outbox was flushed or never joined: join, and read next pass.
			return t, s.JoinOutbox(ctx)
		}
		return t, fmt.Errorf("read the webhook outbox: %w", err)
	}
	type event struct {
		shard int
		msg   redis.XMessage
	}
	var events []event
	for n := range Shards {
		if read[n] == nil {
			continue
		}
		if reclaim {
			msgs, _, err := claimed[n].Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return t, fmt.Errorf("reclaim the webhook outbox: %w", err)
			}
			for _, m := range msgs {
				events = append(events, event{n, m})
			}
		}
		streams, err := read[n].Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return t, fmt.Errorf("read the webhook outbox: %w", err)
		}
		for _, st := range streams {
			for _, m := range st.Messages {
				events = append(events, event{n, m})
			}
			t.Full = t.Full || len(st.Messages) == o.Batch
		}
	}
	if len(events) == 0 {
		return t, nil
	}
	// The endpoints of the apps concerned, read raw: a deleted app (a
	// tombstone) still hears of its connections' ends.
	endpoints := map[string]*redis.SliceCmd{}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range events {
			id, _ := e.msg.Values["client_id"].(string)
			if _, ok := endpoints[id]; !ok && id != "" {
				endpoints[id] = p.HMGet(ctx, appKey(id), "webhook_url", "webhook_disabled_at")
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return t, fmt.Errorf("read webhook endpoints: %w", err)
	}
	now := MillisOf(s.now())
	var calls []scriptCall[WebhookArgs]
	var queued []int
	for i, e := range events {
		clientID, _ := e.msg.Values["client_id"].(string)
		if cmd, ok := endpoints[clientID]; !ok || !activeEndpoint(cmd.Val()) {
			continue
		}
		typ, payload, err := webhookPayload(e.msg)
		if err != nil {
			s.log.ErrorContext(ctx, "webhook outbox: an event that cannot be read is dropped", "event", e.msg.ID, "err", err)
			continue
		}
		id := "evt_" + e.msg.ID + "-" + strconv.Itoa(e.shard)
		calls = append(calls, scriptCall[WebhookArgs]{keys: deliveryKeys(clientID, id), args: WebhookArgs{Op: "enqueue",
			ID: id, Now: now, ClientID: clientID, Type: typ, Payload: string(payload), Retention: o.Retention.Milliseconds(),
			Member: deliveriesMember(int64(now), id), Trim: deliveriesTrim(int64(now), o.Retention)}})
		queued = append(queued, i)
	}
	results, errs := runPipelined(ctx, s.rdb, webhookScript, calls)
	done := make([]bool, len(events))
	for i := range events {
		done[i] = true
	}
	for j, i := range queued {
		if errs[j] != nil {
			// Left unacknowledged: reclaimed and queued again later.
			done[i] = false
			s.log.ErrorContext(ctx, "webhook outbox: queue a delivery", "event", events[i].msg.ID, "err", errs[j])
			continue
		}
		if results[j].Outcome == OutcomeOK {
			t.Queued++
		}
	}
	t.Dropped = len(events) - len(queued)
	// Acknowledged and deleted together: the outbox keeps only what is
	// still on its way.
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, e := range events {
			if done[i] {
				p.XAck(ctx, outboxKey(e.shard), outboxGroup, e.msg.ID)
				p.XDel(ctx, outboxKey(e.shard), e.msg.ID)
			}
		}
		return nil
	})
	if err != nil {
		return t, fmt.Errorf("acknowledge webhook events: %w", err)
	}
	return t, nil
}

func activeEndpoint(v []any) bool {
	url, _ := v[0].(string)
	disabled, _ := v[1].(string)
	return url != "" && disabled == ""
}

// WebhookBody is the body of a delivery, as the contract spells it.
type WebhookBody struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// webhookPayload is the body of an outbox event.
func webhookPayload(m redis.XMessage) (string, []byte, error) {
	v := func(k string) string { s, _ := m.Values[k].(string); return s }
	t, err := strconv.ParseInt(v("t"), 10, 64)
	if err != nil {
		return "", nil, fmt.Errorf("event time %q: %w", v("t"), err)
	}
	data := map[string]any{"client_id": v("client_id")}
	switch typ := v("type"); typ {
	case WebhookConnectionCreated, WebhookConnectionRevoked:
		data["connection_id"], data["merchant_id"] = v("connection_id"), v("merchant_id")
		data["scopes"] = strings.Fields(v("scopes"))
		if data["scopes"] == nil {
			data["scopes"] = []string{}
		}
		if typ == WebhookConnectionRevoked {
			data["reason"] = v("reason")
		}
	case WebhookAppStatusChanged:
		data["status"], data["previous_status"] = v("status"), v("previous_status")
		if r := v("reason"); r != "" {
			data["reason"] = r
		}
	default:
		return "", nil, fmt.Errorf("unknown event type %q", typ)
	}
	b, err := json.Marshal(WebhookBody{Type: v("type"), Timestamp: fromMS(t).UTC().Format(time.RFC3339Nano), Data: data})
	return v("type"), b, err
}

// PingsPerHour bounds the pings of one app, so trying an endpoint cannot
// fill Redis with deliveries.
const PingsPerHour = 60

// ErrTooManyPings is a ping over PingsPerHour.
var ErrTooManyPings = fmt.Errorf("%w: at most %d pings an hour; try again later", ErrConflict, PingsPerHour)

// SendPing queues a ping to the app's webhook, which the developer sends
// from the portal to try the endpoint; ErrTooManyPings over the limit.
func (s *Store) SendPing(ctx context.Context, clientID string, o DeliveryOptions) (*Delivery, error) {
	o = o.withDefaults()
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if !a.Webhook.Active() {
		return nil, fmt.Errorf("%w: the app has no active webhook", ErrInvalid)
	}
	lim, err := s.limiter.Allow(ctx, pingLimitKey(clientID), redis_rate.PerHour(PingsPerHour))
	if err != nil {
		return nil, fmt.Errorf("ping limit: %w", err)
	}
	if lim.Allowed == 0 {
		return nil, ErrTooManyPings
	}
	now := s.now()
	id := "ping_" + NewID()
	b, err := json.Marshal(WebhookBody{Type: WebhookPing, Timestamp: now.UTC().Format(time.RFC3339Nano),
		Data: map[string]any{"client_id": clientID}})
	if err != nil {
		return nil, fmt.Errorf("encode ping: %w", err)
	}
	res, err := webhookScript.run(ctx, s.rdb, deliveryKeys(clientID, id), WebhookArgs{Op: "enqueue", ID: id,
		Now: MillisOf(now), ClientID: clientID, Type: WebhookPing, Payload: string(b), Retention: o.Retention.Milliseconds(),
		Member: deliveriesMember(ms(now), id), Trim: deliveriesTrim(ms(now), o.Retention)})
	if err != nil {
		return nil, fmt.Errorf("queue ping: %w", err)
	}
	if err := res.check("webhook", OutcomeOK); err != nil {
		return nil, err
	}
	return s.GetDelivery(ctx, clientID, id)
}

// ClaimDeliveries claims up to limit deliveries that are due, each for one
// attempt within lease; a delivery whose instance died comes due again
// when its lease ends. start rotates the shard read first, for fairness
// between apps.
func (s *Store) ClaimDeliveries(ctx context.Context, limit int, lease time.Duration, start int) ([]*Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	now := MillisOf(s.now())
	due := make([]*redis.StringSliceCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range Shards {
			due[n] = p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: dueKey(n), Start: "-inf", Stop: strconv.FormatInt(int64(now), 10),
				ByScore: true, Count: int64(limit)})
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read due deliveries: %w", err)
	}
	var calls []scriptCall[WebhookArgs]
	for i := range Shards {
		n := (start + i) % Shards
		for _, id := range due[n].Val() {
			if len(calls) == limit {
				break
			}
			calls = append(calls, scriptCall[WebhookArgs]{keys: deliveryKeysIn(n, "", id),
				args: WebhookArgs{Op: "claim", ID: id, Now: now, Claim: NewID(), Lease: lease.Milliseconds()}})
		}
	}
	results, errs := runPipelined(ctx, s.rdb, webhookScript, calls)
	var out []*Delivery
	for i, r := range results {
		if errs[i] != nil {
			return out, fmt.Errorf("claim a delivery: %w", errs[i])
		}
		if r.Outcome != OutcomeOK {
			continue // another instance came first, or it outlived its retention
		}
		d, err := decodeDelivery(r.Delivery)
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

// AttemptOutcome is an attempt's result, as RecordAttempt records it.
type AttemptOutcome struct {
	Attempt DeliveryAttempt
	// OK is a 2xx answer.
	OK bool
	// NextAt is when to try again after a failure; zero makes this the
	// last attempt (the delivery failed).
	NextAt time.Time
	// DisableAfter disables the endpoint when it has been failing this
	// long (0: never).
	DisableAfter time.Duration
}

// ErrStaleClaim is a result recorded under a claim that is no longer the
// delivery's: its lease ran out and another instance took it.
var ErrStaleClaim = fmt.Errorf("%w: the delivery was claimed again meanwhile", ErrConflict)

// RecordAttempt records the attempt made under d's claim, schedules the
// next one or ends the delivery, and keeps the endpoint's health. It
// reports whether the endpoint was disabled by this failure.
func (s *Store) RecordAttempt(ctx context.Context, d *Delivery, o AttemptOutcome) (bool, error) {
	next := Millis(0)
	if !o.NextAt.IsZero() {
		next = MillisOf(o.NextAt)
	}
	res, err := webhookScript.run(ctx, s.rdb, deliveryKeys(d.ClientID, d.ID), WebhookArgs{Op: "result", ID: d.ID,
		Now: MillisOf(s.now()), Claim: d.claim, OK: o.OK, Status: o.Attempt.Status, Latency: o.Attempt.Latency.Milliseconds(),
		Error: o.Attempt.Error, NextAt: next, DisableAfter: o.DisableAfter.Milliseconds(), AuditMax: s.auditMax})
	if err != nil {
		return false, fmt.Errorf("record a delivery attempt: %w", err)
	}
	if err := res.check("webhook", OutcomeOK, OutcomeRefused); err != nil {
		return false, err
	}
	if res.Outcome == OutcomeRefused {
		return false, ErrStaleClaim
	}
	if res.Disabled {
		if err := s.appChanged(ctx, d.ClientID); err != nil {
			return true, err
		}
		s.observe(Event{Type: EventApp, ClientID: d.ClientID, Actor: ActorDeliverer, Detail: "webhook disabled after failing too long"})
	}
	return res.Disabled, nil
}

// ResendDelivery queues a delivery of the app's once more, now, with the
// same webhook-id; the retry schedule starts again. ErrConflict while an
// attempt is in flight.
func (s *Store) ResendDelivery(ctx context.Context, clientID, id string, o DeliveryOptions) error {
	o = o.withDefaults()
	if !validDeliveryID(id) {
		return ErrNotFound
	}
	if _, err := s.GetDelivery(ctx, clientID, id); err != nil {
		return err
	}
	res, err := webhookScript.run(ctx, s.rdb, deliveryKeys(clientID, id), WebhookArgs{Op: "resend", ID: id,
		Now: MillisOf(s.now()), Retention: o.Retention.Milliseconds()})
	if err != nil {
		return fmt.Errorf("resend a delivery: %w", err)
	}
	if err := res.check("webhook", OutcomeOK, OutcomeMissing, OutcomeRefused); err != nil {
		return err
	}
	switch res.Outcome {
	case OutcomeMissing:
		return ErrNotFound
	case OutcomeRefused:
		return fmt.Errorf("%w: an attempt is in flight", ErrConflict)
	}
	return nil
}

func validDeliveryID(id string) bool {
	return (strings.HasPrefix(id, "evt_") || strings.HasPrefix(id, "ping_")) && len(id) < 80 &&
		!strings.ContainsAny(id, " :{}")
}

// GetDelivery returns one of the app's deliveries, or ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, clientID, id string) (*Delivery, error) {
	if !validDeliveryID(id) {
		return nil, ErrNotFound
	}
	m, err := s.rdb.HGetAll(ctx, deliveryKey(clientID, id)).Result()
	if err != nil {
		return nil, fmt.Errorf("read a delivery: %w", err)
	}
	if len(m) == 0 || m["client_id"] != clientID {
		return nil, ErrNotFound
	}
	return decodeDelivery(m)
}

// DeliveryPage is one page of an app's deliveries, newest first.
type DeliveryPage struct {
	Deliveries []*Delivery
	// Next is the cursor of the following page, "" on the last.
	Next string
	// Total is how many the app's list holds.
	Total int64
}

// Deliveries returns a page of the app's deliveries, newest first, after
// cursor (a Next of an earlier page), at most limit (50 when 0, at most
// MaxLimit). One range read and one pipeline, whatever the number.
func (s *Store) Deliveries(ctx context.Context, clientID, cursor string, limit int) (*DeliveryPage, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxLimit)
	start := "-"
	if cursor != "" {
		if _, id, ok := strings.Cut(cursor, ":"); !ok || len(cursor) != 14+len(id) || !validDeliveryID(id) {
			return nil, fmt.Errorf("%w: the cursor %q is not one this listing made", ErrInvalid, cursor)
		}
		start = "(" + cursor
	}
	key := deliveriesKey(clientID)
	members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: start, Stop: "+", ByLex: true,
		Count: int64(limit + 1)}).Result()
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	page := &DeliveryPage{}
	if len(members) > limit {
		members = members[:limit]
		page.Next = members[limit-1]
	}
	ids := make([]string, len(members))
	for i, m := range members {
		_, ids[i], _ = strings.Cut(m, ":")
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	total := new(redis.IntCmd)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, deliveryKey(clientID, id))
		}
		total = p.ZCard(ctx, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	page.Total = total.Val()
	for _, c := range cmds {
		if len(c.Val()) == 0 {
			continue // outlived its retention
		}
		d, err := decodeDelivery(c.Val())
		if err != nil {
			return nil, err
		}
		page.Deliveries = append(page.Deliveries, d)
	}
	return page, nil
}

func decodeDelivery(m map[string]string) (*Delivery, error) {
	d := &Delivery{ID: m["id"], ClientID: m["client_id"], Type: m["type"], Payload: []byte(m["payload"]),
		Status: DeliveryStatus(m["status"]), claim: m["claim"]}
	d.CreatedAt = fromMS(atoi64(m["created_at"]))
	d.NextAt = fromMS(atoi64(m["next_at"]))
	d.DeliveredAt = fromMS(atoi64(m["delivered_at"]))
	d.Attempts, _ = strconv.Atoi(m["attempts"])
	d.Round, _ = strconv.Atoi(m["round"])
	var log []struct {
		At      int64  `json:"at"`
		Status  int    `json:"status"`
		Latency int64  `json:"latency_ms"`
		Error   string `json:"error"`
	}
	if v := m["log"]; v != "" && v != "[]" && v != "{}" {
		if err := json.Unmarshal([]byte(v), &log); err != nil {
			return nil, fmt.Errorf("decode delivery %s: %w", d.ID, err)
		}
	}
	for _, l := range log {
		d.Log = append(d.Log, DeliveryAttempt{At: fromMS(l.At), Status: l.Status,
			Latency: time.Duration(l.Latency) * time.Millisecond, Error: l.Error})
	}
	return d, nil
}

// WebhookBacklog is the state of the deliveries, for metrics.
type WebhookBacklog struct {
	// Undelivered is how many deliveries are neither delivered nor failed;
	// Oldest is when the oldest of them was created (zero for none).
	Undelivered int64
	Oldest      time.Time
	// Outbox is how many events wait in the outboxes to become deliveries
	// (or be dropped).
	Outbox int64
}

// Backlog reads the deliveries' backlog: one pipeline over the shards.
func (s *Store) Backlog(ctx context.Context) (WebhookBacklog, error) {
	var b WebhookBacklog
	cards := make([]*redis.IntCmd, Shards)
	oldest := make([]*redis.ZSliceCmd, Shards)
	lens := make([]*redis.IntCmd, Shards)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range Shards {
			cards[n] = p.ZCard(ctx, undeliveredKey(n))
			oldest[n] = p.ZRangeWithScores(ctx, undeliveredKey(n), 0, 0)
			lens[n] = p.XLen(ctx, outboxKey(n))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return b, fmt.Errorf("read the webhook backlog: %w", err)
	}
	for n := range Shards {
		b.Undelivered += cards[n].Val()
		b.Outbox += lens[n].Val()
		if z := oldest[n].Val(); len(z) > 0 {
			if t := fromMS(int64(z[0].Score)); b.Oldest.IsZero() || t.Before(b.Oldest) {
				b.Oldest = t
			}
		}
	}
	return b, nil
}

// scriptCall is one run of a script in a pipeline.
type scriptCall[A any] struct {
	keys []string
	args A
}

// runPipelined runs calls of sc in one pipeline, by EVALSHA, and those a
// node answers NOSCRIPT (its script cache lost, or a replica just
// promoted) again by EVAL. Each call has its answer or its error.
func runPipelined[A, R any](ctx context.Context, rdb redis.UniversalClient, sc script[A, R], calls []scriptCall[A]) ([]*R, []error) {
	results, errs := make([]*R, len(calls)), make([]error, len(calls))
	if len(calls) == 0 {
		return results, errs
	}
	ins := make([][]byte, len(calls))
	for i, c := range calls {
		ins[i], errs[i] = jsonArgs(c.args)
	}
	cmds := make([]*redis.Cmd, len(calls))
	send := func(idx []int, eval bool) {
		_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range idx {
				if eval {
					cmds[i] = sc.s.Eval(ctx, p, calls[i].keys, ins[i])
				} else {
					cmds[i] = sc.s.EvalSha(ctx, p, calls[i].keys, ins[i])
				}
			}
			return nil
		})
	}
	var all []int
	for i := range calls {
		if errs[i] == nil {
			all = append(all, i)
		}
	}
	send(all, false)
	var again []int
	for _, i := range all {
		if redis.HasErrorPrefix(cmds[i].Err(), "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		send(again, true)
	}
	for _, i := range all {
		if err := cmds[i].Err(); err != nil {
			errs[i] = fmt.Errorf("%s: %w", sc.name, err)
			continue
		}
		raw, _ := cmds[i].Val().(string)
		results[i], errs[i] = sc.decode(raw)
	}
	return results, errs
}

// PruneOutboxConsumers forgets the consumers of shard's outbox group that
// have nothing pending and have not read for idle, except self: each
// start of an instance joins under a new name, and the names of stopped
// instances would otherwise pile up. It returns how many it removed.
func (s *Store) PruneOutboxConsumers(ctx context.Context, shard int, idle time.Duration, self string) (int, error) {
	consumers, err := s.rdb.XInfoConsumers(ctx, outboxKey(shard), outboxGroup).Result()
	if err != nil {
		if redis.HasErrorPrefix(err, "NOGROUP") || strings.Contains(err.Error(), "no such key") {
			return 0, nil
		}
		return 0, fmt.Errorf("list outbox consumers: %w", err)
	}
	n := 0
	for _, c := range consumers {
		// A negative idle time is one the server does not know (the
		// embedded Redis): such a consumer is kept.
		if c.Name == self || c.Pending > 0 || c.Idle < 0 || c.Idle < idle {
			continue
		}
		// A consumer with something pending is left alone: XAUTOCLAIM
		// moves its entries first.
		if err := s.rdb.XGroupDelConsumer(ctx, outboxKey(shard), outboxGroup, c.Name).Err(); err != nil {
			return n, fmt.Errorf("forget outbox consumer: %w", err)
		}
		n++
	}
	return n, nil
}

// deliveriesMember is a delivery's entry in its app's list: the time
// inverted (13 digits, so that the newest sorts first) and the id, so
// that a page is a lexicographic range from the last entry read, however
// many deliveries share a millisecond.
func deliveriesMember(createdMS int64, id string) string {
	return fmt.Sprintf("%013d:%s", invertedMS(createdMS), id)
}

// deliveriesTrim is the first entry of an app's list too old to keep at
// now: every entry from it on is.
func deliveriesTrim(nowMS int64, retention time.Duration) string {
	return fmt.Sprintf("%013d:", invertedMS(nowMS-retention.Milliseconds()))
}

func invertedMS(v int64) int64 { return 9999999999999 - v }

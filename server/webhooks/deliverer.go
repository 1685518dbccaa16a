// Package webhooks delivers apps' lifecycle events to their webhook
// endpoints, signed to the Standard Webhooks specification
// (standardwebhooks.com). The events come from the store's outbox
// (store/deliveries.go), which the scripts of the changes write; every
// instance runs a Deliverer, and they share the work through Redis.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/enlace-oauth/enlace/server/safefetch"
	"github.com/enlace-oauth/enlace/store"
)

// Options configure a Deliverer (config.Webhooks, mostly).
type Options struct {
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Schedule is the wait before each retry; after the last, the
	// delivery has failed.
	Schedule []time.Duration
	// DisableAfter disables an endpoint failing this long.
	DisableAfter time.Duration
	// Concurrency bounds the attempts in flight.
	Concurrency int
	// PollInterval is how often an idle deliverer looks for work.
	PollInterval time.Duration
	// TakeoverAfter is when another instance's abandoned work is taken.
	TakeoverAfter time.Duration
	// Retention is how long deliveries are kept.
	Retention time.Duration
	// Fetch are the dialling rules (safefetch); AllowPrivate for
	// webhooks.allow_private_targets.
	Fetch safefetch.Options
	// Consumer names this instance in the outbox's consumer group.
	Consumer string
	Logger   *slog.Logger
	// Observe, when set, hears each attempt's outcome (for metrics):
	// delivered, retried, failed or refused (the endpoint is gone or
	// disabled), and its latency.
	Observe func(outcome string, latency time.Duration)
}

// Deliverer moves events from the outbox to the endpoints.
type Deliverer struct {
	st    *store.Store
	o     Options
	fetch *safefetch.Fetcher
	log   *slog.Logger
	wake  chan struct{}
	// woken are the shards Wake named since the loop last read them.
	woken atomic.Uint32
}

// New returns a deliverer over st.
func New(st *store.Store, o Options) *Deliverer {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Consumer == "" {
		o.Consumer = store.NewID()
	}
	fo := o.Fetch
	fo.Timeout, fo.KeepAlives, fo.MaxBytes = o.Timeout, true, 64<<10
	return &Deliverer{st: st, o: o, fetch: safefetch.New(fo), log: o.Logger, wake: make(chan struct{}, 1)}
}

// Wake tells the deliverer that this instance just wrote an event to the
// outbox of shards: it reads those at once, without waiting for its next
// look at every shard. It never blocks.
func (d *Deliverer) Wake(shards store.ShardSet) {
	d.woken.Or(uint32(shards))
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Deliverer) storeOptions() store.DeliveryOptions {
	return store.DeliveryOptions{Retention: d.o.Retention, ClaimIdle: d.o.TakeoverAfter}
}

// staleConsumer is how long a consumer of the outbox group may go without
// reading before it counts as a stopped instance (when it has nothing
// pending).
const staleConsumer = 24 * time.Hour

// lease is how long a claimed delivery is this instance's: the attempt's
// timeout and some margin; past it, another instance may take it.
func (d *Deliverer) lease() time.Duration { return d.o.TakeoverAfter }

// Run delivers until ctx ends, then waits for the attempts in flight
// (each bounded by the timeout).
func (d *Deliverer) Run(ctx context.Context) {
	for {
		err := d.st.JoinOutbox(ctx)
		if err == nil {
			break
		}
		d.log.ErrorContext(ctx, "webhooks: join the outbox", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d.o.PollInterval * 4):
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, d.o.Concurrency)
	// done wakes the loop when an attempt ends (a slot is free); one
	// signal is enough, so a send never blocks.
	done := make(chan struct{}, 1)
	var lastReclaim, lastLook time.Time
	rotate, pruned := rand.IntN(store.Shards), rand.IntN(store.Shards)
	// moreDue: the last claim took all it could, so more may be due.
	moreDue := false
	for ctx.Err() == nil {
		// Every shard, and the due deliveries, each poll interval (the
		// other instances' events, retries coming due); between those,
		// only the shards of this instance's own events.
		look := time.Since(lastLook) >= d.o.PollInterval
		shards := store.ShardSet(d.woken.Swap(0))
		if look {
			shards, lastLook = store.AllShards, time.Now()
		}
		reclaim := look && time.Since(lastReclaim) >= d.o.TakeoverAfter/2
		var t store.Transfer
		var err error
		if shards != 0 {
			t, err = d.st.TransferOutbox(ctx, d.o.Consumer, shards, reclaim, d.storeOptions())
			if err != nil && ctx.Err() == nil {
				d.log.ErrorContext(ctx, "webhooks: read the outbox", "err", err)
			}
			if t.Full {
				d.woken.Or(uint32(shards)) // read them again at once
			}
		}
		if reclaim && err == nil {
			lastReclaim = time.Now()
			// One shard's group at a time, so the names of stopped
			// instances do not pile up.
			pruned++
			if _, err := d.st.PruneOutboxConsumers(ctx, pruned%store.Shards, staleConsumer, d.o.Consumer); err != nil && ctx.Err() == nil {
				d.log.WarnContext(ctx, "webhooks: forget stopped consumers", "err", err)
			}
		}
		free := d.o.Concurrency - len(slots)
		var claimed []*store.Delivery
		if free > 0 && (look || t.Queued > 0 || moreDue) {
			rotate++
			claimed, err = d.st.ClaimDeliveries(ctx, free, d.lease(), rotate)
			if err != nil && ctx.Err() == nil {
				d.log.ErrorContext(ctx, "webhooks: claim deliveries", "err", err)
			}
			moreDue = len(claimed) == free
		}
		for _, dl := range claimed {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() {
					<-slots
					select {
					case done <- struct{}{}:
					default:
					}
				}()
				// An attempt under way is finished, not cut, at shutdown.
				d.attempt(context.WithoutCancel(ctx), dl)
			})
		}
		if t.Full || moreDue && len(slots) < d.o.Concurrency {
			continue // there may be more at once
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-done:
		case <-time.After(d.o.PollInterval - time.Since(lastLook)):
		}
	}
}

// attempt makes one attempt of dl and records it.
func (d *Deliverer) attempt(ctx context.Context, dl *store.Delivery) {
	w, err := d.st.WebhookOf(ctx, dl.ClientID)
	if err != nil {
		d.log.ErrorContext(ctx, "webhooks: read the endpoint", "client_id", dl.ClientID, "err", err)
		return // the lease runs out, and it is tried again
	}
	if !w.Active() {
		why := "the app has no webhook endpoint any more"
		if w.Configured() {
			why = "the endpoint is disabled"
		}
		d.record(ctx, dl, store.AttemptOutcome{Attempt: store.DeliveryAttempt{At: time.Now(), Error: why}}, "refused")
		return
	}
	now := time.Now()
	secrets, err := d.st.WebhookSecrets(dl.ClientID, w, d.st.Now())
	if err != nil || len(secrets) == 0 {
		d.log.ErrorContext(ctx, "webhooks: open the signing secret", "client_id", dl.ClientID, "err", err)
		return
	}
	h, err := Headers(dl.ID, now, dl.Payload, secrets)
	if err != nil {
		d.log.ErrorContext(ctx, "webhooks: sign", "client_id", dl.ClientID, "err", err)
		return
	}
	actx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	status, err := d.fetch.Post(actx, w.URL, h, dl.Payload)
	cancel()
	a := store.DeliveryAttempt{At: now, Status: status, Latency: time.Since(now)}
	ok := err == nil && status >= 200 && status < 300
	switch {
	case err != nil:
		a.Error = attemptError(err)
	case !ok:
		a.Error = "HTTP " + strconv.Itoa(status)
	}
	out := store.AttemptOutcome{Attempt: a, OK: ok, DisableAfter: d.o.DisableAfter}
	outcome := "delivered"
	if !ok {
		outcome = "failed"
		if n := dl.Attempts - dl.Round; n < len(d.o.Schedule) {
			out.NextAt = time.Now().Add(jitter(d.o.Schedule[n]))
			outcome = "retried"
		}
	}
	d.record(ctx, dl, out, outcome)
}

func (d *Deliverer) record(ctx context.Context, dl *store.Delivery, out store.AttemptOutcome, outcome string) {
	disabled, err := d.st.RecordAttempt(ctx, dl, out)
	if errors.Is(err, store.ErrStaleClaim) {
		d.log.WarnContext(ctx, "webhooks: an attempt outlived its lease", "delivery", dl.ID, "client_id", dl.ClientID)
		return
	}
	if err != nil {
		d.log.ErrorContext(ctx, "webhooks: record an attempt", "delivery", dl.ID, "err", err)
		return
	}
	if d.o.Observe != nil {
		d.o.Observe(outcome, out.Attempt.Latency)
	}
	if outcome == "failed" {
		d.log.WarnContext(ctx, "webhooks: delivery failed after its last attempt", "delivery", dl.ID,
			"client_id", dl.ClientID, "attempts", dl.Attempts+1)
	}
	if disabled {
		d.log.WarnContext(ctx, "webhooks: endpoint disabled after failing too long", "client_id", dl.ClientID,
			"disable_after", d.o.DisableAfter.String())
	}
}

// Headers are a delivery's headers: webhook-id, webhook-timestamp and
// webhook-signature with one v1 signature per secret (during a rotation,
// the new and the previous), as the Standard Webhooks specification has
// them, and the content type.
func Headers(id string, at time.Time, payload []byte, secrets []string) (http.Header, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return nil, fmt.Errorf("signing secret: %w", err)
		}
		sig, err := wh.Sign(id, at, payload)
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "enlace-webhooks/1")
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", strings.Join(sigs, " "))
	return h, nil
}

// jitter spreads retries of many deliveries that failed together over
// ±20% of the wait.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// attemptError is what the developer sees of a failed attempt: short,
// without the request.
func attemptError(err error) string {
	var msg string
	switch {
	case errors.Is(err, safefetch.ErrRefused):
		msg = err.Error()
		if i := strings.Index(msg, "refused: "); i >= 0 {
			msg = "refused: " + msg[i+len("refused: "):]
		}
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		msg = "no answer within the timeout"
	default:
		msg = err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

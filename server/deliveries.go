package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/enlace-oauth/enlace/server/safefetch"
	"github.com/enlace-oauth/enlace/store"
)

// DeliveryView is a webhook delivery as the admin API and `enlace app
// deliveries --json` answer it: what a developer sees in the portal.
type DeliveryView struct {
	ID        string               `json:"id"`
	Type      string               `json:"type"`
	Status    store.DeliveryStatus `json:"status"`
	CreatedAt any                  `json:"created_at"`
	Attempts  int                  `json:"attempts"`
	// NextAttemptAt is when the next attempt is due; nil once delivered
	// or failed.
	NextAttemptAt any               `json:"next_attempt_at"`
	DeliveredAt   any               `json:"delivered_at"`
	Log           []DeliveryAttempt `json:"log"`
	Payload       json.RawMessage   `json:"payload"`
}

// DeliveryAttempt is one attempt of a delivery.
type DeliveryAttempt struct {
	At any `json:"at"`
	// Status is the HTTP status answered, 0 for none (Error says why).
	Status    int    `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	Error     string `json:"error,omitempty"`
}

// NewDeliveryView is d as the admin API answers it.
func NewDeliveryView(d *store.Delivery) DeliveryView {
	v := DeliveryView{ID: d.ID, Type: d.Type, Status: d.Status, CreatedAt: timeOrNil(d.CreatedAt), Attempts: d.Attempts,
		DeliveredAt: timeOrNil(d.DeliveredAt), Log: []DeliveryAttempt{}, Payload: json.RawMessage(d.Payload)}
	if d.Status == store.DeliveryPending || d.Status == store.DeliveryDelivering {
		v.NextAttemptAt = timeOrNil(d.NextAt)
	}
	if !json.Valid(d.Payload) {
		v.Payload = json.RawMessage("null")
	}
	for _, a := range d.Log {
		v.Log = append(v.Log, DeliveryAttempt{At: timeOrNil(a.At), Status: a.Status, LatencyMS: a.Latency.Milliseconds(), Error: a.Error})
	}
	return v
}

// CheckWebhookURL refuses an endpoint that breaks the rules: not an
// absolute https URL (http is allowed only with allowPrivate), or naming
// or resolving to an address that is not public (loopback, private,
// link-local, metadata), unless allowPrivate. The deliverer checks every
// address it dials again, so a name that resolves elsewhere later gains
// nothing. The error wraps store.ErrInvalid.
func CheckWebhookURL(ctx context.Context, raw string, allowPrivate bool) error {
	if err := store.CheckWebhookURL(raw, allowPrivate); err != nil {
		return err
	}
	if err := safefetch.CheckTarget(ctx, raw, safefetch.Options{AllowPrivate: allowPrivate}, nil); err != nil {
		return fmt.Errorf("%w: %s", store.ErrInvalid, strings.TrimPrefix(err.Error(), safefetch.ErrRefused.Error()+": "))
	}
	return nil
}

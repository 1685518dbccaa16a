package consent

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/store"
)

// What the portal's and the admin's deliveries pages share: a delivery as
// a row of the table (the layout's deliveries_table), an endpoint's state,
// and the refusals of a resend.

// deliveriesPage is how many deliveries a page lists.
const deliveriesPage = 50

// deliveryRow is one delivery in the table.
type deliveryRow struct {
	ID string
	// Type is the event type as the receiver reads it (connection.created…).
	Type string
	// Status is the delivery's status; StatusID its label.
	Status, StatusID string
	Attempts         int
	// The last attempt's answer: HTTPStatus when one came, else AnswerID
	// (a known reason, in the page's language) or Answer (as recorded).
	HTTPStatus       int
	AnswerID, Answer string
	// Latency is the last attempt's, "" before the first.
	Latency string
	// InFlight is an attempt under way: it cannot be resent until it ends.
	InFlight bool
	// NextAt is when the next attempt is due (zero once delivered or
	// failed, or while one is in flight).
	NextAt    localTime
	CreatedAt localTime
}

// deliveryStatusLabels name the statuses of a delivery.
var deliveryStatusLabels = map[store.DeliveryStatus]string{
	store.DeliveryPending:    "developer_delivery_pending",
	store.DeliveryDelivering: "developer_delivery_delivering",
	store.DeliveryDelivered:  "developer_delivery_delivered",
	store.DeliveryFailed:     "developer_delivery_failed",
}

// attemptErrors are the reasons the deliverer (server/webhooks) records
// in fixed words; any other is shown as recorded.
var attemptErrors = map[string]string{
	"no answer within the timeout":                               "developer_answer_timeout",
	"the endpoint is disabled":                                   "developer_answer_disabled",
	"the app has no webhook endpoint any more":                   "developer_answer_removed",
	"refused: the URL redirects, and redirects are not followed": "developer_answer_redirect",
}

func deliveryRows(loc localizer, ds []*store.Delivery) []deliveryRow {
	rows := make([]deliveryRow, 0, len(ds))
	for _, d := range ds {
		r := deliveryRow{ID: d.ID, Type: d.Type, Status: string(d.Status), StatusID: deliveryStatusLabels[d.Status],
			Attempts: d.Attempts, InFlight: d.Status == store.DeliveryDelivering, CreatedAt: loc.localTime(d.CreatedAt)}
		if r.StatusID == "" {
			r.StatusID = "developer_delivery_unknown"
		}
		if d.Status == store.DeliveryPending {
			r.NextAt = loc.localTime(d.NextAt)
		}
		if len(d.Log) > 0 {
			last := d.Log[0]
			r.HTTPStatus = last.Status
			if last.Status == 0 {
				r.AnswerID, r.Answer = attemptErrors[last.Error], last.Error
			}
			if last.Status != 0 || last.Latency > 0 {
				r.Latency = latency(last.Latency)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// latency writes an attempt's latency: milliseconds, or seconds from 10 s.
func latency(d time.Duration) string {
	if d >= 10*time.Second {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
}

// webhookState is an endpoint as its pages show it.
type webhookState struct {
	URL string
	// State is "" (no endpoint), active, failing or disabled.
	State string
	// StateID is the state's label.
	StateID string
	// FailingSince and DisabledAt are when it began to fail and when it
	// was disabled.
	FailingSince, DisabledAt localTime
	// PrevUntil is when the signing secret the last rotation replaced
	// stops signing (zero when it does not).
	PrevUntil localTime
}

func newWebhookState(loc localizer, w store.Webhook, now time.Time) webhookState {
	v := webhookState{URL: w.URL}
	switch {
	case !w.Configured():
		return v
	case !w.DisabledAt.IsZero():
		v.State = "disabled"
	case !w.FailingSince.IsZero():
		v.State = "failing"
	default:
		v.State = "active"
	}
	v.StateID = "developer_webhook_state_" + v.State
	v.FailingSince, v.DisabledAt = loc.localTime(w.FailingSince), loc.localTime(w.DisabledAt)
	if w.Rotating(now) {
		v.PrevUntil = loc.localTime(w.PrevUntil)
	}
	return v
}

// resendRefusal is the message id and status of a resend the store
// refused, or "" for an error no page fixes.
func resendRefusal(err error) (string, int) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "developer_err_delivery_unknown", http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return "developer_err_delivery_in_flight", http.StatusConflict
	}
	return "", 0
}

// deliveryLister is what a deliveries page reads of the store.
type deliveryLister interface {
	Deliveries(ctx context.Context, clientID, cursor string, limit int) (*store.DeliveryPage, error)
}

// readDeliveries reads the page of a's deliveries after cursor for the
// portal's and the admins' deliveries pages, whose links go under base;
// ok is false once an error page was sent (a bad cursor is 400).
func (k *Kit) readDeliveries(c *gin.Context, st deliveryLister, a *store.App, cursor, base string) (deliveriesView, bool) {
	page, err := st.Deliveries(c.Request.Context(), a.ClientID, cursor, deliveriesPage)
	if errors.Is(err, store.ErrInvalid) {
		k.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return deliveriesView{}, false
	}
	if err != nil {
		k.Unavailable(c, "deliveries", err)
		return deliveriesView{}, false
	}
	loc := k.i18n.localizer(k.i18n.pick(c.Request))
	v := deliveriesView{App: a, Webhook: newWebhookState(loc, a.Webhook, time.Now()), Total: int(page.Total),
		Table: deliveriesTable{Rows: deliveryRows(loc, page.Deliveries), Resend: base}}
	if page.Next != "" {
		v.Next = base + "?" + url.Values{"cursor": {page.Next}}.Encode()
	}
	return v, true
}

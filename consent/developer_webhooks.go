package consent

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// An app's webhook in the portal (issue 16): its endpoint set, replaced
// and removed (behind a confirmation), its signing secret (shown once,
// when the first endpoint is set and at each rotation), a ping, and the
// app's deliveries, each of which can be sent again. Every handler starts
// from requireOwnApp, like the rest of the app's pages; a refused form is
// the page again with the reason, and writes nothing.

func webhookPath(clientID string) string { return appPath(clientID) + "/webhook" }

func deliveriesPath(clientID string) string { return appPath(clientID) + "/deliveries" }

// checkWebhookURL applies the endpoint's rules to a posted URL, cheapest
// first: its length, the store's syntax, then where it points (DNS, the
// server's SSRF rules). It returns the message id of a refusal ("" when
// the URL passes), or an error no form fixes.
func (h *DeveloperPages) checkWebhookURL(c *gin.Context, raw string) (string, error) {
	switch {
	case raw == "":
		return "developer_err_webhook_empty", nil
	case len(raw) > store.MaxWebhookURL:
		return "developer_err_webhook_too_long", nil
	case store.CheckWebhookURL(raw, h.cfg.AllowPrivateWebhooks) != nil:
		if h.cfg.AllowPrivateWebhooks {
			return "developer_err_webhook_url_http", nil
		}
		return "developer_err_webhook_url", nil
	}
	if h.cfg.CheckWebhookURL == nil {
		return "", nil
	}
	err := h.cfg.CheckWebhookURL(c.Request.Context(), raw)
	if errors.Is(err, store.ErrInvalid) {
		return "developer_err_webhook_target", nil
	}
	return "", err
}

// refuseWebhook shows the app page again with a refusal of the webhook
// form, the posted URL kept in it.
func (h *DeveloperPages) refuseWebhook(c *gin.Context, status int, sess *sessions.Session, d *store.Developer, a *store.App,
	msg, posted string) {
	v, ok := h.appData(c, d, a)
	if !ok {
		return
	}
	v.Error, v.WebhookURL, v.WebhookInvalid = msg, posted, true
	if len(posted) > 200 {
		// The message names the URL; an overlong one is cut there.
		posted = posted[:200] + "…"
	}
	v.ErrorArg = posted
	h.Render(c, status, "developer_app", "developer_app_title", sess, v)
}

// SetWebhook points the app's webhook at the posted URL (https, on a
// public address), and enables it again if it was disabled for failing.
// The first endpoint gets a signing secret, shown once on the answer.
func (h *DeveloperPages) SetWebhook(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	raw := strings.TrimSpace(c.PostForm("url"))
	msg, err := h.checkWebhookURL(c, raw)
	if err != nil {
		h.Unavailable(c, "check webhook url", err)
		return
	}
	if msg != "" {
		h.refuseWebhook(c, http.StatusBadRequest, sess, d, a, msg, raw)
		return
	}
	if raw == a.Webhook.URL && a.Webhook.DisabledAt.IsZero() {
		// Saved as it was: nothing to write, nor to audit.
		c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=webhook_saved#webhook")
		return
	}
	ctx := c.Request.Context()
	secret, a2, err := h.store.SetWebhook(ctx, a.ClientID, raw, h.cfg.AllowPrivateWebhooks, store.ActorDeveloper(d.ID))
	switch {
	case errors.Is(err, store.ErrNoEncryptionKey):
		h.refuseWebhook(c, http.StatusServiceUnavailable, sess, d, a, "developer_err_webhook_no_key", raw)
		return
	case errors.Is(err, store.ErrInvalid):
		h.refuseWebhook(c, http.StatusBadRequest, sess, d, a, "developer_err_webhook_url", raw)
		return
	case errors.Is(err, store.ErrConflict):
		// Another change to the endpoint came first: show it as it is.
		c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"#webhook")
		return
	}
	if h.failed(c, "set webhook", err) {
		return
	}
	h.Logger().InfoContext(ctx, "webhook set", "client_id", a.ClientID, "developer_id", d.ID, "new_secret", secret != "")
	if secret == "" {
		c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=webhook_saved#webhook")
		return
	}
	h.Render(c, http.StatusOK, "developer_secret", "developer_webhook_secret_title", sess, shownOnce{
		TitleID: "developer_webhook_secret_title", TextID: "developer_webhook_secret_new_text",
		Label: "developer_webhook_secret_label", Value: secret, ClientID: a2.ClientID, Back: appPath(a2.ClientID) + "#webhook"})
}

// ConfirmRemoveWebhook asks before removing the app's endpoint.
func (h *DeveloperPages) ConfirmRemoveWebhook(c *gin.Context) {
	sess, _, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	if !a.Webhook.Configured() {
		c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"#webhook")
		return
	}
	h.Render(c, http.StatusOK, "developer_confirm_delete", "developer_webhook_remove_title", sess, map[string]any{
		"App": a, "TitleID": "developer_webhook_remove_title", "TextID": "developer_webhook_remove_text",
		"ButtonID": "developer_webhook_remove_button", "URL": a.Webhook.URL,
		"Action": webhookPath(a.ClientID) + "/remove", "Back": appPath(a.ClientID) + "#webhook"})
}

// RemoveWebhook removes the app's endpoint and its secrets, once
// confirmed: no event is delivered any more, and a new endpoint gets a
// new secret.
func (h *DeveloperPages) RemoveWebhook(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	if !confirmed(c) {
		c.Redirect(http.StatusSeeOther, webhookPath(a.ClientID)+"/remove")
		return
	}
	if !a.Webhook.Configured() {
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_webhook_none", "")
		return
	}
	err := h.store.RemoveWebhook(c.Request.Context(), a.ClientID, store.ActorDeveloper(d.ID))
	if errors.Is(err, store.ErrInvalid) {
		// Removed meanwhile.
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_webhook_none", "")
		return
	}
	if h.failed(c, "remove webhook", err) {
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "webhook removed", "client_id", a.ClientID, "developer_id", d.ID)
	c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=webhook_removed#webhook")
}

// RotateWebhookSecret gives the endpoint a new signing secret, shown
// once; for the chosen overlap every delivery is signed with the old one
// too, so the receiver can switch without refusing one.
func (h *DeveloperPages) RotateWebhookSecret(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	overlap, ok := postedOverlap(c)
	if !ok {
		h.appPage(c, http.StatusBadRequest, sess, d, a, "developer_err_overlap", "")
		return
	}
	if !a.Webhook.Configured() {
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_webhook_none", "")
		return
	}
	secret, a2, err := h.store.RotateWebhookSecret(c.Request.Context(), a.ClientID, overlap, store.ActorDeveloper(d.ID))
	switch {
	case errors.Is(err, store.ErrInvalid):
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_webhook_none", "")
		return
	case errors.Is(err, store.ErrNoEncryptionKey):
		h.appPage(c, http.StatusServiceUnavailable, sess, d, a, "developer_err_webhook_no_key", "")
		return
	case errors.Is(err, store.ErrConflict):
		c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"#webhook")
		return
	}
	if h.failed(c, "rotate webhook secret", err) {
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "webhook secret rotated", "client_id", a.ClientID, "developer_id", d.ID)
	h.Render(c, http.StatusOK, "developer_secret", "developer_webhook_secret_title", sess, shownOnce{
		TitleID: "developer_webhook_secret_title", TextID: "developer_webhook_secret_rotated_text",
		Label: "developer_webhook_secret_label", Value: secret, ClientID: a2.ClientID,
		Expires: formatTime(a2.Webhook.PrevUntil), Back: appPath(a2.ClientID) + "#webhook"})
}

// Ping sends a ping event to the app's endpoint, to try it, and shows it
// among the deliveries.
func (h *DeveloperPages) Ping(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	switch {
	case !a.Webhook.Configured():
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_webhook_none", "")
		return
	case !a.Webhook.Active():
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_webhook_disabled", "")
		return
	}
	p, err := h.store.SendPing(c.Request.Context(), a.ClientID, h.cfg.Deliveries)
	if errors.Is(err, store.ErrTooManyPings) {
		h.appPage(c, http.StatusTooManyRequests, sess, d, a, "developer_err_too_many_pings", strconv.Itoa(store.PingsPerHour))
		return
	}
	if errors.Is(err, store.ErrInvalid) {
		// Removed or disabled meanwhile.
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_webhook_none", "")
		return
	}
	if h.failed(c, "send ping", err) {
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "webhook ping queued", "client_id", a.ClientID, "delivery", p.ID, "developer_id", d.ID)
	c.Redirect(http.StatusSeeOther, deliveriesPath(a.ClientID)+"?notice=ping_sent")
}

// deliveriesView is the deliveries page's data.
type deliveriesView struct {
	App     *store.App
	Webhook webhookState
	Table   deliveriesTable
	Total   int
	Next    string
	Notice  string
	Error   string
}

// deliveriesTable is the layout's deliveries_table: the rows, and where
// a row's resend form posts (Resend/<id>/resend).
type deliveriesTable struct {
	Rows   []deliveryRow
	Resend string
}

// Deliveries lists the app's webhook deliveries, newest first, a page at
// a time (?cursor=).
func (h *DeveloperPages) Deliveries(c *gin.Context) {
	sess, _, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	h.deliveriesPage(c, http.StatusOK, sess, a, c.Query("cursor"), "")
}

func (h *DeveloperPages) deliveriesPage(c *gin.Context, status int, sess *sessions.Session, a *store.App, cursor, msg string) {
	v, ok := h.readDeliveries(c, h.store, a, cursor, deliveriesPath(a.ClientID))
	if !ok {
		return
	}
	v.Notice, v.Error = developerNotice(c.Query("notice")), msg
	h.Render(c, status, "developer_deliveries", "developer_deliveries_title", sess, v)
}

// Resend queues one of the app's deliveries again, now, with the same
// webhook-id. An unknown delivery, one in flight, or an endpoint that
// delivers nothing is the page again with the reason, nothing written.
func (h *DeveloperPages) Resend(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	id := c.Param("id")
	_, err := h.store.GetDelivery(ctx, a.ClientID, id)
	if err == nil && !a.Webhook.Active() {
		h.deliveriesPage(c, http.StatusConflict, sess, a, "", "developer_err_resend_inactive")
		return
	}
	if err == nil {
		err = h.store.ResendDelivery(ctx, a.ClientID, id, h.cfg.Deliveries)
	}
	if msg, status := resendRefusal(err); msg != "" {
		h.deliveriesPage(c, status, sess, a, "", msg)
		return
	}
	if h.failed(c, "resend delivery", err) {
		return
	}
	h.Logger().InfoContext(ctx, "webhook delivery resent", "client_id", a.ClientID, "delivery", id, "developer_id", d.ID)
	c.Redirect(http.StatusSeeOther, deliveriesPath(a.ClientID)+"?notice=resent")
}

// durationText says d in the page's language, in its largest whole unit
// (days, hours or minutes); "" for none.
func durationText(loc localizer, d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		return loc.TN("developer_duration_days", int(d/(24*time.Hour)))
	case d%time.Hour == 0:
		return loc.TN("developer_duration_hours", int(d/time.Hour))
	}
	return loc.TN("developer_duration_minutes", int((d+time.Minute-1)/time.Minute))
}

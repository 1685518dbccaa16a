package consent

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// The admin's view of an app's webhook (issue 16): the endpoint and its
// state, and the app's deliveries with the same columns as the portal's,
// each of which can be sent again.

func adminDeliveriesPath(clientID string) string {
	return "/admin/apps/" + url.PathEscape(clientID) + "/deliveries"
}

// adminApp returns the app of the path; an unknown one is the 404 page.
func (h *AdminPages) adminApp(c *gin.Context) (*store.App, bool) {
	a, err := h.store.GetApp(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return nil, false
	}
	if err != nil {
		h.Unavailable(c, "get app", err)
		return nil, false
	}
	return a, true
}

// Deliveries shows an app's webhook and its deliveries, newest first, a
// page at a time (?cursor=).
func (h *AdminPages) Deliveries(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	a, ok := h.adminApp(c)
	if !ok {
		return
	}
	h.deliveriesPage(c, http.StatusOK, sess, a, c.Query("cursor"), "")
}

func (h *AdminPages) deliveriesPage(c *gin.Context, status int, sess *sessions.Session, a *store.App, cursor, msg string) {
	v, ok := h.readDeliveries(c, h.store, a, cursor, adminDeliveriesPath(a.ClientID))
	if !ok {
		return
	}
	v.Notice, v.Error = adminNotice(c.Query("notice")), msg
	h.Render(c, status, "admin_deliveries", "admin_deliveries_title", sess, v)
}

// Resend queues one of the app's deliveries again, now, with the same
// webhook-id. An unknown delivery, one in flight, or an endpoint that
// delivers nothing is the page again with the reason, nothing written.
func (h *AdminPages) Resend(c *gin.Context) {
	sess, actor, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	a, ok := h.adminApp(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	id := c.Param("delivery_id")
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
	if err != nil {
		h.Unavailable(c, "resend delivery", err)
		return
	}
	h.Logger().InfoContext(ctx, "webhook delivery resent", "client_id", a.ClientID, "delivery", id, "by", actor)
	c.Redirect(http.StatusSeeOther, adminDeliveriesPath(a.ClientID)+"?notice=resent")
}

package consent

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// AdminStore is what the admin pages need of the store.
type AdminStore interface {
	AuthenticateAdmin(ctx context.Context, email, password string) (*store.Admin, error)
	GetAdmin(ctx context.Context, id string) (*store.Admin, error)
	ListMerchants(ctx context.Context, p store.Page) (*store.AccountPage, error)
	ListApps(ctx context.Context, p store.Page) (*store.AppPage, error)
	SetAppDisabled(ctx context.Context, clientID string, disabled bool, by store.Actor) error
	ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) (*store.ConnectionPage, error)
	CountConnections(ctx context.Context, apps []*store.App) (map[string]int, error)
	RevokeConnection(ctx context.Context, id string, by store.Actor) error
	RevokeAllConnections(ctx context.Context, clientID string, by store.Actor) (*store.Revocation, error)
	AppRevocation(ctx context.Context, clientID string) (*store.Revocation, error)
	ListAudit(ctx context.Context, f store.AuditFilter, before string, limit int) ([]store.Event, string, error)
}

// AdminPages are the operators' pages under /admin: they log in with admin
// accounts (never merchant ones), in a session cookie of their own.
type AdminPages struct {
	*Kit
	store AdminStore
}

// NewAdminPages returns the admin pages over the kit.
func NewAdminPages(k *Kit, st AdminStore) *AdminPages { return &AdminPages{Kit: k, store: st} }

const (
	adminSessionName = "enlace_admin"
	keyAdmin         = "admin_id"
	adminPage        = 50
)

func (h *AdminPages) adminSession(c *gin.Context) (*sessions.Session, bool) {
	return h.Session(c, adminSessionName)
}

// requireAdmin returns the admin session and the admin's actor name; a
// post must carry the session's CSRF token. Anyone else goes to the admin
// login page.
func (h *AdminPages) requireAdmin(c *gin.Context) (*sessions.Session, store.Actor, bool) {
	sess, ok := h.adminSession(c)
	if !ok {
		return nil, "", false
	}
	id, _ := sess.Values[keyAdmin].(string)
	var admin *store.Admin
	if id != "" {
		a, err := h.store.GetAdmin(c.Request.Context(), id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.Unavailable(c, "load admin", err)
			return nil, "", false
		}
		if a != nil && sessionCurrent(sess, a) {
			admin = a
		}
	}
	if admin == nil {
		c.Redirect(http.StatusSeeOther, "/admin/login")
		return nil, "", false
	}
	if c.Request.Method == http.MethodPost && !h.CSRFOK(c, sess) {
		return nil, "", false
	}
	return sess, store.ActorAdmin(admin.ID), true
}

// LoginPage shows the admin login form.
func (h *AdminPages) LoginPage(c *gin.Context) {
	sess, ok := h.adminSession(c)
	if !ok {
		return
	}
	h.Render(c, http.StatusOK, "login", "admin_login_title", sess, map[string]any{
		"Action": "/admin/login", "Admin": true,
	})
}

// Login checks an admin's email and password and starts an admin session.
func (h *AdminPages) Login(c *gin.Context) {
	sess, ok := h.adminSession(c)
	if !ok {
		return
	}
	if !h.CSRFOK(c, sess) {
		return
	}
	email := c.PostForm("email")
	page := map[string]any{"Action": "/admin/login", "Admin": true, "Email": email}
	if !h.loginAllowed(c, sess, "admin", email, "admin_login_title", page) {
		return
	}
	a, err := h.store.AuthenticateAdmin(c.Request.Context(), email, c.PostForm("password"))
	if errors.Is(err, store.ErrBadCredentials) {
		h.Logger().InfoContext(c.Request.Context(), "admin login failed", "account", AccountRef(email), "address", c.ClientIP())
		h.loginFailure()
		page["Failed"] = true
		h.Render(c, http.StatusUnauthorized, "login", "admin_login_title", sess, page)
		return
	}
	if err == nil {
		err = h.startSession(c, sess, keyAdmin, a.ID)
	}
	if err != nil {
		h.Unavailable(c, "admin login", err)
		return
	}
	h.loginSucceeded(c, "admin", email)
	h.Logger().InfoContext(c.Request.Context(), "admin login", "admin_id", a.ID)
	c.Redirect(http.StatusSeeOther, "/admin")
}

// Logout ends the admin session.
func (h *AdminPages) Logout(c *gin.Context) {
	if sess, ok := h.adminSession(c); ok && h.endSession(c, sess) {
		c.Redirect(http.StatusSeeOther, "/admin/login")
	}
}

type appRow struct {
	*store.App
	Connections int
	// Revocation is the clean-up of the app's last app-wide revocation
	// while it runs, nil otherwise.
	Revocation *store.Revocation
}

// pageOf reads a listing page's cursor from the query; a page given by
// offset (older links) is kept up to its bound.
func pageOf(c *gin.Context) store.Page {
	p := store.Page{Limit: adminPage, Cursor: c.Query("cursor")}
	if p.Cursor == "" {
		off, _ := strconv.Atoi(c.Query("offset"))
		p.Offset = min(max(off, 0), store.MaxOffset)
	}
	return p
}

// nextLink is the address of the page after this one, or "".
func nextLink(path string, q url.Values, next string) string {
	if next == "" {
		return ""
	}
	q.Set("cursor", next)
	q.Del("offset")
	return path + "?" + q.Encode()
}

// Apps lists every app with its live connections.
func (h *AdminPages) Apps(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	apps, err := h.store.ListApps(ctx, pageOf(c))
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	var counts map[string]int
	if err == nil {
		counts, err = h.store.CountConnections(ctx, apps.Apps)
	}
	if err != nil {
		h.Unavailable(c, "admin apps", err)
		return
	}
	rows := make([]appRow, len(apps.Apps))
	for i, a := range apps.Apps {
		rows[i] = appRow{App: a, Connections: counts[a.ClientID]}
		if a.Generation == 0 {
			continue
		}
		r, err := h.store.AppRevocation(ctx, a.ClientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.Unavailable(c, "admin apps", err)
			return
		}
		if r != nil && !r.Done {
			rows[i].Revocation = r
		}
	}
	h.Render(c, http.StatusOK, "admin_apps", "admin_apps", sess, map[string]any{
		"Apps": rows, "Notice": c.Query("notice"), "Total": apps.Total, "Shards": store.Shards,
		"Next": nextLink("/admin", url.Values{}, apps.Next),
	})
}

// SetDisabled disables or enables an app.
func (h *AdminPages) SetDisabled(disabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, actor, ok := h.requireAdmin(c)
		if !ok {
			return
		}
		err := h.store.SetAppDisabled(c.Request.Context(), c.Param("id"), disabled, actor)
		if errors.Is(err, store.ErrNotFound) {
			h.ErrorPage(c, http.StatusNotFound, "err_not_found")
			return
		}
		if err != nil {
			h.Unavailable(c, "set app disabled", err)
			return
		}
		h.Logger().InfoContext(c.Request.Context(), "app disabled changed", "client_id", c.Param("id"), "disabled", disabled, "by", actor)
		c.Redirect(http.StatusSeeOther, "/admin?notice=done")
	}
}

// RevokeAll revokes every connection of an app.
func (h *AdminPages) RevokeAll(c *gin.Context) {
	_, actor, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	r, err := h.store.RevokeAllConnections(c.Request.Context(), c.Param("id"), actor)
	if errors.Is(err, store.ErrNotFound) {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return
	}
	if err != nil {
		h.Unavailable(c, "revoke app connections", err)
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "app connections revoked", "client_id", r.ClientID, "generation", r.Generation, "by", actor)
	c.Redirect(http.StatusSeeOther, "/admin?notice=revoked_all")
}

// Merchants lists the merchants.
func (h *AdminPages) Merchants(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ms, err := h.store.ListMerchants(c.Request.Context(), pageOf(c))
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	if err != nil {
		h.Unavailable(c, "admin merchants", err)
		return
	}
	h.Render(c, http.StatusOK, "admin_merchants", "admin_merchants", sess, map[string]any{"Merchants": ms.Accounts,
		"Total": ms.Total, "Next": nextLink("/admin/merchants", url.Values{}, ms.Next)})
}

// Connections lists live connections, by app or merchant.
func (h *AdminPages) Connections(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	f := store.ConnectionFilter{ClientID: strings.TrimSpace(c.Query("app")), MerchantID: strings.TrimSpace(c.Query("merchant"))}
	conns, err := h.store.ListConnections(c.Request.Context(), f, pageOf(c))
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	if err != nil {
		h.Unavailable(c, "admin connections", err)
		return
	}
	data := map[string]any{"Connections": h.connectionViews(c, conns.Connections), "App": f.ClientID, "Merchant": f.MerchantID,
		"Total": conns.Total, "Self": c.Request.URL.RequestURI(),
		"Next": nextLink("/admin/connections", url.Values{"app": {f.ClientID}, "merchant": {f.MerchantID}}, conns.Next)}
	h.Render(c, http.StatusOK, "admin_connections", "admin_connections", sess, data)
}

// Revoke ends one connection.
func (h *AdminPages) Revoke(c *gin.Context) {
	_, actor, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	err := h.store.RevokeConnection(c.Request.Context(), c.Param("id"), actor)
	if errors.Is(err, store.ErrNotFound) {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return
	}
	if err != nil {
		h.Unavailable(c, "revoke connection", err)
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "connection revoked", "connection_id", c.Param("id"), "by", actor)
	back := safeNext(c.PostForm("back"))
	if !strings.HasPrefix(back, "/admin/connections") {
		back = "/admin/connections"
	}
	c.Redirect(http.StatusSeeOther, back)
}

// Audit shows the audit trail, newest first.
func (h *AdminPages) Audit(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	f := store.AuditFilter{ClientID: c.Query("app"), MerchantID: c.Query("merchant"), ConnectionID: c.Query("connection")}
	events, next, err := h.store.ListAudit(c.Request.Context(), f, c.Query("before"), adminPage)
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	if err != nil {
		h.Unavailable(c, "admin audit", err)
		return
	}
	data := map[string]any{"Events": events}
	if next != "" {
		data["Next"] = "/admin/audit?" + url.Values{"app": {f.ClientID}, "merchant": {f.MerchantID},
			"connection": {f.ConnectionID}, "before": {next}}.Encode()
	}
	h.Render(c, http.StatusOK, "admin_audit", "admin_audit", sess, data)
}

package consent

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// Admin pages under /admin: operators log in with admin accounts (never
// merchant ones), in a session cookie of their own.

const (
	adminSessionName = "enlace_admin"
	keyAdmin         = "admin_id"
	adminPage        = 50
)

func (h *Handler) registerAdmin(r gin.IRoutes) {
	r.GET("/admin/login", h.adminLoginPage)
	r.POST("/admin/login", h.adminLogin)
	r.POST("/admin/logout", h.adminLogout)
	r.GET("/admin", h.adminApps)
	r.POST("/admin/apps/:id/disable", h.adminSetDisabled(true))
	r.POST("/admin/apps/:id/enable", h.adminSetDisabled(false))
	r.POST("/admin/apps/:id/revoke-all", h.adminRevokeAll)
	r.GET("/admin/merchants", h.adminMerchants)
	r.GET("/admin/connections", h.adminConnections)
	r.POST("/admin/connections/:id/revoke", h.adminRevoke)
	r.GET("/admin/audit", h.adminAudit)
}

func (h *Handler) adminSession(c *gin.Context) (*sessions.Session, bool) {
	sess, err := h.opts.Sessions.Get(c.Request, adminSessionName)
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "load admin session", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return nil, false
	}
	return sess, true
}

// requireAdmin returns the admin session and the admin's actor name; a
// post must carry the session's CSRF token. Anyone else goes to the admin
// login page.
func (h *Handler) requireAdmin(c *gin.Context) (*sessions.Session, string, bool) {
	sess, ok := h.adminSession(c)
	if !ok {
		return nil, "", false
	}
	id, _ := sess.Values[keyAdmin].(string)
	var admin *store.Admin
	if id != "" {
		a, err := h.opts.Store.GetAdmin(c.Request.Context(), id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.opts.Logger.ErrorContext(c.Request.Context(), "load admin", "err", err)
			h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
			return nil, "", false
		}
		admin = a
	}
	if admin == nil {
		c.Redirect(http.StatusSeeOther, "/admin/login")
		return nil, "", false
	}
	if c.Request.Method == http.MethodPost && !h.csrfOK(c, sess) {
		return nil, "", false
	}
	return sess, "admin:" + admin.ID, true
}

func (h *Handler) adminLoginPage(c *gin.Context) {
	sess, ok := h.adminSession(c)
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "login", "admin_login_title", sess, map[string]any{
		"Action": "/admin/login", "Admin": true,
	})
}

func (h *Handler) adminLogin(c *gin.Context) {
	sess, ok := h.adminSession(c)
	if !ok {
		return
	}
	if !h.csrfOK(c, sess) {
		return
	}
	email := c.PostForm("email")
	page := map[string]any{"Action": "/admin/login", "Admin": true, "Email": email}
	if !h.loginAllowed(c, sess, "admin", email, "admin_login_title", page) {
		return
	}
	a, err := h.opts.Store.AuthenticateAdmin(c.Request.Context(), email, c.PostForm("password"))
	if errors.Is(err, store.ErrBadCredentials) {
		h.opts.Logger.InfoContext(c.Request.Context(), "admin login failed")
		h.loginFailure()
		page["Failed"] = true
		h.render(c, http.StatusUnauthorized, "login", "admin_login_title", sess, page)
		return
	}
	if err == nil {
		err = h.startSession(c, sess, keyAdmin, a.ID)
	}
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "admin login", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	h.loginSucceeded(c, "admin", email)
	h.opts.Logger.InfoContext(c.Request.Context(), "admin login", "admin_id", a.ID)
	c.Redirect(http.StatusSeeOther, "/admin")
}

func (h *Handler) adminLogout(c *gin.Context) {
	if sess, ok := h.adminSession(c); ok && h.endSession(c, sess) {
		c.Redirect(http.StatusSeeOther, "/admin/login")
	}
}

type appRow struct {
	*store.App
	Connections int
}

func (h *Handler) adminApps(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	apps, err := h.opts.Store.ListApps(ctx)
	var counts map[string]int
	if err == nil {
		ids := make([]string, len(apps))
		for i, a := range apps {
			ids[i] = a.ClientID
		}
		counts, err = h.opts.Store.CountConnections(ctx, ids)
	}
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "admin apps", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	rows := make([]appRow, len(apps))
	for i, a := range apps {
		rows[i] = appRow{App: a, Connections: counts[a.ClientID]}
	}
	h.render(c, http.StatusOK, "admin_apps", "admin_apps", sess, map[string]any{
		"Apps": rows, "Notice": c.Query("notice"), "Count": c.Query("count"),
	})
}

func (h *Handler) adminSetDisabled(disabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, actor, ok := h.requireAdmin(c)
		if !ok {
			return
		}
		err := h.opts.Store.SetAppDisabled(c.Request.Context(), c.Param("id"), disabled, actor)
		if errors.Is(err, store.ErrNotFound) {
			h.errorPage(c, http.StatusNotFound, "err_not_found")
			return
		}
		if err != nil {
			h.opts.Logger.ErrorContext(c.Request.Context(), "set app disabled", "err", err)
			h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
			return
		}
		h.opts.Logger.InfoContext(c.Request.Context(), "app disabled changed", "client_id", c.Param("id"), "disabled", disabled, "by", actor)
		c.Redirect(http.StatusSeeOther, "/admin?notice=done")
	}
}

func (h *Handler) adminRevokeAll(c *gin.Context) {
	_, actor, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	n, err := h.opts.Store.RevokeAppConnections(c.Request.Context(), c.Param("id"), actor)
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "revoke app connections", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	h.opts.Logger.InfoContext(c.Request.Context(), "app connections revoked", "client_id", c.Param("id"), "count", n, "by", actor)
	c.Redirect(http.StatusSeeOther, "/admin?"+url.Values{"notice": {"revoked_all"}, "count": {strconv.Itoa(n)}}.Encode())
}

func (h *Handler) adminMerchants(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ms, err := h.opts.Store.ListMerchants(c.Request.Context())
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "admin merchants", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	h.render(c, http.StatusOK, "admin_merchants", "admin_merchants", sess, map[string]any{"Merchants": ms})
}

func (h *Handler) adminConnections(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	offset, _ := strconv.Atoi(c.Query("offset"))
	offset = max(offset, 0)
	f := store.ConnectionFilter{ClientID: strings.TrimSpace(c.Query("app")), MerchantID: strings.TrimSpace(c.Query("merchant"))}
	conns, total, err := h.opts.Store.ListConnections(c.Request.Context(), f, offset, adminPage)
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "admin connections", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	data := map[string]any{"Connections": h.connectionViews(c, conns), "App": f.ClientID, "Merchant": f.MerchantID,
		"Total": total, "Self": c.Request.URL.RequestURI()}
	if offset+len(conns) < total {
		data["Next"] = "/admin/connections?" + url.Values{"app": {f.ClientID}, "merchant": {f.MerchantID},
			"offset": {strconv.Itoa(offset + adminPage)}}.Encode()
	}
	h.render(c, http.StatusOK, "admin_connections", "admin_connections", sess, data)
}

func (h *Handler) adminRevoke(c *gin.Context) {
	_, actor, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	err := h.opts.Store.RevokeConnection(c.Request.Context(), c.Param("id"), actor)
	if errors.Is(err, store.ErrNotFound) {
		h.errorPage(c, http.StatusNotFound, "err_not_found")
		return
	}
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "revoke connection", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	h.opts.Logger.InfoContext(c.Request.Context(), "connection revoked", "connection_id", c.Param("id"), "by", actor)
	back := safeNext(c.PostForm("back"))
	if !strings.HasPrefix(back, "/admin/connections") {
		back = "/admin/connections"
	}
	c.Redirect(http.StatusSeeOther, back)
}

func (h *Handler) adminAudit(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	f := store.AuditFilter{ClientID: c.Query("app"), MerchantID: c.Query("merchant"), ConnectionID: c.Query("connection")}
	events, next, err := h.opts.Store.ListAudit(c.Request.Context(), f, c.Query("before"), adminPage)
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "admin audit", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	data := map[string]any{"Events": events}
	if next != "" {
		data["Next"] = "/admin/audit?" + url.Values{"app": {f.ClientID}, "merchant": {f.MerchantID},
			"connection": {f.ConnectionID}, "before": {next}}.Encode()
	}
	h.render(c, http.StatusOK, "admin_audit", "admin_audit", sess, data)
}

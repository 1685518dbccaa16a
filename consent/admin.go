package consent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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
	GetConnection(ctx context.Context, id string) (*store.Connection, error)
	FindMerchant(ctx context.Context, email string) (*store.Merchant, error)
	AccountEmails(ctx context.Context, merchantIDs, adminIDs []string) (map[string]string, map[string]string, error)
	// The developer side (admin_developers.go).
	ReviewApp(ctx context.Context, clientID string, approve bool, reason string, by store.Actor) error
	ListDevelopers(ctx context.Context, p store.Page) (*store.AccountPage, error)
	FindDeveloper(ctx context.Context, email string) (*store.Developer, error)
	GetDeveloper(ctx context.Context, id string) (*store.Developer, error)
	InviteDeveloper(ctx context.Context, email string) (string, error)
	DeveloperEmails(ctx context.Context, ids []string) (map[string]string, error)
	// The apps' webhooks (admin_webhooks.go).
	GetApp(ctx context.Context, clientID string) (*store.App, error)
	DeliveryReader
}

// AdminOptions configure the admin pages.
type AdminOptions struct {
	// Deliveries are the deliverer's settings a resend applies (how long
	// the delivery's record is kept).
	Deliveries store.DeliveryOptions
}

// AdminPages are the operators' pages under /admin: they log in with admin
// accounts (never merchant ones), in a session cookie of their own.
type AdminPages struct {
	*Kit
	store AdminStore
	cfg   AdminOptions
}

// NewAdminPages returns the admin pages over the kit.
func NewAdminPages(k *Kit, st AdminStore, opts AdminOptions) *AdminPages {
	return &AdminPages{Kit: k, store: st, cfg: opts}
}

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
	// OwnerEmail names the developer who owns the app ("" for an
	// operator's app, or a developer who is gone).
	OwnerEmail string
	// Webhook is the state of the app's endpoint.
	Webhook webhookState
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
	var owners map[string]string
	if err == nil {
		ids := make([]string, 0, len(apps.Apps))
		for _, a := range apps.Apps {
			ids = append(ids, a.Owner)
		}
		owners, err = h.store.DeveloperEmails(ctx, uniqueIDs(ids))
	}
	if err != nil {
		h.Unavailable(c, "admin apps", err)
		return
	}
	loc := h.i18n.localizer(h.i18n.pick(c.Request))
	rows := make([]appRow, len(apps.Apps))
	for i, a := range apps.Apps {
		rows[i] = appRow{App: a, Connections: counts[a.ClientID], OwnerEmail: owners[a.Owner],
			Webhook: newWebhookState(loc, a.Webhook, time.Now())}
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
		"Apps": rows, "Notice": adminNotice(c.Query("notice")), "Total": apps.Total, "Shards": store.Shards,
		"Next": nextLink("/admin", url.Values{}, apps.Next),
	})
}

// adminNotice is the message id of the notice named by ?notice= after an
// action, from a fixed set: any other value shows nothing, so that a link
// cannot put text of its own on an admin's page.
func adminNotice(v string) string {
	switch v {
	case "done":
		return "admin_done"
	case "revoked_all":
		return "admin_revoked_all"
	case "disabled":
		return "admin_notice_disabled"
	case "enabled":
		return "admin_notice_enabled"
	case "revoked":
		return "admin_notice_revoked"
	case "approved":
		return "admin_notice_approved"
	case "rejected":
		return "admin_notice_rejected"
	case "not_in_review":
		return "admin_notice_not_in_review"
	case "resent":
		return "admin_notice_resent"
	}
	return ""
}

// confirmField is posted only by a confirmation page's form. A destructive
// post without it (a form of an older page, a hand-made request that
// carries the CSRF token) acts on nothing and is sent to the confirmation
// page, so that every destructive action is confirmed, with or without
// JavaScript.
const confirmField = "confirmed"

func confirmed(c *gin.Context) bool { return c.PostForm(confirmField) == "yes" }

// confirmView is what a confirmation page shows: the app, how many
// connections the action affects, and (for one connection) its merchant.
type confirmView struct {
	TitleID, TextID, ButtonID string
	// Plural says TextID counts Count (go-i18n plural forms).
	Plural                    bool
	Action, Back              string
	AppName, ClientID         string
	Count                     int
	ConnectionID              string
	MerchantID, MerchantEmail string
	Scopes                    []scopeView
	// Review marks a review decision: the page names the app's developer
	// instead of counting connections; Reason asks for a rejection's
	// reason (Reason, with ErrorID when it was missing).
	Review                            bool
	OwnerID, OwnerEmail               string
	AskReason                         bool
	ReasonValue, ErrorID, ButtonClass string
}

// one picks the message for exactly one connection or for any other count.
// confirmApp shows the confirmation page of an app-wide action (disable,
// revoke-all), with the app's live connections.
func (h *AdminPages) confirmApp(c *gin.Context, action string) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	app, err := h.opts.Apps(ctx, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return
	}
	var counts map[string]int
	if err == nil {
		counts, err = h.store.CountConnections(ctx, []*store.App{app})
	}
	if err != nil {
		h.Unavailable(c, "admin confirm", err)
		return
	}
	n := counts[app.ClientID]
	v := confirmView{Action: "/admin/apps/" + url.PathEscape(app.ClientID) + "/" + action, Back: "/admin",
		AppName: app.Name, ClientID: app.ClientID, Count: n, Plural: true}
	switch action {
	case "disable":
		v.TitleID, v.TextID, v.ButtonID = "admin_confirm_disable_title", "admin_confirm_disable", "admin_confirm_disable_button"
	default:
		v.TitleID, v.TextID, v.ButtonID = "admin_confirm_revoke_all_title", "admin_confirm_revoke_all", "admin_confirm_revoke_all_button"
	}
	h.Render(c, http.StatusOK, "admin_confirm", "admin_confirm", sess, map[string]any{"Confirm": v})
}

// ConfirmDisable asks before disabling an app.
func (h *AdminPages) ConfirmDisable(c *gin.Context) { h.confirmApp(c, "disable") }

// ConfirmRevokeAll asks before revoking every connection of an app.
func (h *AdminPages) ConfirmRevokeAll(c *gin.Context) { h.confirmApp(c, "revoke-all") }

// SetDisabled disables or enables an app. Disabling is confirmed first
// (confirmField); enabling undoes nothing and is one click.
func (h *AdminPages) SetDisabled(disabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		_, actor, ok := h.requireAdmin(c)
		if !ok {
			return
		}
		if disabled && !confirmed(c) {
			c.Redirect(http.StatusSeeOther, "/admin/apps/"+url.PathEscape(c.Param("id"))+"/disable")
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
		notice := "enabled"
		if disabled {
			notice = "disabled"
		}
		c.Redirect(http.StatusSeeOther, "/admin?notice="+notice)
	}
}

// RevokeAll revokes every connection of an app, once confirmed.
func (h *AdminPages) RevokeAll(c *gin.Context) {
	_, actor, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	if !confirmed(c) {
		c.Redirect(http.StatusSeeOther, "/admin/apps/"+url.PathEscape(c.Param("id"))+"/revoke-all")
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

// merchantFilter reads a merchant filter: an id, or an email, which is
// looked up (one read). An unknown email filters to nothing.
func (h *AdminPages) merchantFilter(ctx context.Context, v string) (string, error) {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "@") {
		return v, nil
	}
	m, err := h.store.FindMerchant(ctx, v)
	if errors.Is(err, store.ErrNotFound) {
		return v, nil // no merchant has an id with an @ in it
	}
	if err != nil {
		return "", fmt.Errorf("find merchant: %w", err)
	}
	return m.ID, nil
}

// adminConnection is a row of the admin's connections table: the
// connection with the email of its merchant.
type adminConnection struct {
	connectionView
	MerchantEmail string
}

// Connections lists live connections, by app or merchant.
func (h *AdminPages) Connections(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	merchant := strings.TrimSpace(c.Query("merchant"))
	f := store.ConnectionFilter{ClientID: strings.TrimSpace(c.Query("app"))}
	var err error
	var conns *store.ConnectionPage
	if f.MerchantID, err = h.merchantFilter(ctx, merchant); err == nil {
		conns, err = h.store.ListConnections(ctx, f, pageOf(c))
	}
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	var emails map[string]string
	if err == nil {
		ids := make([]string, 0, len(conns.Connections))
		for _, cn := range conns.Connections {
			ids = append(ids, cn.MerchantID)
		}
		emails, _, err = h.store.AccountEmails(ctx, uniqueIDs(ids), nil)
	}
	if err != nil {
		h.Unavailable(c, "admin connections", err)
		return
	}
	views := h.connectionViews(c, conns.Connections, nil)
	rows := make([]adminConnection, len(views))
	for i, v := range views {
		rows[i] = adminConnection{connectionView: v, MerchantEmail: emails[v.MerchantID]}
	}
	data := map[string]any{"Connections": rows, "App": f.ClientID, "Merchant": merchant,
		"Total": conns.Total, "Self": c.Request.URL.RequestURI(), "Notice": adminNotice(c.Query("notice")),
		"Next": nextLink("/admin/connections", url.Values{"app": {f.ClientID}, "merchant": {merchant}}, conns.Next)}
	h.Render(c, http.StatusOK, "admin_connections", "admin_connections", sess, data)
}

// connectionsBack is where to go after revoking a connection: the
// connections page it was revoked from (a cleaned path under
// /admin/connections), with the notice.
func connectionsBack(back string) string {
	back = safeNext(back)
	if back != "/admin/connections" && !strings.HasPrefix(back, "/admin/connections?") {
		back = "/admin/connections"
	}
	u, _ := url.Parse(back)
	q := u.Query()
	q.Set("notice", "revoked")
	u.RawQuery = q.Encode()
	return u.String()
}

// liveConnection returns the connection named in the path; an unknown or
// revoked one is a 404 page.
func (h *AdminPages) liveConnection(c *gin.Context) (*store.Connection, bool) {
	cn, err := h.store.GetConnection(c.Request.Context(), c.Param("id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Unavailable(c, "get connection", err)
		return nil, false
	}
	if cn == nil || cn.Status == store.StatusRevoked {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return nil, false
	}
	return cn, true
}

// ConfirmRevoke asks before revoking one connection, naming its app and
// merchant.
func (h *AdminPages) ConfirmRevoke(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	cn, ok := h.liveConnection(c)
	if !ok {
		return
	}
	emails, _, err := h.store.AccountEmails(c.Request.Context(), []string{cn.MerchantID}, nil)
	if err != nil {
		h.Unavailable(c, "admin confirm", err)
		return
	}
	view := h.connectionViews(c, []*store.Connection{cn}, nil)[0]
	back := connectionsBack(c.Query("back"))
	back = strings.Replace(back, "notice=revoked", "", 1)
	v := confirmView{TitleID: "admin_confirm_revoke_title", TextID: "admin_confirm_revoke_one",
		ButtonID: "admin_confirm_revoke_button", Action: "/admin/connections/" + url.PathEscape(cn.ID) + "/revoke",
		Back: strings.TrimSuffix(strings.TrimSuffix(back, "&"), "?"), AppName: view.AppName, ClientID: cn.ClientID, Count: 1,
		ConnectionID: cn.ID, MerchantID: cn.MerchantID, MerchantEmail: emails[cn.MerchantID], Scopes: view.Scopes}
	h.Render(c, http.StatusOK, "admin_confirm", "admin_confirm", sess, map[string]any{"Confirm": v})
}

// Revoke ends one connection, once confirmed.
func (h *AdminPages) Revoke(c *gin.Context) {
	_, actor, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	if !confirmed(c) {
		c.Redirect(http.StatusSeeOther, "/admin/connections/"+url.PathEscape(c.Param("id"))+"/revoke?"+
			url.Values{"back": {c.PostForm("back")}}.Encode())
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
	c.Redirect(http.StatusSeeOther, connectionsBack(c.PostForm("back")))
}

// auditRow is one event on the audit page, with the names behind its ids
// and the message ids of its type, actor and detail in the page's language.
type auditRow struct {
	store.Event
	// TypeID is the event's label (admin_event_<type>); "" for a type this
	// version does not know, shown as stored.
	TypeID string
	// AppName and MerchantEmail name ClientID and MerchantID ("" when the
	// app or merchant is gone).
	AppName, MerchantEmail string
	// ActorKindID is the label of the actor's kind; ActorName names it (an
	// email, an app's name, a key's name) and ActorRef is its id, if any;
	// ActorLink is the admin page of the actor, if it has one.
	ActorKindID, ActorName, ActorRef, ActorLink string
	// Said is the detail in the page's language (describeDetail).
	Said eventDetail
}

// eventLabel is the message id of an event type's label.
func eventLabel(t store.EventType) string {
	switch t {
	case store.EventGrant, store.EventExchange, store.EventSignIn, store.EventRefresh, store.EventRevoke,
		store.EventReuse, store.EventApp, store.EventResources, store.EventKeys:
		return "admin_event_" + string(t)
	}
	return ""
}

// Audit shows the audit trail, newest first, filtered by app, merchant (id
// or email) or connection, as the admin API is. The names beside the ids
// cost the page, not the data: apps through the app cache, the page's
// distinct merchants and admins in one pipelined read.
func (h *AdminPages) Audit(c *gin.Context) {
	sess, _, ok := h.requireAdmin(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	merchant := strings.TrimSpace(c.Query("merchant"))
	f := store.AuditFilter{ClientID: strings.TrimSpace(c.Query("app")), ConnectionID: strings.TrimSpace(c.Query("connection"))}
	var err error
	var events []store.Event
	var next string
	if f.MerchantID, err = h.merchantFilter(ctx, merchant); err == nil {
		events, next, err = h.store.ListAudit(ctx, f, c.Query("before"), adminPage)
	}
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	var rows []auditRow
	if err == nil {
		rows, err = h.auditRows(ctx, events)
	}
	if err != nil {
		h.Unavailable(c, "admin audit", err)
		return
	}
	data := map[string]any{"Events": rows, "App": f.ClientID, "Merchant": merchant, "Connection": f.ConnectionID,
		"Filtered": f.ClientID != "" || merchant != "" || f.ConnectionID != ""}
	if next != "" {
		data["Next"] = "/admin/audit?" + url.Values{"app": {f.ClientID}, "merchant": {merchant},
			"connection": {f.ConnectionID}, "before": {next}}.Encode()
	}
	h.Render(c, http.StatusOK, "admin_audit", "admin_audit", sess, data)
}

// auditRows names what a page of events refers to.
func (h *AdminPages) auditRows(ctx context.Context, events []store.Event) ([]auditRow, error) {
	var merchantIDs, adminIDs, developerIDs []string
	for _, e := range events {
		merchantIDs = append(merchantIDs, e.MerchantID)
		kind, id, _ := strings.Cut(string(e.Actor), ":")
		switch kind {
		case "merchant":
			merchantIDs = append(merchantIDs, id)
		case "admin":
			adminIDs = append(adminIDs, id)
		case "developer":
			developerIDs = append(developerIDs, id)
		}
	}
	merchantEmails, adminEmails, err := h.store.AccountEmails(ctx, uniqueIDs(merchantIDs), uniqueIDs(adminIDs))
	if err != nil {
		return nil, fmt.Errorf("name audit accounts: %w", err)
	}
	// Developers are another read, and only for a page that has them
	// (AccountEmails does not know developers).
	developerEmails, err := h.store.DeveloperEmails(ctx, uniqueIDs(developerIDs))
	if err != nil {
		return nil, fmt.Errorf("name audit developers: %w", err)
	}
	apps := map[string]string{}
	appName := func(clientID string) string {
		if clientID == "" {
			return ""
		}
		name, ok := apps[clientID]
		if !ok {
			// The app cache answers from memory; a gone app stays unnamed.
			if a, err := h.opts.Apps(ctx, clientID); err == nil {
				name = a.Name
			}
			apps[clientID] = name
		}
		return name
	}
	rows := make([]auditRow, len(events))
	for i, e := range events {
		r := auditRow{Event: e, TypeID: eventLabel(e.Type), AppName: appName(e.ClientID),
			MerchantEmail: merchantEmails[e.MerchantID]}
		r.Said = describeDetail(e.Detail)
		// Actors are "<kind>:<id>" (store.Actor*) or one word.
		kind, id, _ := strings.Cut(string(e.Actor), ":")
		switch store.Actor(kind) {
		case "merchant":
			r.ActorKindID, r.ActorName, r.ActorRef = "admin_actor_merchant", merchantEmails[id], id
		case "admin":
			r.ActorKindID, r.ActorName, r.ActorRef = "admin_actor_admin", adminEmails[id], id
		case "developer":
			r.ActorKindID, r.ActorName, r.ActorRef = "admin_actor_developer", developerEmails[id], id
			r.ActorLink = "/admin/developers?" + url.Values{"id": {id}}.Encode()
		case "admin-key":
			r.ActorKindID, r.ActorName = "admin_actor_admin_key", id
		case "client":
			r.ActorKindID, r.ActorName, r.ActorRef = "admin_actor_client", appName(id), id
		case store.ActorCLI:
			r.ActorKindID = "admin_actor_cli"
		case store.ActorCodeReuse:
			r.ActorKindID = "admin_actor_code_reuse"
		case store.ActorRefreshReuse:
			r.ActorKindID = "admin_actor_refresh_reuse"
		case store.ActorDeliverer:
			r.ActorKindID = "admin_actor_deliverer"
		}
		rows[i] = r
	}
	return rows, nil
}

// uniqueIDs returns the non-empty ids once each, in their first order.
func uniqueIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

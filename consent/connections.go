package consent

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// requireMerchant returns the session and the logged-in merchant; when
// nobody is logged in it sends the browser to the login page (coming back
// here afterwards) and ok is false.
func (h *MerchantPages) requireMerchant(c *gin.Context) (*sessions.Session, *store.Merchant, bool) {
	sess, ok := h.Session(c, sessionName)
	if !ok {
		return nil, nil, false
	}
	m, err := h.currentMerchant(c, sess)
	if err != nil {
		h.Unavailable(c, "load merchant", err)
		return nil, nil, false
	}
	if m == nil {
		next, status := c.Request.URL.RequestURI(), http.StatusFound
		// A form posted from a page that needed a session, or a browser
		// that was signed in and never signed out: the session ended, and
		// the login page says so instead of silently asking again.
		expired := hadSession(c)
		if c.Request.Method != http.MethodGet {
			// A form posted after the session ended: come back to the page
			// it belongs to, and post it again from there.
			next, status, expired = "/connections", http.StatusSeeOther, true
			if isAuthorizePath(c.Request.URL.Path) {
				next = c.Request.URL.RequestURI()
			}
		}
		q := url.Values{"next": {next}}
		if expired {
			q.Set("expired", "1")
		}
		c.Redirect(status, "/login?"+q.Encode())
		return nil, nil, false
	}
	return sess, m, true
}

// connectionView is one row of a connections table.
type connectionView struct {
	ID      string
	AppName string
	// App is the app's identity as merchants see it.
	App        appIdentity
	ClientID   string
	MerchantID string
	Scopes     []scopeView
	Status     string
	// Created and LastUsed are in UTC, for tables of data (the admin
	// pages); CreatedAt and LastUsedAt are for people (the merchant
	// pages): local time in the browser, the page language without it.
	Created    string
	LastUsed   string
	CreatedAt  localTime
	LastUsedAt localTime
	// Narrowable: a scope is bound to a resource type, so the merchant may
	// limit what it reaches (narrow.go).
	Narrowable bool
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// connectionViews are the rows of conns. have are the merchant's resources
// of the types the connections' limited scopes are bound to, to name them
// (nil: the ids stand for the names).
func (k *Kit) connectionViews(c *gin.Context, conns []*store.Connection, have map[string][]store.Resource) []connectionView {
	loc := k.i18n.localizer(k.i18n.pick(c.Request))
	out := make([]connectionView, 0, len(conns))
	for _, cn := range conns {
		scopes := k.describeScopes(c, cn.Scopes)
		for i := range scopes {
			scopes[i].Reach = k.reach(loc, scopes[i].Name, cn.Resources, have)
		}
		name := cn.ClientID
		ident := appIdentity{Name: name, ClientID: cn.ClientID, Initials: initials(name)}
		if app, err := k.opts.Apps(c.Request.Context(), cn.ClientID); err == nil {
			name, ident = app.Name, identityOf(app)
		}
		out = append(out, connectionView{
			ID: cn.ID, AppName: name, App: ident, ClientID: cn.ClientID, MerchantID: cn.MerchantID,
			Scopes: scopes, Status: "status_" + string(cn.Status),
			Created: formatTime(cn.CreatedAt), LastUsed: formatTime(cn.LastUsed),
			CreatedAt: loc.localTime(cn.CreatedAt), LastUsedAt: loc.localTime(cn.LastUsed),
			Narrowable: cn.Status != store.StatusRevoked && len(k.boundTypes(cn.Scopes)) > 0,
		})
	}
	return out
}

// namedResources reads the merchant's current resources of the types the
// connections' limited scopes are bound to (one pipelined read, none when
// every scope reaches all), so that the page names what each grant reaches.
func (h *MerchantPages) namedResources(c *gin.Context, m *store.Merchant, conns []*store.Connection) (map[string][]store.Resource, error) {
	types := h.limitedTypes(conns)
	if len(types) == 0 {
		return map[string][]store.Resource{}, nil
	}
	return h.store.Resources(c.Request.Context(), m.ID, h.opts.ResourceTypes, types...)
}

// Connections lists the merchant's connections, latest expiry (the most
// recently used) first, a page at a time.
func (h *MerchantPages) Connections(c *gin.Context) {
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	page, err := h.store.ListConnections(c.Request.Context(), store.ConnectionFilter{MerchantID: m.ID},
		store.Page{Cursor: c.Query("cursor"), Limit: merchantPage})
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	if err != nil {
		h.Unavailable(c, "list connections", err)
		return
	}
	have, err := h.namedResources(c, m, page.Connections)
	if err != nil {
		h.Unavailable(c, "list connections", err)
		return
	}
	next := ""
	if page.Next != "" {
		next = "/connections?" + url.Values{"cursor": {page.Next}}.Encode()
	}
	h.Render(c, http.StatusOK, "connections", "connections_title", sess, map[string]any{
		"Email": m.Email, "Apps": groupByApp(h.connectionViews(c, page.Connections, have)), "Total": page.Total,
		"Revoked": revokedCount(c.Query("revoked")), "Narrowed": c.Query("narrowed") == "1", "Next": next,
		// A page of a longer list: an app's group may go on over the page
		// break, so its count is this page's.
		"Paged": page.Next != "" || c.Query("cursor") != "",
	})
}

// appGroup is one app's connections on the merchant's page: every approval
// is a connection of its own, and five alike rows with nothing to tell them
// apart read as a fault; under their app's name they read as what they are.
type appGroup struct {
	ClientID    string
	AppName     string
	App         appIdentity
	Connections []connectionView
}

// groupByApp groups a page of connections by app, keeping the listing's
// order (most recently used first) for the groups and inside each; the
// page itself, and so the cursor, is the store's.
func groupByApp(views []connectionView) []appGroup {
	var out []appGroup
	index := map[string]int{}
	for _, v := range views {
		i, ok := index[v.ClientID]
		if !ok {
			i = len(out)
			index[v.ClientID] = i
			out = append(out, appGroup{ClientID: v.ClientID, AppName: v.AppName, App: v.App})
		}
		out[i].Connections = append(out[i].Connections, v)
	}
	return out
}

// revokedCount is the number of connections a revocation notice reports
// (the revoked query parameter, which the page's own redirect sets): a
// small positive number, anything else none.
func revokedCount(q string) int {
	n, err := strconv.Atoi(q)
	if err != nil || n < 1 || n > store.MaxLimit {
		return 0
	}
	return n
}

// merchantPage is how many connections a merchant's page shows; a store
// rarely has more.
const merchantPage = 100

// ownConnection returns the merchant's connection named in the path; any
// other (someone else's, unknown, revoked) is a 404 page.
func (h *MerchantPages) ownConnection(c *gin.Context, m *store.Merchant) (*store.Connection, bool) {
	cn, err := h.store.GetConnection(c.Request.Context(), c.Param("id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Unavailable(c, "get connection", err)
		return nil, false
	}
	if cn == nil || cn.MerchantID != m.ID || cn.Status == store.StatusRevoked {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return nil, false
	}
	return cn, true
}

// ConfirmRevoke asks before revoking: the page explains what happens.
func (h *MerchantPages) ConfirmRevoke(c *gin.Context) {
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	cn, ok := h.ownConnection(c, m)
	if !ok {
		return
	}
	have, err := h.namedResources(c, m, []*store.Connection{cn})
	if err != nil {
		h.Unavailable(c, "get connection", err)
		return
	}
	h.Render(c, http.StatusOK, "confirm_revoke", "revoke", sess, map[string]any{
		"Connection": h.connectionViews(c, []*store.Connection{cn}, have)[0],
	})
}

// Revoke ends one of the merchant's connections.
func (h *MerchantPages) Revoke(c *gin.Context) {
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	if !h.CSRFOK(c, sess) {
		return
	}
	cn, ok := h.ownConnection(c, m)
	if !ok {
		return
	}
	by := store.ActorMerchant(m.ID)
	if err := h.store.RevokeConnection(c.Request.Context(), cn.ID, by); err != nil {
		h.Unavailable(c, "revoke connection", err)
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "connection revoked", "connection_id", cn.ID, "by", by)
	c.Redirect(http.StatusSeeOther, "/connections?revoked=1")
}

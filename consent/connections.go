package consent

import (
	"errors"
	"net/http"
	"net/url"
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
		if c.Request.Method != http.MethodGet {
			// A form posted after the session ended: come back to the page
			// it belongs to, and post it again from there.
			next, status = "/connections", http.StatusSeeOther
			if isAuthorizePath(c.Request.URL.Path) {
				next = c.Request.URL.RequestURI()
			}
		}
		c.Redirect(status, "/login?"+url.Values{"next": {next}}.Encode())
		return nil, nil, false
	}
	return sess, m, true
}

// connectionView is one row of a connections table.
type connectionView struct {
	ID         string
	AppName    string
	ClientID   string
	MerchantID string
	Scopes     []scopeView
	Status     string
	Created    string
	LastUsed   string
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func (k *Kit) connectionViews(c *gin.Context, conns []*store.Connection) []connectionView {
	out := make([]connectionView, 0, len(conns))
	for _, cn := range conns {
		name := cn.ClientID
		if app, err := k.opts.Apps(c.Request.Context(), cn.ClientID); err == nil {
			name = app.Name
		}
		out = append(out, connectionView{
			ID: cn.ID, AppName: name, ClientID: cn.ClientID, MerchantID: cn.MerchantID,
			Scopes: k.describeScopes(c, cn.Scopes), Status: "status_" + string(cn.Status),
			Created: formatTime(cn.CreatedAt), LastUsed: formatTime(cn.LastUsed),
		})
	}
	return out
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
	next := ""
	if page.Next != "" {
		next = "/connections?" + url.Values{"cursor": {page.Next}}.Encode()
	}
	h.Render(c, http.StatusOK, "connections", "connections_title", sess, map[string]any{
		"Email": m.Email, "Connections": h.connectionViews(c, page.Connections), "Revoked": c.Query("revoked") == "1",
		"Next": next,
	})
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
	h.Render(c, http.StatusOK, "confirm_revoke", "revoke", sess, map[string]any{
		"Connection": h.connectionViews(c, []*store.Connection{cn})[0],
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

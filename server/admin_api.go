package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// The admin JSON API under /admin/api/, authenticated by admin API keys
// (`enlace admin key create`) sent as bearer tokens.

const (
	defaultPage = 50
	maxPage     = 200
	keyActor    = "admin_actor"
	// adminRealm names the admin API in its challenges, apart from the
	// resources' "enlace".
	adminRealm = "enlace-admin"
)

func (s *Server) apiUnavailable(c *gin.Context, what string, err error) {
	s.log.ErrorContext(c.Request.Context(), what, "err", err)
	writeOAuth(c, apierror.Unavailable())
}

func (s *Server) adminKeyAuth(c *gin.Context) {
	tok, ok := resource.BearerToken(c.Request)
	if !ok {
		e := apierror.New(apierror.InvalidToken, "an admin API key is required as a bearer token")
		e.Anonymous, e.Realm = true, adminRealm
		writeBearer(c, e)
		return
	}
	key, err := s.store.AuthenticateAdminKey(c.Request.Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		e := apierror.New(apierror.InvalidToken, "the admin API key is not valid")
		e.Realm = adminRealm
		writeBearer(c, e)
		return
	}
	if err != nil {
		s.apiUnavailable(c, "authenticate admin key", err)
		return
	}
	c.Set(keyActor, store.ActorAdminKey(key.Name))
	apierror.NoStore(c.Writer.Header())
	c.Next()
}

// actor is who calls the admin API: its key.
func actor(c *gin.Context) store.Actor {
	a, _ := c.Value(keyActor).(store.Actor)
	return a
}

// page reads offset and limit; ok is false after a 400 was sent.
func page(c *gin.Context) (offset, limit int, ok bool) {
	offset, limit = 0, defaultPage
	var err error
	if v := c.Query("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			writeOAuth(c, apierror.Request("offset must be a non-negative integer"))
			return 0, 0, false
		}
	}
	if v := c.Query("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxPage {
			writeOAuth(c, apierror.Request("limit must be an integer from 1 to 200"))
			return 0, 0, false
		}
	}
	return offset, limit, true
}

// paged is the shape of every list answer.
func paged(data any, total, offset, n int) gin.H {
	h := gin.H{"data": data, "total": total, "offset": offset, "next_offset": nil}
	if offset+n < total {
		h["next_offset"] = offset + n
	}
	return h
}

func window[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return []T{}
	}
	return all[offset:min(offset+limit, len(all))]
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func appJSON(a *store.App, connections int) gin.H {
	return gin.H{"client_id": a.ClientID, "name": a.Name, "redirect_uris": a.RedirectURIs, "scopes": a.Scopes,
		"disabled": a.Disabled, "created_at": timeOrNil(a.CreatedAt), "connections": connections}
}

func connectionJSON(c *store.Connection) gin.H {
	return gin.H{"id": c.ID, "client_id": c.ClientID, "merchant_id": c.MerchantID, "scopes": c.Scopes,
		"status": c.Status, "created_at": timeOrNil(c.CreatedAt), "last_used": timeOrNil(c.LastUsed),
		"revoked_at": timeOrNil(c.RevokedAt), "revoked_by": c.RevokedBy}
}

func (s *Server) apiApps(c *gin.Context) {
	offset, limit, ok := page(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	apps, err := s.store.ListApps(ctx)
	if err != nil {
		s.apiUnavailable(c, "list apps", err)
		return
	}
	win := window(apps, offset, limit)
	ids := make([]string, len(win))
	for i, a := range win {
		ids[i] = a.ClientID
	}
	counts, err := s.store.CountConnections(ctx, ids)
	if err != nil {
		s.apiUnavailable(c, "count connections", err)
		return
	}
	out := make([]gin.H, len(win))
	for i, a := range win {
		out[i] = appJSON(a, counts[a.ClientID])
	}
	c.JSON(http.StatusOK, paged(out, len(apps), offset, len(out)))
}

func (s *Server) apiSetDisabled(disabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		err := s.store.SetAppDisabled(ctx, c.Param("id"), disabled, actor(c))
		if errors.Is(err, store.ErrNotFound) {
			writeOAuth(c, apierror.New(apierror.NotFound, "no app with this client id"))
			return
		}
		if err != nil {
			s.apiUnavailable(c, "set app disabled", err)
			return
		}
		a, err := s.store.GetApp(ctx, c.Param("id"))
		if err != nil {
			s.apiUnavailable(c, "get app", err)
			return
		}
		s.log.InfoContext(c.Request.Context(), "app disabled changed", "client_id", a.ClientID, "disabled", disabled, "by", actor(c))
		c.JSON(http.StatusOK, appJSON(a, 0))
	}
}

func (s *Server) apiRevokeAppConnections(c *gin.Context) {
	ctx := c.Request.Context()
	if _, err := s.store.GetApp(ctx, c.Param("id")); errors.Is(err, store.ErrNotFound) {
		writeOAuth(c, apierror.New(apierror.NotFound, "no app with this client id"))
		return
	}
	n, err := s.store.RevokeAppConnections(ctx, c.Param("id"), actor(c))
	if err != nil {
		s.apiUnavailable(c, "revoke app connections", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"revoked": n})
}

func (s *Server) apiMerchants(c *gin.Context) {
	offset, limit, ok := page(c)
	if !ok {
		return
	}
	ms, err := s.store.ListMerchants(c.Request.Context())
	if err != nil {
		s.apiUnavailable(c, "list merchants", err)
		return
	}
	win := window(ms, offset, limit)
	out := make([]gin.H, len(win))
	for i, m := range win {
		out[i] = gin.H{"id": m.ID, "email": m.Email, "name": m.Name, "created_at": timeOrNil(m.CreatedAt)}
	}
	c.JSON(http.StatusOK, paged(out, len(ms), offset, len(out)))
}

func (s *Server) apiConnections(c *gin.Context) {
	offset, limit, ok := page(c)
	if !ok {
		return
	}
	conns, total, err := s.store.ListConnections(c.Request.Context(),
		store.ConnectionFilter{ClientID: c.Query("app"), MerchantID: c.Query("merchant")}, offset, limit)
	if err != nil {
		s.apiUnavailable(c, "list connections", err)
		return
	}
	out := make([]gin.H, len(conns))
	for i, cn := range conns {
		out[i] = connectionJSON(cn)
	}
	c.JSON(http.StatusOK, paged(out, total, offset, len(out)))
}

func (s *Server) apiConnection(c *gin.Context) {
	cn, err := s.store.GetConnection(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeOAuth(c, apierror.New(apierror.NotFound, "no connection with this id"))
		return
	}
	if err != nil {
		s.apiUnavailable(c, "get connection", err)
		return
	}
	c.JSON(http.StatusOK, connectionJSON(cn))
}

func (s *Server) apiRevokeConnection(c *gin.Context) {
	err := s.store.RevokeConnection(c.Request.Context(), c.Param("id"), actor(c))
	if errors.Is(err, store.ErrNotFound) {
		writeOAuth(c, apierror.New(apierror.NotFound, "no connection with this id"))
		return
	}
	if err != nil {
		s.apiUnavailable(c, "revoke connection", err)
		return
	}
	s.log.InfoContext(c.Request.Context(), "connection revoked", "connection_id", c.Param("id"), "by", actor(c))
	c.JSON(http.StatusOK, gin.H{"id": c.Param("id"), "status": store.StatusRevoked})
}

func (s *Server) apiAudit(c *gin.Context) {
	_, limit, ok := page(c)
	if !ok {
		return
	}
	events, next, err := s.store.ListAudit(c.Request.Context(), store.AuditFilter{
		ClientID: c.Query("app"), MerchantID: c.Query("merchant"), ConnectionID: c.Query("connection"),
	}, c.Query("before"), limit)
	if errors.Is(err, store.ErrInvalid) {
		writeOAuth(c, apierror.Request("before must be an event id from next_before"))
		return
	}
	if err != nil {
		s.apiUnavailable(c, "list audit", err)
		return
	}
	out := make([]gin.H, len(events))
	for i, e := range events {
		out[i] = gin.H{"id": e.ID, "time": timeOrNil(e.Time), "type": e.Type, "connection_id": e.ConnectionID,
			"client_id": e.ClientID, "merchant_id": e.MerchantID, "actor": e.Actor, "detail": e.Detail}
	}
	h := gin.H{"data": out, "next_before": nil}
	if next != "" {
		h["next_before"] = next
	}
	c.JSON(http.StatusOK, h)
}

package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
)

// revoke is RFC 7009 token revocation. Revoking an access or refresh token
// ends its whole connection (both tokens and any unused code). An unknown
// token, or another app's, still answers 200 and changes nothing, so the
// endpoint tells a caller nothing about tokens it does not own.
func (s *Server) revoke(c *gin.Context) {
	tr, oe := parseTokenRequest(c.Request, false)
	if oe != nil {
		writeOAuth(c, oe)
		return
	}
	app, oe := s.authenticateClient(c.Request.Context(), tr)
	if oe != nil {
		writeOAuth(c, oe)
		return
	}
	if tr.Token == "" {
		writeOAuth(c, apierror.Request("token is missing"))
		return
	}
	revoked, err := s.store.RevokeByToken(c.Request.Context(), tr.Token, app.ClientID)
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "revoke token", "client_id", app.ClientID, "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	s.log.InfoContext(c.Request.Context(), "revocation request", "client_id", app.ClientID, "revoked", revoked)
	apierror.NoStore(c.Writer.Header())
	c.Header("Content-Type", "application/json")
	c.Status(http.StatusOK)
}

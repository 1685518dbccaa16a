package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"enlace/server/resource"
)

// invalidToken answers a missing or dead bearer token (RFC 6750 §3).
func invalidToken(c *gin.Context, desc string) {
	c.Header("WWW-Authenticate", `Bearer realm="enlace", error="invalid_token"`)
	noStore(c)
	c.JSON(http.StatusUnauthorized, gin.H{"error": "invalid_token", "error_description": desc})
}

// info is the platform's "app information" call: the app and merchant
// behind an access token, and what it may do.
func (s *Server) info(c *gin.Context) {
	tok, ok := resource.BearerToken(c.Request)
	if !ok {
		invalidToken(c, "an Authorization: Bearer access token is required")
		return
	}
	ctx := c.Request.Context()
	ai, err := s.verifier.VerifyAccess(ctx, tok)
	if errors.Is(err, resource.ErrInactive) {
		invalidToken(c, "the access token is unknown, expired or revoked")
		return
	}
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "look up access token", "err", err)
		writeOAuthError(c, errUnavailable())
		return
	}
	app, err := s.apps(ctx, ai.ClientID)
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "load app", "err", err)
		writeOAuthError(c, errUnavailable())
		return
	}
	m, err := s.merchants.Get(ctx, ai.MerchantID)
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "load merchant", "err", err)
		writeOAuthError(c, errUnavailable())
		return
	}
	scopes := make(map[string]map[string]bool, len(ai.Scopes))
	for _, sc := range ai.Scopes {
		scopes[sc] = map[string]bool{"all": true}
	}
	noStore(c)
	c.JSON(http.StatusOK, gin.H{
		"OauthClientId": app.ClientID,
		"MerchantId":    m.ID,
		"MerchantAppId": ai.ConnectionID,
		"app":           gin.H{"_id": app.ClientID, "name": app.Name},
		"merchant":      gin.H{"_id": m.ID, "name": m.Name, "email": m.Email},
		"scopes":        scopes,
		"scope":         strings.Join(ai.Scopes, " "),
		"expiresAt":     ai.ExpiresAt.UTC().Format(tokenTime),
	})
}

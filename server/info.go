package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// invalidToken answers a missing or dead bearer token (RFC 6750 §3).
func invalidToken(c *gin.Context, desc string) {
	writeBearer(c, apierror.New(apierror.InvalidToken, desc))
}

// bearer checks the request's bearer access token and returns what it
// grants; otherwise it has answered (401, or unavailable when Redis
// cannot be asked) and returns false.
func (s *Server) bearer(c *gin.Context, unavailable func(*gin.Context)) (*store.TokenInfo, bool) {
	tok, ok := resource.BearerToken(c.Request)
	if !ok {
		invalidToken(c, "an Authorization: Bearer access token is required")
		return nil, false
	}
	ai, err := s.verifier.VerifyAccess(c.Request.Context(), tok)
	if errors.Is(err, resource.ErrInactive) {
		invalidToken(c, "the access token is unknown, expired or revoked")
		return nil, false
	}
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "look up access token", "err", err)
		unavailable(c)
		return nil, false
	}
	return ai, true
}

// info is the platform's "app information" call: the app and merchant
// behind an access token, and what it may do.
func (s *Server) info(c *gin.Context) {
	ai, ok := s.bearer(c, func(c *gin.Context) { writeOAuth(c, apierror.Unavailable()) })
	if !ok {
		return
	}
	ctx := c.Request.Context()
	app, err := s.apps(ctx, ai.ClientID)
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "load app", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	m, err := s.merchants.Get(ctx, ai.MerchantID)
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "load merchant", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	scopes := make(map[string]map[string]bool, len(ai.Scopes))
	for _, sc := range ai.Scopes {
		scopes[sc] = map[string]bool{"all": true}
	}
	apierror.NoStore(c.Writer.Header())
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

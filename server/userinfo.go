package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// userinfo is the OpenID Connect UserInfo endpoint (Core §5.3). Its rules:
//   - GET or POST; the access token as a bearer token (RFC 6750 §2), in
//     the Authorization header or, on a POST, as the form's access_token
//     (never both, never in the query);
//   - the token is checked as every token check does (one Redis round
//     trip, the app from the cache): a revoked connection's token is
//     refused at once;
//   - a token without openid is insufficient_scope (403);
//   - the claims are sub and those the token's scopes grant (profile,
//     email), as in the ID token; JSON, not signed.
func (s *Server) userinfo(c *gin.Context) {
	ctx := c.Request.Context()
	var ai *store.TokenInfo
	if c.GetHeader("Authorization") != "" && !c.Request.URL.Query().Has("access_token") && !hasFormToken(c) {
		// The header: a bearer token, or a DPoP-bound one with its proof.
		var ok bool
		if ai, ok = s.bearer(c, func(c *gin.Context) { writeBearer(c, apierror.Unavailable()) }); !ok {
			return
		}
	} else {
		tok, ok := userinfoToken(c)
		if !ok {
			return
		}
		var err error
		ai, err = s.verifier.VerifyAccess(ctx, tok)
		if err != nil {
			if errors.Is(err, resource.ErrInactive) {
				invalidToken(c, "the access token is unknown, expired or revoked")
				return
			}
			s.log.ErrorContext(ctx, "look up access token", "err", err)
			writeBearer(c, apierror.Unavailable())
			return
		}
	}
	if !slices.Contains(ai.Scopes, scopeOpenID) {
		e := apierror.New(apierror.InsufficientScope, "the access token was not granted the openid scope")
		e.Status, e.Scope = http.StatusForbidden, scopeOpenID
		resource.Challenge(e, ai)
		writeBearer(c, e)
		return
	}
	m, err := s.merchants.Get(ctx, ai.MerchantID)
	if err != nil {
		s.log.ErrorContext(ctx, "load merchant", "err", err)
		writeBearer(c, apierror.Unavailable())
		return
	}
	apierror.NoStore(c.Writer.Header())
	c.JSON(http.StatusOK, userinfoAnswer{Subject: m.ID, profileClaims: claimsFor(m, ai.Scopes)})
}

// hasFormToken reports whether a POST form carries access_token (which
// userinfoToken then refuses beside a header).
func hasFormToken(c *gin.Context) bool {
	if c.Request.Method != http.MethodPost || !strings.HasPrefix(c.ContentType(), "application/x-www-form-urlencoded") {
		return false
	}
	return c.Request.ParseForm() == nil && c.Request.PostForm.Has("access_token")
}

// userinfoAnswer is the UserInfo response (Core §5.3.2).
type userinfoAnswer struct {
	Subject string `json:"sub"`
	profileClaims
}

// userinfoToken reads the bearer token of a userinfo request; otherwise
// it has answered and returns false.
func userinfoToken(c *gin.Context) (string, bool) {
	header, hasHeader := resource.BearerToken(c.Request)
	var form string
	if c.Request.Method == http.MethodPost &&
		strings.HasPrefix(c.ContentType(), "application/x-www-form-urlencoded") {
		if err := c.Request.ParseForm(); err != nil {
			writeBearer(c, apierror.Request("the request body is not a valid form"))
			return "", false
		}
		if v := c.Request.PostForm["access_token"]; len(v) > 1 {
			writeBearer(c, apierror.Request("access_token is repeated"))
			return "", false
		}
		form = c.Request.PostForm.Get("access_token")
	}
	if c.Request.URL.Query().Has("access_token") {
		writeBearer(c, apierror.Request("an access token in the URL is not accepted (RFC 6750 §2.3): send it in the Authorization header"))
		return "", false
	}
	switch {
	case hasHeader && form != "":
		writeBearer(c, apierror.Request("send the access token once: in the Authorization header or the form, not both"))
		return "", false
	case hasHeader:
		return header, true
	case form != "":
		return form, true
	}
	invalidToken(c, "an Authorization: Bearer access token is required")
	return "", false
}

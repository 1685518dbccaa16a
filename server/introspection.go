package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// introspect is RFC 7662 token introspection. A resource server configured
// under introspection.clients may introspect any token; an app only its own
// (another app's token is simply inactive to it).
func (s *Server) introspect(c *gin.Context) {
	tr, oe := parseTokenRequest(c.Request, false)
	if oe != nil {
		writeOAuth(c, oe)
		return
	}
	ctx := c.Request.Context()
	owner, oe := s.authenticateIntrospector(ctx, tr)
	if oe != nil {
		writeOAuth(c, oe)
		return
	}
	if tr.Token == "" {
		writeOAuth(c, apierror.Request("token is missing"))
		return
	}
	apierror.NoStore(c.Writer.Header())
	info, err := s.verifier.Verify(ctx, tr.Token)
	if errors.Is(err, resource.ErrInactive) || (err == nil && owner != "" && info.ClientID != owner) {
		s.answerJSON(c, http.StatusOK, inactive{})
		return
	}
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "introspect", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	tokenType := "Bearer"
	var cnf *confirmation
	switch {
	case info.Kind == store.KindRefresh:
		tokenType = "refresh_token"
	case info.JKT != "":
		tokenType = "DPoP"
	}
	if info.JKT != "" {
		// RFC 9449 §6.2: a resource server that introspects learns which
		// key the proofs must be made with.
		cnf = &confirmation{JKT: info.JKT}
	}
	s.answerJSON(c, http.StatusOK, introspection{
		Active:        true,
		Scope:         strings.Join(info.Scopes, " "),
		ClientID:      info.ClientID,
		Sub:           info.MerchantID,
		Exp:           info.ExpiresAt.Unix(),
		Iat:           info.IssuedAt.Unix(),
		TokenType:     tokenType,
		Iss:           s.cfg.Issuer,
		ConnectionID:  info.ConnectionID,
		MerchantAppID: info.ConnectionID,
		Details:       authorizationDetails(info.Scopes, info.Resources, s.cfg.Scopes),
		Cnf:           cnf,
	})
}

// inactive is the answer for a token that is not active (RFC 7662 §2.2):
// nothing but active false.
type inactive struct {
	Active bool `json:"active"`
}

func (a inactive) appendJSON(b []byte) ([]byte, bool) {
	o := newObject(b)
	o.bool("active", a.Active)
	return o.end()
}

// confirmation is a bound token's cnf claim (RFC 7800): the JWK SHA-256
// thumbprint of its DPoP key.
type confirmation struct {
	JKT string `json:"jkt"`
}

// introspection is an active token's RFC 7662 answer (a struct: cheaper
// to encode than a map).
type introspection struct {
	Active        bool   `json:"active"`
	Scope         string `json:"scope"`
	ClientID      string `json:"client_id"`
	Sub           string `json:"sub"`
	Exp           int64  `json:"exp"`
	Iat           int64  `json:"iat"`
	TokenType     string `json:"token_type"`
	Iss           string `json:"iss"`
	ConnectionID  string `json:"connection_id"`
	MerchantAppID string `json:"MerchantAppId"`
	// Details is the resource grant (RFC 9396), when a scope is limited.
	Details []authorizationDetail `json:"authorization_details,omitempty"`
	Cnf     *confirmation         `json:"cnf,omitempty"`
}

// appendJSON writes the answer as encoding/json does (selfEncoding); a
// resource grant (authorization_details) is left to encoding/json.
func (a introspection) appendJSON(b []byte) ([]byte, bool) {
	if len(a.Details) > 0 {
		return b, false
	}
	o := newObject(b)
	o.bool("active", a.Active)
	o.str("scope", a.Scope)
	o.str("client_id", a.ClientID)
	o.str("sub", a.Sub)
	o.int("exp", a.Exp)
	o.int("iat", a.Iat)
	o.str("token_type", a.TokenType)
	o.str("iss", a.Iss)
	o.str("connection_id", a.ConnectionID)
	o.str("MerchantAppId", a.MerchantAppID)
	if a.Cnf != nil {
		cnf := o.open("cnf")
		cnf.str("jkt", a.Cnf.JKT)
		o.close(cnf)
	}
	return o.end()
}

// authenticateIntrospector returns "" for a configured resource server
// (which may see every token) or the client id of an authenticated app.
func (s *Server) authenticateIntrospector(ctx context.Context, tr *tokenRequest) (string, *apierror.Error) {
	for _, rs := range s.cfg.Introspection.Clients {
		if rs.ID == tr.ClientID && tr.ClientID != "" {
			if store.DigestEqual(tr.ClientSecret, strings.ToLower(rs.SecretSHA256)) && tr.ClientSecret != "" {
				return "", nil
			}
			e := apierror.New(apierror.InvalidClient, "client authentication failed")
			e.Basic = tr.Basic
			return "", e
		}
	}
	app, oe := s.authenticateClient(ctx, tr)
	if oe != nil {
		return "", oe
	}
	if app.Public {
		// Introspection needs real client authentication (RFC 7662 §2.1),
		// which a public app cannot give.
		e := apierror.New(apierror.InvalidClient, "public apps may not introspect tokens")
		e.Basic = tr.Basic
		return "", e
	}
	return app.ClientID, nil
}

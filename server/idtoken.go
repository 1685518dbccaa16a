package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// OpenID Connect (Core 1.0, Discovery 1.0): enlace as an OpenID Provider.
// Its rules:
//   - with openid granted, the code exchange, the password grant and a
//     refresh answer an ID token as well (id_token; idToken in the
//     Multivende dialect), signed with the app's
//     id_token_signed_response_alg (RS256 unless ES256), by the key of
//     that algorithm that signs now (server/signing);
//   - its claims: iss, sub (the merchant id), aud and azp (the client
//     id), exp, iat, auth_time (always: when the merchant logged in for
//     the connection), nonce (the authorization request's, on the code's
//     exchange only; Core §12.2 asks refreshes to leave it out), at_hash;
//     name, given_name and family_name with profile; email and
//     email_verified with email. email_verified is false: enlace does not
//     verify addresses, and says so rather than let an app trust one;
//   - without encryption.key there are no signing keys: openid is refused
//     (invalid_scope) where it is asked for, and the discovery document
//     and the JWKS are not found;
//   - the discovery document is the RFC 8414 one plus the OpenID fields,
//     served at both addresses, so the two never disagree.

// scopeOpenID, scopeProfile and scopeEmail are the OpenID Connect scopes
// of the catalogue.
const (
	scopeOpenID  = "openid"
	scopeProfile = "profile"
	scopeEmail   = "email"
)

// oidcOff is the refusal of openid on a server without signing keys.
func oidcOff() *apierror.Error {
	return apierror.New(apierror.InvalidScope, "OpenID Connect is off on this server (encryption.key is not set): the openid scope cannot be granted")
}

// idClaims are an ID token's claims (OpenID Connect Core §2, §5.1).
type idClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	// AuthorizedParty is the client id again: some libraries require it
	// whenever it could be sent.
	AuthorizedParty string `json:"azp"`
	Expiry          int64  `json:"exp"`
	IssuedAt        int64  `json:"iat"`
	AuthTime        int64  `json:"auth_time"`
	Nonce           string `json:"nonce,omitempty"`
	AtHash          string `json:"at_hash"`
	profileClaims
}

// profileClaims are the claims of the profile and email scopes, in the ID
// token and at the userinfo endpoint.
type profileClaims struct {
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
}

// claimsFor are the profile and email claims of m that scopes grant.
func claimsFor(m *store.Merchant, scopes []string) profileClaims {
	var p profileClaims
	if slices.Contains(scopes, scopeProfile) {
		p.Name = m.Name
		p.GivenName, p.FamilyName = personName(m)
	}
	if slices.Contains(scopes, scopeEmail) {
		verified := false
		p.Email, p.EmailVerified = m.Email, &verified
	}
	return p
}

// atHash is the at_hash of an access token (Core §3.1.3.6): the left half
// of its SHA-256, base64url. Both RS256 and ES256 hash with SHA-256.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// idToken returns the ID token of what a grant issued, or "" when openid
// is not among its scopes. m is the merchant when the grant has it at
// hand (a password sign-in), otherwise nil.
func (s *Server) idToken(ctx context.Context, app *store.App, iss *store.Issued, m *store.Merchant) (string, error) {
	if !slices.Contains(iss.Scopes, scopeOpenID) {
		return "", nil
	}
	if s.keys == nil {
		return "", oidcOff()
	}
	if m == nil && (slices.Contains(iss.Scopes, scopeProfile) || slices.Contains(iss.Scopes, scopeEmail)) {
		var err error
		if m, err = s.merchants.Get(ctx, iss.MerchantID); err != nil {
			return "", err
		}
	}
	c := idClaims{
		Issuer: s.cfg.Issuer, Subject: iss.MerchantID, Audience: iss.ClientID, AuthorizedParty: iss.ClientID,
		IssuedAt: iss.IssuedAt.Unix(), Expiry: iss.IssuedAt.Add(s.cfg.OIDC.IDTokenLifetime).Unix(),
		AuthTime: iss.AuthTime.Unix(), Nonce: iss.Nonce, AtHash: atHash(iss.AccessToken),
	}
	if m != nil {
		c.profileClaims = claimsFor(m, iss.Scopes)
	}
	return s.keys.Sign(ctx, app.IDTokenSigningAlg(), c)
}

// oidcMetadata are the OpenID Provider fields of the discovery document,
// which the RFC 8414 document carries too.
func (s *Server) oidcMetadata(h gin.H) {
	iss := s.cfg.Issuer
	h["userinfo_endpoint"] = iss + userinfoPath
	h["jwks_uri"] = iss + jwksPath
	h["end_session_endpoint"] = iss + endSessionPath
	h["subject_types_supported"] = []string{"public"}
	h["id_token_signing_alg_values_supported"] = store.IDTokenAlgs()
	h["claims_supported"] = []string{"iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash",
		"name", "given_name", "family_name", "email", "email_verified"}
	h["prompt_values_supported"] = []string{"none", "login", "consent", "select_account"}
	h["claims_parameter_supported"] = false
	// Discovery's defaults for these two are true: say that enlace takes
	// no request objects.
	h["request_parameter_supported"] = false
	h["request_uri_parameter_supported"] = false
}

// Where the OpenID Provider's endpoints are.
const (
	discoveryPath  = "/.well-known/openid-configuration"
	jwksPath       = "/.well-known/jwks.json"
	userinfoPath   = "/oauth/userinfo"
	endSessionPath = "/oauth/logout"
)

// discovery is the OpenID Provider configuration (Discovery 1.0 §4).
func (s *Server) discovery(c *gin.Context) {
	if s.keys == nil {
		oidcNotFound(c)
		return
	}
	s.metadata(c)
}

// jwks is the JWK Set of the published signing keys. It may be cached for
// signing.Keys.MaxAge: a new key is published twice as long before it
// signs.
func (s *Server) jwks(c *gin.Context) {
	if s.keys == nil {
		oidcNotFound(c)
		return
	}
	set, err := s.keys.JWKS(c.Request.Context())
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "read signing keys", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	if len(set.Keys) == 0 {
		// Not one to keep: the first keys sign as soon as they exist.
		c.Header("Cache-Control", "no-store")
	} else {
		c.Header("Cache-Control", "public, max-age="+strconv.FormatInt(int64(s.keys.MaxAge()/time.Second), 10))
	}
	c.JSON(http.StatusOK, set)
}

// idTokenFailure maps a failure to sign to the token endpoint's answer.
func (s *Server) idTokenFailure(ctx context.Context, err error) *apierror.Error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae
	}
	s.log.ErrorContext(ctx, "sign ID token", "err", err)
	return apierror.Unavailable()
}

// oidcNotFound answers discovery and the JWKS on a server without signing
// keys.
func oidcNotFound(c *gin.Context) {
	writeOAuth(c, &apierror.Error{Code: apierror.InvalidRequest, Status: http.StatusNotFound,
		Description: "OpenID Connect is off on this server (encryption.key is not set)"})
}

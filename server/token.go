package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-oauth2/oauth2/v4"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// dialect is the wire shape of a token endpoint.
type dialect int

const (
	// rfc6749 is POST /oauth/token: form bodies, the standard response.
	rfc6749 dialect = iota
	// multivende is POST /oauth/access-token: JSON or form bodies, the
	// platform's flat response with camelCase dates.
	multivende
	// firstParty is POST /auth/v1/token: rfc6749 plus the password grant
	// for the platform's own apps (Multinexo style).
	firstParty
)

// tokenEndpoint serves every dialect over one implementation: parse
// (token_request.go), authenticate the client, run the grant's flow
// (flow_code.go, flow_refresh.go, flow_password.go), render.
func (s *Server) tokenEndpoint(d dialect) gin.HandlerFunc {
	return func(c *gin.Context) {
		res, oe := s.grant(c, d)
		if oe != nil {
			writeOAuth(c, oe)
			return
		}
		apierror.NoStore(c.Writer.Header())
		s.offerNonce(c)
		switch {
		case res.signedIn != nil:
			t := signInResponse(res.Issued, res.signedIn)
			t.IDToken = res.idToken
			s.answerJSON(c, http.StatusOK, t)
		case d == multivende:
			t := multivendeResponse(res.Issued)
			t.IDToken = res.idToken
			s.answerJSON(c, http.StatusOK, t)
		default:
			t := rfcResponse(res.Issued, s.cfg.Scopes)
			t.IDToken = res.idToken
			s.answerJSON(c, http.StatusOK, t)
		}
	}
}

// grantResult is what a grant issued; signedIn is the merchant of a
// password-grant sign-in, idToken the ID token when openid is granted.
type grantResult struct {
	*store.Issued
	signedIn *store.Merchant
	idToken  string
}

func (s *Server) grant(c *gin.Context, d dialect) (*grantResult, *apierror.Error) {
	r := c.Request
	tr, oe := parseTokenRequest(r, d == multivende)
	if oe != nil {
		return nil, oe
	}
	switch oauth2.GrantType(tr.GrantType) {
	case oauth2.AuthorizationCode, oauth2.Refreshing:
	case oauth2.PasswordCredentials:
		if d != firstParty {
			return nil, apierror.New(apierror.UnsupportedGrantType,
				"the password grant is served only at /auth/v1/token, to the platform's own apps")
		}
	case "":
		return nil, apierror.Request("grant_type is missing")
	default:
		msg := "grant_type must be authorization_code or refresh_token"
		if d == firstParty {
			msg = "grant_type must be authorization_code, refresh_token or password"
		}
		return nil, apierror.New(apierror.UnsupportedGrantType, msg)
	}
	ctx := r.Context()
	// The proof first, which stores nothing; the client next; then the
	// proof's and the assertion's one use, so that a refusal (a nonce
	// asked for) spends neither.
	proof, oe := s.checkProof(c)
	if oe != nil {
		return nil, oe
	}
	app, oe := s.authenticate(ctx, tr)
	if oe != nil {
		return nil, oe
	}
	jkt, oe := s.bindProof(ctx, app, proof)
	if oe == nil {
		oe = s.claimClient(ctx, tr)
	}
	if oe != nil {
		return nil, oe
	}
	// An app that may be granted openid gets its ID tokens signed after
	// the grant's script: a key must be there before anything is issued,
	// or a client would hold a spent code and no answer.
	if s.keys != nil && app.AllowsScope(scopeOpenID) {
		if err := s.keys.Ready(ctx, app.IDTokenSigningAlg()); err != nil {
			return nil, s.idTokenFailure(ctx, err)
		}
	}
	res := &grantResult{}
	var err error
	switch oauth2.GrantType(tr.GrantType) {
	case oauth2.AuthorizationCode:
		res.Issued, err = s.exchangeCode(ctx, app, tr, jkt)
	case oauth2.Refreshing:
		res.Issued, err = s.refresh(ctx, app, tr, jkt)
	case oauth2.PasswordCredentials:
		res.Issued, res.signedIn, err = s.passwordGrant(ctx, c.ClientIP(), app, tr, jkt)
	}
	if err != nil {
		return nil, s.grantError(ctx, tr.GrantType, app.ClientID, err)
	}
	if res.idToken, err = s.idToken(ctx, app, res.Issued, res.signedIn); err != nil {
		return nil, s.idTokenFailure(ctx, err)
	}
	// On the request's own log line: which grant, app, connection and
	// token record this answer was.
	annotate(ctx, slog.String("grant_type", tr.GrantType), slog.String("client_id", app.ClientID),
		slog.String("connection_id", res.ConnectionID), slog.String("token_id", res.TokenID))
	return res, nil
}

// authenticateClient authenticates the client (authenticate) and claims
// its client assertion's one use at once.
func (s *Server) authenticateClient(ctx context.Context, tr *tokenRequest) (*store.App, *apierror.Error) {
	app, oe := s.authenticate(ctx, tr)
	if oe == nil {
		oe = s.claimClient(ctx, tr)
	}
	if oe != nil {
		return nil, oe
	}
	return app, nil
}

// authenticate checks the client's id and secret (constant-time, against
// the stored digest), or its client assertion (clientauth.go), whose one
// use the caller claims with claimClient once the rest of the request
// has passed: a request refused for its DPoP nonce can be sent again with
// the same assertion. Every failure is invalid_client, with no hint which
// part was wrong.
func (s *Server) authenticate(ctx context.Context, tr *tokenRequest) (*store.App, *apierror.Error) {
	fail := func(desc string) *apierror.Error {
		e := apierror.New(apierror.InvalidClient, desc)
		e.Basic = tr.Basic
		return e
	}
	if tr.Assertion != "" || tr.AssertionType != "" {
		return s.authenticateAssertion(ctx, tr, fail)
	}
	if tr.ClientID == "" {
		return nil, fail("client authentication is required (client_id and client_secret, HTTP Basic, or a client assertion)")
	}
	app, err := s.apps(ctx, tr.ClientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.ErrorContext(ctx, "load app", "err", err)
		return nil, apierror.Unavailable()
	}
	if app != nil && app.Public {
		// A public app has no secret to prove (token_endpoint_auth_method
		// "none"); PKCE binds its codes instead. Sending one is a mistake.
		if tr.ClientSecret != "" {
			return nil, fail("this app is public and has no client secret")
		}
	} else if app != nil && app.UsesPrivateKeyJWT() {
		// Its secret, if it ever had one, does not authenticate it.
		return nil, fail("this app authenticates with private_key_jwt: send client_assertion and client_assertion_type")
	} else {
		// Compare even for an unknown client, so timing does not tell them
		// apart. During a rotation's overlap the previous secret works too.
		check := app
		if check == nil {
			check = &store.App{}
		}
		match := check.SecretMatches(tr.ClientSecret, s.store.Now())
		if app == nil || !match {
			return nil, fail("client authentication failed")
		}
	}
	if app.Disabled {
		return nil, fail("the app is disabled")
	}
	return app, nil
}

// tokenTime is the Multivende dialect's date format: ISO-8601, UTC, ms.
const tokenTime = "2006-01-02T15:04:05.000Z"

// multivendeToken is the Multivende dialect's success body; field order
// follows the platform's.
type multivendeToken struct {
	ID                    string      `json:"_id"`
	Status                string      `json:"status"`
	Token                 string      `json:"token"`
	ExpiresAt             string      `json:"expiresAt"`
	RefreshToken          string      `json:"refreshToken"`
	RefreshTokenExpiresAt string      `json:"refreshTokenExpiresAt"`
	Scopes                scopeGrants `json:"scopes"`
	MerchantID            string      `json:"MerchantId"`
	// CreatedByID is the merchant who approved the connection and OwnerID
	// the account that owns the store ("Scopes en profundidad"): one and
	// the same while an account has one user.
	CreatedByID   string `json:"CreatedById"`
	OwnerID       string `json:"OwnerId"`
	OauthClientID string `json:"OauthClientId"`
	MerchantAppID string `json:"MerchantAppId"`
	CreatedAt     string `json:"createdAt"`
	UpdatedAt     string `json:"updatedAt"`
	// IDToken is the OpenID Connect ID token, when openid is granted.
	IDToken string `json:"idToken,omitempty"`
	// TokenType is "DPoP" for a DPoP-bound token (RFC 9449 §5); the
	// dialect's tokens are otherwise bearer tokens and say nothing.
	TokenType string `json:"tokenType,omitempty"`
}

func multivendeResponse(iss *store.Issued) multivendeToken {
	scopes := grantedScopes(iss.Scopes, iss.Resources)
	at := iss.IssuedAt.UTC().Format(tokenTime)
	t := multivendeToken{
		ID:                    iss.TokenID,
		Status:                "created",
		Token:                 iss.AccessToken,
		ExpiresAt:             iss.AccessExpiresAt.UTC().Format(tokenTime),
		RefreshToken:          iss.RefreshToken,
		RefreshTokenExpiresAt: iss.RefreshExpiresAt.UTC().Format(tokenTime),
		Scopes:                scopes,
		MerchantID:            iss.MerchantID,
		CreatedByID:           iss.MerchantID,
		OwnerID:               iss.MerchantID,
		OauthClientID:         iss.ClientID,
		MerchantAppID:         iss.ConnectionID,
		CreatedAt:             at,
		UpdatedAt:             at,
	}
	if iss.JKT != "" {
		t.TokenType = tokenType(iss)
	}
	return t
}

// tokenType is the token_type of an answer: DPoP for a token bound to a
// key, Bearer otherwise.
func tokenType(iss *store.Issued) string {
	if iss.JKT != "" {
		return "DPoP"
	}
	return "Bearer"
}

// rfcToken is the RFC 6749 §5.1 success body; connection_id and
// merchant_id are extension fields.
type rfcToken struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	ConnectionID string `json:"connection_id"`
	MerchantID   string `json:"merchant_id"`
	// Details is the resource grant in RFC 9396's form, when a scope is
	// limited to some resources (the scope list stays the names).
	Details []authorizationDetail `json:"authorization_details,omitempty"`
	// IDToken is the OpenID Connect ID token, when openid is granted.
	IDToken string `json:"id_token,omitempty"`
}

func rfcResponse(iss *store.Issued, cat store.Catalogue) rfcToken {
	return rfcToken{
		AccessToken:  iss.AccessToken,
		TokenType:    tokenType(iss),
		ExpiresIn:    int64(iss.AccessExpiresAt.Sub(iss.IssuedAt) / time.Second),
		RefreshToken: iss.RefreshToken,
		Scope:        strings.Join(iss.Scopes, " "),
		ConnectionID: iss.ConnectionID,
		MerchantID:   iss.MerchantID,
		Details:      authorizationDetails(iss.Scopes, iss.Resources, cat),
	}
}

// signInToken is the password grant's answer, as the Multinexo API gives
// it: the RFC 6749 fields and who signed in.
type signInToken struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	UID          string `json:"uid"`
	IDToken      string `json:"id_token,omitempty"`
}

func signInResponse(iss *store.Issued, m *store.Merchant) signInToken {
	first, last := personName(m)
	return signInToken{
		AccessToken:  iss.AccessToken,
		ExpiresIn:    int64(iss.AccessExpiresAt.Sub(iss.IssuedAt) / time.Second),
		TokenType:    tokenType(iss),
		RefreshToken: iss.RefreshToken,
		Scope:        strings.Join(iss.Scopes, " "),
		FirstName:    first,
		LastName:     last,
		UID:          m.ID,
	}
}

// personName is the merchant's first and last name; a merchant created by
// an admin has only a name, which then stands as the first name.
func personName(m *store.Merchant) (first, last string) {
	if m.FirstName == "" && m.LastName == "" {
		return m.Name, ""
	}
	return m.FirstName, m.LastName
}

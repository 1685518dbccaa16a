package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CodeExchange is an authorization-code grant at the token endpoint, after
// the client has been authenticated.
type CodeExchange struct {
	Code     string
	ClientID string
	// RedirectURI is the redirect_uri sent at the token endpoint, or "".
	RedirectURI string
	// CodeVerifier is the PKCE verifier, or "".
	CodeVerifier string
	// AppGeneration is the app's Generation as the caller read it: a code
	// of a connection approved under an older one is refused.
	AppGeneration int64
	// AppRedirectURIs are the app's registered redirect URIs now: a code
	// issued for one the app has since removed is refused. Nil skips the
	// check.
	AppRedirectURIs []string
	// JKT is the thumbprint of the DPoP key the tokens are bound to (RFC
	// 9449), "" for bearer tokens; BindRefresh binds the refresh token too
	// (a public app's, which has no other proof of who it is).
	JKT         string
	BindRefresh bool
}

// ExchangeArgs are the arguments of lua/exchange.lua.
type ExchangeArgs struct {
	Code        string `json:"code"`
	ClientID    string `json:"client_id"`
	RedirectURI string `json:"redirect_uri"`
	Challenge   string `json:"challenge"`
	Now         Millis `json:"now"`
	Access      string `json:"access"`
	Refresh     string `json:"refresh"`
	AccessExp   Millis `json:"access_exp"`
	RefreshExp  Millis `json:"refresh_exp"`
	TokenID     string `json:"token_id"`
	// ReuseBy is who revokes the connection on a replay; Exchange sets it
	// (ActorCodeReuse).
	ReuseBy Actor `json:"reuse_by"`
	Gen     int64 `json:"gen"`
	// JKT is the DPoP key's thumbprint the access token is bound to, ""
	// for a bearer token; BindRefresh binds the refresh token to it too.
	JKT         string `json:"jkt"`
	BindRefresh bool   `json:"bind_refresh"`
	// RedirectURIs are the app's registered redirect URIs (nil: no check).
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// Actor is the client, for the audit event.
	Actor Actor `json:"actor"`
	// AuditMax is set by Transitions.
	AuditMax int64 `json:"audit_max"`
}

// ExchangeResult is the answer of lua/exchange.lua.
type ExchangeResult struct {
	verdict
	MerchantID string `json:"merchant_id"`
	Scopes     string `json:"scopes"`
	CreatedAt  Millis `json:"created_at"`
	Resources  string `json:"resources"`
	Nonce      string `json:"nonce"`
	// AuthTime is "" when the approval recorded none.
	AuthTime string `json:"auth_time"`
}

var exchangeScript = newScript[ExchangeArgs, ExchangeResult]("exchange", true)

// Exchange consumes the code of connection connID and records the new
// pair's digests.
func (t Transitions) Exchange(ctx context.Context, connID string, a ExchangeArgs) (*ExchangeResult, error) {
	a.ReuseBy, a.AuditMax = ActorCodeReuse, t.auditMax
	return exchangeScript.run(ctx, t.rdb, connKeys(connID), a)
}

// ExchangeCode consumes a code and issues its connection's first token pair,
// atomically: of any number of concurrent exchanges of one code, exactly one
// succeeds. A refusal is a *Refusal and changes nothing, except that a
// replay of an already used code revokes the connection it created.
func (s *Store) ExchangeCode(ctx context.Context, x CodeExchange) (*Issued, error) {
	connID, ok := ParseCredential(KindCode, x.Code)
	if !ok {
		return nil, &Refusal{Code: RefusedGrant, Description: "the authorization code is unknown or expired"}
	}
	challenge := ""
	if x.CodeVerifier != "" {
		challenge = S256(x.CodeVerifier)
	}
	iss := s.newIssued(connID, x.ClientID)
	res, err := s.Transitions().Exchange(ctx, connID, ExchangeArgs{
		Code: Digest(x.Code), ClientID: x.ClientID, RedirectURI: x.RedirectURI, Challenge: challenge,
		Now: MillisOf(iss.IssuedAt), Access: Digest(iss.AccessToken), Refresh: Digest(iss.RefreshToken),
		AccessExp: MillisOf(iss.AccessExpiresAt), RefreshExp: MillisOf(iss.RefreshExpiresAt), TokenID: iss.TokenID,
		Gen: x.AppGeneration, Actor: ActorClient(x.ClientID), RedirectURIs: x.AppRedirectURIs,
		JKT: x.JKT, BindRefresh: x.BindRefresh && x.JKT != "",
	})
	if err != nil {
		return nil, fmt.Errorf("exchange code: %w", err)
	}
	if res.Outcome == OutcomeReuse {
		s.observe(Event{Type: EventReuse, ConnectionID: connID, ClientID: x.ClientID, MerchantID: res.MerchantID,
			Actor: ActorClient(x.ClientID)})
	}
	if err := res.check("exchange", OutcomeOK); err != nil {
		return nil, err
	}
	iss.MerchantID, iss.Scopes, iss.ConnectionCreatedAt = res.MerchantID, strings.Fields(res.Scopes), fromMS(int64(res.CreatedAt))
	g, err := decodeResourceGrant(res.Resources)
	if err != nil {
		return nil, err
	}
	iss.Resources = g.For(iss.Scopes)
	iss.Nonce, iss.AuthTime = res.Nonce, authTime(res.AuthTime, iss.ConnectionCreatedAt)
	iss.JKT = x.JKT
	s.observe(Event{Type: EventExchange, ConnectionID: connID, ClientID: x.ClientID, MerchantID: iss.MerchantID,
		Actor: ActorClient(x.ClientID)})
	return iss, nil
}

// authTime is a connection's auth_time field, or created (the approval, or
// the password sign-in that was its login) when it has none.
func authTime(field string, created time.Time) time.Time {
	if v, _ := strconv.ParseInt(field, 10, 64); v > 0 {
		return fromMS(v)
	}
	return created
}

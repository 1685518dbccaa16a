package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SignInGrant is a first-party sign-in (the password grant), after the app
// and the merchant's credentials have been checked.
type SignInGrant struct {
	ClientID   string
	MerchantID string
	Scopes     []string
	// AccessLifetime is the lifetime of this connection's access tokens,
	// the first and every refreshed one; 0 means the store's default.
	AccessLifetime time.Duration
	// AppGeneration is the app's Generation as the caller read it (Grant).
	AppGeneration int64
	// JKT is the thumbprint of the DPoP key the access token is bound to,
	// "" for a bearer token.
	JKT string
}

// SignInArgs are the arguments of lua/signin.lua.
type SignInArgs struct {
	ID         string `json:"id"`
	MerchantID string `json:"merchant_id"`
	ClientID   string `json:"client_id"`
	Scopes     string `json:"scopes"`
	Now        Millis `json:"now"`
	TokenID    string `json:"token_id"`
	Access     string `json:"access"`
	AccessExp  Millis `json:"access_exp"`
	JKT        string `json:"jkt"`
	Refresh    string `json:"refresh"`
	RefreshExp Millis `json:"refresh_exp"`
	AccessTTL  Millis `json:"access_ttl"`
	Gen        int64  `json:"gen"`
	Actor      Actor  `json:"actor"`
	// AuditMax is set by Transitions.
	AuditMax int64 `json:"audit_max"`
}

// SignInResult is the answer of lua/signin.lua.
type SignInResult struct{ verdict }

var signInScript = newScript[SignInArgs, SignInResult]("signin", true)

// SignIn records a new connection, active, with its first pair's digests,
// its index entries and its sign-in event.
func (t Transitions) SignIn(ctx context.Context, a SignInArgs) (*SignInResult, error) {
	a.AuditMax = t.auditMax
	return signInScript.run(ctx, t.rdb, connKeys(a.ID), a)
}

// SignIn records a new connection for a first-party sign-in and issues its
// first token pair at once: there is no code to consume. From then on the
// connection is like any other: listed, revocable, refreshed with the same
// one-use rotation.
func (s *Store) SignIn(ctx context.Context, g SignInGrant) (*Issued, error) {
	if g.ClientID == "" || g.MerchantID == "" || len(g.Scopes) == 0 {
		return nil, fmt.Errorf("%w: a sign-in needs an app, a merchant and scopes", ErrInvalid)
	}
	iss := s.newIssued(NewID(), g.ClientID)
	if g.AccessLifetime > 0 {
		iss.AccessExpiresAt = iss.IssuedAt.Add(g.AccessLifetime)
	}
	iss.MerchantID, iss.Scopes, iss.ConnectionCreatedAt = g.MerchantID, uniq(g.Scopes), iss.IssuedAt
	iss.JKT = g.JKT
	iss.AuthTime = iss.IssuedAt
	scopes := strings.Join(iss.Scopes, " ")
	res, err := s.Transitions().SignIn(ctx, SignInArgs{
		ID: iss.ConnectionID, MerchantID: g.MerchantID, ClientID: g.ClientID, Scopes: scopes,
		Now: MillisOf(iss.IssuedAt), TokenID: iss.TokenID,
		Access: Digest(iss.AccessToken), AccessExp: MillisOf(iss.AccessExpiresAt),
		Refresh: Digest(iss.RefreshToken), RefreshExp: MillisOf(iss.RefreshExpiresAt),
		AccessTTL: Millis(max(0, g.AccessLifetime.Milliseconds())), Gen: g.AppGeneration, Actor: ActorMerchant(g.MerchantID),
		JKT: g.JKT,
	})
	if err == nil {
		err = res.check("signin", OutcomeOK)
	}
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	s.observe(Event{Type: EventSignIn, ConnectionID: iss.ConnectionID, ClientID: g.ClientID, MerchantID: g.MerchantID,
		Actor: ActorMerchant(g.MerchantID), Detail: scopes})
	return iss, nil
}

package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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
	Refresh    string `json:"refresh"`
	RefreshExp Millis `json:"refresh_exp"`
	AccessTTL  Millis `json:"access_ttl"`
}

// SignInResult is the answer of lua/signin.lua.
type SignInResult struct{ verdict }

var signInScript = newScript[SignInArgs, SignInResult]("signin")

// SignIn records a new connection, active, with its first pair's digests,
// and its index entries before it in the same round trip (keys.go).
func (t Transitions) SignIn(ctx context.Context, a SignInArgs) (*SignInResult, error) {
	return signInScript.runAfter(ctx, t.rdb, connKeys(a.ID)[:1], a, func(p redis.Pipeliner) {
		indexConnection(ctx, p, a.ID, a.MerchantID, a.ClientID, int64(a.Now))
	})
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
	scopes := strings.Join(iss.Scopes, " ")
	res, err := s.Transitions().SignIn(ctx, SignInArgs{
		ID: iss.ConnectionID, MerchantID: g.MerchantID, ClientID: g.ClientID, Scopes: scopes,
		Now: MillisOf(iss.IssuedAt), TokenID: iss.TokenID,
		Access: Digest(iss.AccessToken), AccessExp: MillisOf(iss.AccessExpiresAt),
		Refresh: Digest(iss.RefreshToken), RefreshExp: MillisOf(iss.RefreshExpiresAt),
		AccessTTL: Millis(max(0, g.AccessLifetime.Milliseconds())),
	})
	if err == nil {
		err = res.check("signin", OutcomeOK)
	}
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	s.audit(ctx, Event{Type: EventSignIn, ConnectionID: iss.ConnectionID, ClientID: g.ClientID, MerchantID: g.MerchantID,
		Actor: ActorMerchant(g.MerchantID), Detail: scopes})
	return iss, nil
}

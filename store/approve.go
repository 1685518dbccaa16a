package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Grant is a merchant's approval, as the consent page produces it.
type Grant struct {
	ClientID    string
	MerchantID  string
	RedirectURI string
	Scopes      []string
	// CodeChallenge is the S256 PKCE challenge, empty when the app sent none.
	CodeChallenge string
}

// ApproveArgs are the arguments of lua/approve.lua.
type ApproveArgs struct {
	ID          string `json:"id"`
	MerchantID  string `json:"merchant_id"`
	ClientID    string `json:"client_id"`
	Scopes      string `json:"scopes"`
	Now         Millis `json:"now"`
	Code        string `json:"code"`
	CodeExp     Millis `json:"code_exp"`
	RedirectURI string `json:"redirect_uri"`
	Challenge   string `json:"challenge"`
}

// ApproveResult is the answer of lua/approve.lua.
type ApproveResult struct{ verdict }

var approveScript = newScript[ApproveArgs, ApproveResult]("approve")

// Approve records a new connection, pending, with its code digest, and its
// index entries before it in the same round trip (keys.go).
func (t Transitions) Approve(ctx context.Context, a ApproveArgs) (*ApproveResult, error) {
	return approveScript.runAfter(ctx, t.rdb, connKeys(a.ID)[:1], a, func(p redis.Pipeliner) {
		indexConnection(ctx, p, a.ID, a.MerchantID, a.ClientID, int64(a.Now))
	})
}

// indexConnection adds a new connection to the lists of its merchant, its
// app and all connections.
func indexConnection(ctx context.Context, p redis.Pipeliner, id, merchantID, clientID string, at int64) {
	z := redis.Z{Score: float64(at), Member: id}
	p.ZAdd(ctx, merchantConnsKey(merchantID), z)
	p.ZAdd(ctx, appConnsKey(clientID), z)
	p.ZAdd(ctx, connsIndexKey, z)
}

// Approve records a new connection for the grant (never reusing an older
// one) and returns it with its one-use authorization code. A failure
// leaves nothing that works: the code is never handed out.
func (s *Store) Approve(ctx context.Context, g Grant) (*Connection, string, error) {
	if g.ClientID == "" || g.MerchantID == "" || g.RedirectURI == "" || len(g.Scopes) == 0 {
		return nil, "", fmt.Errorf("%w: a grant needs an app, a merchant, a redirect URI and scopes", ErrInvalid)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	conn := &Connection{
		ID:         NewID(),
		MerchantID: g.MerchantID,
		ClientID:   g.ClientID,
		Scopes:     uniq(g.Scopes),
		Status:     StatusPending,
		CreatedAt:  now,
	}
	code := NewCredential(KindCode, conn.ID)
	scopes := strings.Join(conn.Scopes, " ")
	res, err := s.Transitions().Approve(ctx, ApproveArgs{
		ID: conn.ID, MerchantID: conn.MerchantID, ClientID: conn.ClientID, Scopes: scopes,
		Now: MillisOf(now), Code: Digest(code), CodeExp: MillisOf(now.Add(s.lifetimes.Code)),
		RedirectURI: g.RedirectURI, Challenge: g.CodeChallenge,
	})
	if err == nil {
		err = res.check("approve", OutcomeOK)
	}
	if err != nil {
		return nil, "", fmt.Errorf("approve: %w", err)
	}
	s.audit(ctx, Event{Type: EventGrant, ConnectionID: conn.ID, ClientID: conn.ClientID, MerchantID: conn.MerchantID,
		Actor: ActorMerchant(conn.MerchantID), Detail: scopes})
	return conn, code, nil
}

package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ConnectionStatus is where a connection is in its life.
type ConnectionStatus string

// Connection statuses.
const (
	StatusPending ConnectionStatus = "pending" // approved, code not yet exchanged
	StatusActive  ConnectionStatus = "active"
	StatusRevoked ConnectionStatus = "revoked"
)

// Connection is one approval by one merchant of one app.
type Connection struct {
	ID         string
	MerchantID string
	ClientID   string
	Scopes     []string
	Status     ConnectionStatus
	CreatedAt  time.Time
	// LastUsed is when tokens were last issued for it (exchange or refresh).
	LastUsed  time.Time
	RevokedAt time.Time
	RevokedBy Actor
	// AppGeneration is the app's generation it was approved under (App).
	AppGeneration int64
	// Resources is which resources its scopes reach (ResourceGrant).
	Resources ResourceGrant
}

// Issued is a freshly issued token pair and what it is bound to.
type Issued struct {
	TokenID          string
	ConnectionID     string
	MerchantID       string
	ClientID         string
	Scopes           []string
	AccessToken      string
	RefreshToken     string
	AccessExpiresAt  time.Time
	RefreshExpiresAt time.Time
	IssuedAt         time.Time
	// ConnectionCreatedAt is when the merchant approved the connection.
	ConnectionCreatedAt time.Time
	// Resources is which resources the pair's scopes reach.
	Resources ResourceGrant
	// Nonce is the authorization request's OpenID Connect nonce, on the
	// code's exchange only ("" otherwise): the ID token carries it.
	Nonce string
	// AuthTime is when the merchant logged in for the connection.
	AuthTime time.Time
	// JKT is the thumbprint of the DPoP key the access token is bound to
	// (RFC 9449), "" for a bearer token.
	JKT string
}

func (s *Store) newIssued(connID, clientID string) *Issued {
	now := s.now().UTC().Truncate(time.Millisecond)
	return &Issued{
		TokenID:          NewID(),
		ConnectionID:     connID,
		ClientID:         clientID,
		AccessToken:      NewCredential(KindAccess, connID),
		RefreshToken:     NewCredential(KindRefresh, connID),
		AccessExpiresAt:  now.Add(s.lifetimes.Access),
		RefreshExpiresAt: now.Add(s.lifetimes.Refresh),
		IssuedAt:         now,
	}
}

// TokenInfo is what a live access or refresh token grants.
type TokenInfo struct {
	Kind         Kind // KindAccess or KindRefresh
	TokenID      string
	ConnectionID string
	ClientID     string
	MerchantID   string
	Scopes       []string
	IssuedAt     time.Time
	ExpiresAt    time.Time
	// AppGeneration is the app's generation the connection was approved
	// under: the token is dead when the app's is higher (App.Revoked).
	AppGeneration int64
	// Resources is which resources the token's scopes reach.
	Resources ResourceGrant
	// JKT is the thumbprint of the DPoP key the token is bound to (RFC
	// 9449 cnf.jkt), "" for a bearer token: a bound token is good only
	// with a proof of that key.
	JKT string
}

// LookupAccess returns what a live access token grants, or ErrNotFound when
// the token is unknown, malformed, replaced, expired or revoked. One round
// trip; the digest is compared in constant time.
func (s *Store) LookupAccess(ctx context.Context, token string) (*TokenInfo, error) {
	return s.lookup(ctx, KindAccess, token)
}

// LookupToken is LookupAccess for either an access or a refresh token.
func (s *Store) LookupToken(ctx context.Context, token string) (*TokenInfo, error) {
	if strings.HasPrefix(token, string(KindRefresh)) {
		return s.lookup(ctx, KindRefresh, token)
	}
	return s.lookup(ctx, KindAccess, token)
}

func (s *Store) lookup(ctx context.Context, kind Kind, token string) (*TokenInfo, error) {
	connID, ok := ParseCredential(kind, token)
	if !ok {
		return nil, ErrNotFound
	}
	v, err := s.rdb.HMGet(ctx, connKey(connID), lookupFields(kind)...).Result()
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	return s.tokenInfo(kind, token, connID, v)
}

// Fields of a token's lookup, by kind.
var (
	accessLookup  = []string{"at", "at_exp", "status", "client_id", "merchant_id", "at_scopes", "tid", "issued_at", "gen", "resources", "at_jkt"}
	refreshLookup = []string{"rt", "rt_exp", "status", "client_id", "merchant_id", "scopes", "tid", "issued_at", "gen", "resources", "rt_jkt"}
)

func lookupFields(kind Kind) []string {
	if kind == KindRefresh {
		return refreshLookup
	}
	return accessLookup
}

// tokenInfo reads a token's lookup fields (lookupFields, in order).
func (s *Store) tokenInfo(kind Kind, token, connID string, v []any) (*TokenInfo, error) {
	f := make([]string, len(v))
	for i, x := range v {
		f[i], _ = x.(string)
	}
	exp, _ := strconv.ParseInt(f[1], 10, 64)
	if f[0] == "" || !DigestEqual(token, f[0]) || ConnectionStatus(f[2]) != StatusActive || exp <= ms(s.now()) {
		return nil, ErrNotFound
	}
	issued, _ := strconv.ParseInt(f[7], 10, 64)
	gen, _ := strconv.ParseInt(f[8], 10, 64)
	grant, err := decodeResourceGrant(f[9])
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	scopes := strings.Fields(f[5])
	return &TokenInfo{
		Resources:     grant.For(scopes),
		AppGeneration: gen,
		Kind:          kind,
		TokenID:       f[6],
		ConnectionID:  connID,
		ClientID:      f[3],
		MerchantID:    f[4],
		Scopes:        scopes,
		IssuedAt:      fromMS(issued),
		ExpiresAt:     fromMS(exp),
		JKT:           f[10],
	}, nil
}

// GetConnection returns a connection by id (revoked ones included, until
// their record expires), or ErrNotFound.
func (s *Store) GetConnection(ctx context.Context, id string) (*Connection, error) {
	conns, err := s.getConnections(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if conns[0] == nil {
		return nil, ErrNotFound
	}
	return conns[0], nil
}

// getConnections reads connections in one pipeline; a missing one is nil.
func (s *Store) getConnections(ctx context.Context, ids []string) ([]*Connection, error) {
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, connKey(id), connFields...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get connections: %w", err)
	}
	out := make([]*Connection, len(ids))
	for i, cmd := range cmds {
		f := make([]string, len(connFields))
		for j, x := range cmd.Val() {
			f[j], _ = x.(string)
		}
		if f[0] == "" {
			continue
		}
		num := func(k int) time.Time { v, _ := strconv.ParseInt(f[k], 10, 64); return fromMS(v) }
		gen, _ := strconv.ParseInt(f[9], 10, 64)
		grant, err := decodeResourceGrant(f[10])
		if err != nil {
			return nil, err
		}
		out[i] = &Connection{
			ID: f[0], MerchantID: f[1], ClientID: f[2], Scopes: strings.Fields(f[3]), Status: ConnectionStatus(f[4]),
			CreatedAt: num(5), LastUsed: num(6), RevokedAt: num(7), RevokedBy: Actor(f[8]), AppGeneration: gen,
			Resources: grant,
		}
	}
	return out, nil
}

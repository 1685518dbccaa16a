package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Connection statuses.
const (
	StatusPending = "pending" // approved, code not yet exchanged
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// Connection is one approval by one merchant of one app.
type Connection struct {
	ID         string
	MerchantID string
	ClientID   string
	Scopes     []string
	Status     string
	CreatedAt  time.Time
	LastUsed   time.Time
}

// Grant is a merchant's approval, as the consent page produces it.
type Grant struct {
	ClientID    string
	MerchantID  string
	RedirectURI string
	Scopes      []string
	// CodeChallenge is the S256 PKCE challenge, empty when the app sent none.
	CodeChallenge string
}

// Approve records a new connection for the grant (never reusing an older one)
// and returns it with its one-use authorization code.
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
	key := connKey(conn.ID)
	// The connection hash is written first: an index entry never points at
	// nothing for long, and readers of the indexes skip missing records.
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key,
			"id", conn.ID,
			"merchant_id", conn.MerchantID,
			"client_id", conn.ClientID,
			"scopes", strings.Join(conn.Scopes, " "),
			"created_at", ms(now),
			"status", StatusPending,
			"code", Digest(code),
			"code_exp", ms(now.Add(s.lifetimes.Code)),
			"code_used", "0",
			"redirect_uri", g.RedirectURI,
			"code_challenge", g.CodeChallenge,
		)
		p.PExpireAt(ctx, key, now.Add(s.lifetimes.Code))
		p.ZAdd(ctx, merchantConnsKey(conn.MerchantID), redis.Z{Score: float64(ms(now)), Member: conn.ID})
		p.ZAdd(ctx, appConnsKey(conn.ClientID), redis.Z{Score: float64(ms(now)), Member: conn.ID})
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("approve: %w", err)
	}
	return conn, code, nil
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
}

// CodeExchange is an authorization-code grant at the token endpoint, after
// the client has been authenticated.
type CodeExchange struct {
	Code     string
	ClientID string
	// RedirectURI is the redirect_uri sent at the token endpoint, or "".
	RedirectURI string
	// CodeVerifier is the PKCE verifier, or "".
	CodeVerifier string
}

// ExchangeCode consumes a code and issues its connection's first token pair,
// atomically: of any number of concurrent exchanges of one code, exactly one
// succeeds. A refusal is a *Rejected and changes nothing, except that a
// replay of an already used code revokes the connection it created.
func (s *Store) ExchangeCode(ctx context.Context, x CodeExchange) (*Issued, error) {
	connID, ok := ParseCredential(KindCode, x.Code)
	if !ok {
		return nil, &Rejected{Code: "invalid_grant", Reason: "the authorization code is unknown or expired"}
	}
	challenge := ""
	if x.CodeVerifier != "" {
		challenge = S256(x.CodeVerifier)
	}
	iss := s.newIssued(connID, x.ClientID)
	res, err := exchangeScript.Run(ctx, s.rdb, []string{connKey(connID)},
		Digest(x.Code), x.ClientID, x.RedirectURI, challenge, ms(iss.IssuedAt),
		Digest(iss.AccessToken), Digest(iss.RefreshToken),
		ms(iss.AccessExpiresAt), ms(iss.RefreshExpiresAt), iss.TokenID,
	).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("exchange code: %w", err)
	}
	return iss, iss.fill(res)
}

// RefreshRequest is a refresh-token grant, after client authentication.
type RefreshRequest struct {
	RefreshToken string
	ClientID     string
	// Scopes narrows the new access token; nil keeps the granted scopes.
	Scopes []string
}

// Refresh rotates a connection's token pair. The refresh token must be the
// connection's current one and belong to the caller; the new pair replaces
// the old one atomically, and the scope can only narrow.
func (s *Store) Refresh(ctx context.Context, r RefreshRequest) (*Issued, error) {
	connID, ok := ParseCredential(KindRefresh, r.RefreshToken)
	if !ok {
		return nil, &Rejected{Code: "invalid_grant", Reason: "the refresh token is unknown, expired, already used or revoked"}
	}
	iss := s.newIssued(connID, r.ClientID)
	res, err := refreshScript.Run(ctx, s.rdb, []string{connKey(connID)},
		Digest(r.RefreshToken), r.ClientID, ms(iss.IssuedAt),
		Digest(iss.AccessToken), Digest(iss.RefreshToken),
		ms(iss.AccessExpiresAt), ms(iss.RefreshExpiresAt), iss.TokenID,
		strings.Join(uniq(r.Scopes), " "),
	).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return iss, iss.fill(res)
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

// fill completes an Issued from a script's {"ok", merchant, scopes, created}
// answer, or turns a refusal into a *Rejected.
func (iss *Issued) fill(res []string) error {
	if len(res) < 2 {
		return fmt.Errorf("unexpected script answer of %d values", len(res))
	}
	if res[0] != "ok" {
		return &Rejected{Code: res[0], Reason: res[1]}
	}
	if len(res) < 4 {
		return fmt.Errorf("unexpected script answer of %d values", len(res))
	}
	iss.MerchantID = res[1]
	iss.Scopes = strings.Fields(res[2])
	created, _ := strconv.ParseInt(res[3], 10, 64)
	iss.ConnectionCreatedAt = fromMS(created)
	return nil
}

// AccessInfo is what an access token grants.
type AccessInfo struct {
	TokenID      string
	ConnectionID string
	ClientID     string
	MerchantID   string
	Scopes       []string
	IssuedAt     time.Time
	ExpiresAt    time.Time
}

// LookupAccess returns what a live access token grants, or ErrNotFound when
// the token is unknown, malformed, replaced, expired or revoked. One round
// trip; the digest is compared in constant time.
func (s *Store) LookupAccess(ctx context.Context, token string) (*AccessInfo, error) {
	connID, ok := ParseCredential(KindAccess, token)
	if !ok {
		return nil, ErrNotFound
	}
	v, err := s.rdb.HMGet(ctx, connKey(connID),
		"at", "at_exp", "status", "client_id", "merchant_id", "at_scopes", "tid", "issued_at").Result()
	if err != nil {
		return nil, fmt.Errorf("look up access token: %w", err)
	}
	f := make([]string, len(v))
	for i, x := range v {
		f[i], _ = x.(string)
	}
	exp, _ := strconv.ParseInt(f[1], 10, 64)
	if f[0] == "" || !DigestEqual(token, f[0]) || f[2] != StatusActive || exp <= ms(s.now()) {
		return nil, ErrNotFound
	}
	issued, _ := strconv.ParseInt(f[7], 10, 64)
	return &AccessInfo{
		TokenID:      f[6],
		ConnectionID: connID,
		ClientID:     f[3],
		MerchantID:   f[4],
		Scopes:       strings.Fields(f[5]),
		IssuedAt:     fromMS(issued),
		ExpiresAt:    fromMS(exp),
	}, nil
}

// GetConnection returns a connection by id, or ErrNotFound.
func (s *Store) GetConnection(ctx context.Context, id string) (*Connection, error) {
	v, err := s.rdb.HMGet(ctx, connKey(id),
		"id", "merchant_id", "client_id", "scopes", "status", "created_at", "last_used").Result()
	if err != nil {
		return nil, fmt.Errorf("get connection: %w", err)
	}
	f := make([]string, len(v))
	for i, x := range v {
		f[i], _ = x.(string)
	}
	if f[0] == "" {
		return nil, ErrNotFound
	}
	created, _ := strconv.ParseInt(f[5], 10, 64)
	used, _ := strconv.ParseInt(f[6], 10, 64)
	return &Connection{
		ID: f[0], MerchantID: f[1], ClientID: f[2], Scopes: strings.Fields(f[3]),
		Status: f[4], CreatedAt: fromMS(created), LastUsed: fromMS(used),
	}, nil
}

// RevokeConnection ends a connection at once: its code, access token and
// refresh token stop working in one atomic step. by names who revoked it.
func (s *Store) RevokeConnection(ctx context.Context, id, by string) error {
	n, err := revokeScript.Run(ctx, s.rdb, []string{connKey(id)}, ms(s.now()), by).Int()
	if err != nil {
		return fmt.Errorf("revoke connection: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// IsRejected reports whether err is a grant refusal and returns it.
func IsRejected(err error) (*Rejected, bool) {
	var r *Rejected
	ok := errors.As(err, &r)
	return r, ok
}

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
	digestField, expField, scopeField := "at", "at_exp", "at_scopes"
	if kind == KindRefresh {
		digestField, expField, scopeField = "rt", "rt_exp", "scopes"
	}
	v, err := s.rdb.HMGet(ctx, connKey(connID),
		digestField, expField, "status", "client_id", "merchant_id", scopeField, "tid", "issued_at").Result()
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	f := make([]string, len(v))
	for i, x := range v {
		f[i], _ = x.(string)
	}
	exp, _ := strconv.ParseInt(f[1], 10, 64)
	if f[0] == "" || !DigestEqual(token, f[0]) || ConnectionStatus(f[2]) != StatusActive || exp <= ms(s.now()) {
		return nil, ErrNotFound
	}
	issued, _ := strconv.ParseInt(f[7], 10, 64)
	return &TokenInfo{
		Kind:         kind,
		TokenID:      f[6],
		ConnectionID: connID,
		ClientID:     f[3],
		MerchantID:   f[4],
		Scopes:       strings.Fields(f[5]),
		IssuedAt:     fromMS(issued),
		ExpiresAt:    fromMS(exp),
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
		out[i] = &Connection{
			ID: f[0], MerchantID: f[1], ClientID: f[2], Scopes: strings.Fields(f[3]), Status: ConnectionStatus(f[4]),
			CreatedAt: num(5), LastUsed: num(6), RevokedAt: num(7), RevokedBy: Actor(f[8]),
		}
	}
	return out, nil
}

// ConnectionFilter narrows a listing; empty fields match everything.
type ConnectionFilter struct {
	MerchantID string
	ClientID   string
}

// ListConnections returns live (not revoked) connections, newest first,
// skipping offset and returning at most limit, with the total count.
// Revoked connections leave the lists when revoked; expired ones are
// dropped from them here, as they are met.
func (s *Store) ListConnections(ctx context.Context, f ConnectionFilter, offset, limit int) ([]*Connection, int, error) {
	if limit <= 0 {
		limit = 50
	}
	index := connsIndexKey
	switch {
	case f.MerchantID != "":
		index = merchantConnsKey(f.MerchantID)
	case f.ClientID != "":
		index = appConnsKey(f.ClientID)
	}
	entries, err := s.rdb.ZRevRangeWithScores(ctx, index, 0, -1).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("list connections: %w", err)
	}
	ids := make([]string, len(entries))
	for i, z := range entries {
		ids[i], _ = z.Member.(string)
	}
	conns, err := s.getConnections(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	// An entry without a record is dropped only once it is older than any
	// write in flight: on a cluster the index and the record are on
	// different nodes, and the index may be written first.
	settled := float64(ms(s.now().Add(-time.Minute)))
	var live []*Connection
	var gone []any
	for i, c := range conns {
		switch {
		case c == nil && entries[i].Score < settled:
			gone = append(gone, ids[i])
		case c == nil:
		case c.Status == StatusRevoked:
		case f.ClientID != "" && c.ClientID != f.ClientID:
		case f.MerchantID != "" && c.MerchantID != f.MerchantID:
		default:
			live = append(live, c)
		}
	}
	if len(gone) > 0 {
		if err := s.rdb.ZRem(ctx, index, gone...).Err(); err != nil {
			s.log.Warn("drop expired connections from index", "err", err)
		}
	}
	total := len(live)
	if offset >= total {
		return nil, total, nil
	}
	return live[offset:min(offset+limit, total)], total, nil
}

// CountConnections returns how many live connections each app has.
func (s *Store) CountConnections(ctx context.Context, clientIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(clientIDs))
	for _, id := range clientIDs {
		_, n, err := s.ListConnections(ctx, ConnectionFilter{ClientID: id}, 0, 1)
		if err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, nil
}

package store

import (
	"context"
	"encoding/json"
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
	// LastUsed is when tokens were last issued for it (exchange or refresh).
	LastUsed  time.Time
	RevokedAt time.Time
	RevokedBy string
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
	// The hash and the index entries go in one pipeline; on a cluster they
	// are on different nodes and may land in either order. Readers skip
	// (and after a minute drop) index entries without a record.
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
		p.ZAdd(ctx, connsIndexKey, redis.Z{Score: float64(ms(now)), Member: conn.ID})
		return nil
	})
	if err != nil {
		// The code never reaches the merchant: take back what was written.
		s.forget(ctx, conn.ID, conn.MerchantID, conn.ClientID)
		return nil, "", fmt.Errorf("approve: %w", err)
	}
	s.audit(ctx, Event{Type: EventGrant, ConnectionID: conn.ID, ClientID: conn.ClientID, MerchantID: conn.MerchantID,
		Actor: "merchant:" + conn.MerchantID, Detail: strings.Join(conn.Scopes, " ")})
	return conn, code, nil
}

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

// SignIn records a new connection for a first-party sign-in and issues its
// first token pair at once: there is no code to consume. From then on the
// connection is like any other: listed, revocable, refreshed with the same
// one-use rotation.
func (s *Store) SignIn(ctx context.Context, g SignInGrant) (*Issued, error) {
	if g.ClientID == "" || g.MerchantID == "" || len(g.Scopes) == 0 {
		return nil, fmt.Errorf("%w: a sign-in needs an app, a merchant and scopes", ErrInvalid)
	}
	connID := NewID()
	iss := s.newIssued(connID, g.ClientID)
	if g.AccessLifetime > 0 {
		iss.AccessExpiresAt = iss.IssuedAt.Add(g.AccessLifetime)
	}
	iss.MerchantID, iss.Scopes, iss.ConnectionCreatedAt = g.MerchantID, uniq(g.Scopes), iss.IssuedAt
	scopes := strings.Join(iss.Scopes, " ")
	key := connKey(connID)
	now := ms(iss.IssuedAt)
	fields := []any{
		"id", connID,
		"merchant_id", g.MerchantID,
		"client_id", g.ClientID,
		"scopes", scopes,
		"created_at", now,
		"status", StatusActive,
		"grant", "password",
		"code_used", "1",
		"tid", iss.TokenID,
		"at", Digest(iss.AccessToken), "at_exp", ms(iss.AccessExpiresAt), "at_scopes", scopes,
		"rt", Digest(iss.RefreshToken), "rt_exp", ms(iss.RefreshExpiresAt),
		"issued_at", now, "last_used", now,
	}
	if g.AccessLifetime > 0 {
		fields = append(fields, "access_ttl", g.AccessLifetime.Milliseconds())
	}
	// As in Approve: one pipeline, readers skip entries without a record.
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, fields...)
		p.PExpireAt(ctx, key, iss.RefreshExpiresAt)
		z := redis.Z{Score: float64(now), Member: connID}
		p.ZAdd(ctx, merchantConnsKey(g.MerchantID), z)
		p.ZAdd(ctx, appConnsKey(g.ClientID), z)
		p.ZAdd(ctx, connsIndexKey, z)
		return nil
	})
	if err != nil {
		// Nobody holds these tokens: take back what was written, so no
		// live connection is listed that its merchant never got.
		s.forget(ctx, connID, g.MerchantID, g.ClientID)
		return nil, fmt.Errorf("sign in: %w", err)
	}
	s.audit(ctx, Event{Type: EventSignIn, ConnectionID: connID, ClientID: g.ClientID, MerchantID: g.MerchantID,
		Actor: "merchant:" + g.MerchantID, Detail: scopes})
	return iss, nil
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
	res, err := exchangeScript.Run(ctx, s.rdb, []string{connKey(connID), retryKey(connID)},
		Digest(x.Code), x.ClientID, x.RedirectURI, challenge, ms(iss.IssuedAt),
		Digest(iss.AccessToken), Digest(iss.RefreshToken),
		ms(iss.AccessExpiresAt), ms(iss.RefreshExpiresAt), iss.TokenID,
	).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("exchange code: %w", err)
	}
	if len(res) >= 4 && res[2] == "reuse" {
		// The replay revoked the connection; take it off the lists too.
		s.unindex(ctx, connID, res[3], x.ClientID)
		s.audit(ctx, Event{Type: EventReuse, ConnectionID: connID, ClientID: x.ClientID, MerchantID: res[3],
			Actor: "client:" + x.ClientID, Detail: "authorization code presented again; connection revoked"})
	}
	if err := iss.fill(res); err != nil {
		return nil, err
	}
	s.audit(ctx, Event{Type: EventExchange, ConnectionID: connID, ClientID: x.ClientID, MerchantID: iss.MerchantID,
		Actor: "client:" + x.ClientID})
	return iss, nil
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
// the old one atomically, and the scope can only narrow. Within the retry
// window, the just-used refresh token gets the same answer again; after it,
// presenting it, or any of the connection's last 16 used refresh tokens,
// revokes the connection.
func (s *Store) Refresh(ctx context.Context, r RefreshRequest) (*Issued, error) {
	connID, ok := ParseCredential(KindRefresh, r.RefreshToken)
	if !ok {
		return nil, &Rejected{Code: "invalid_grant", Reason: "the refresh token is unknown, expired, already used or revoked"}
	}
	iss := s.newIssued(connID, r.ClientID)
	sealed, err := iss.seal(r.RefreshToken)
	if err != nil {
		return nil, err
	}
	res, err := refreshScript.Run(ctx, s.rdb, []string{connKey(connID), retryKey(connID)},
		Digest(r.RefreshToken), r.ClientID, ms(iss.IssuedAt),
		Digest(iss.AccessToken), Digest(iss.RefreshToken),
		ms(iss.AccessExpiresAt), ms(iss.RefreshExpiresAt), iss.TokenID,
		strings.Join(uniq(r.Scopes), " "), sealed, ms(iss.IssuedAt.Add(s.lifetimes.RetryWindow)),
	).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	switch {
	case len(res) == 6 && res[0] == "retry":
		// A retry of the just-used refresh token: the answer it got.
		prev := &Issued{ConnectionID: connID, ClientID: r.ClientID}
		if err := prev.unseal(r.RefreshToken, res[4]); err != nil {
			return nil, err
		}
		return prev, prev.fill([]string{"ok", res[1], res[2], res[3], res[5]})
	case len(res) >= 4 && res[2] == "reuse":
		s.unindex(ctx, connID, res[3], r.ClientID)
		s.audit(ctx, Event{Type: EventReuse, ConnectionID: connID, ClientID: r.ClientID, MerchantID: res[3],
			Actor: "client:" + r.ClientID, Detail: "used refresh token presented again; connection revoked"})
	}
	if err := iss.fill(res); err != nil {
		return nil, err
	}
	s.audit(ctx, Event{Type: EventRefresh, ConnectionID: connID, ClientID: r.ClientID, MerchantID: iss.MerchantID,
		Actor: "client:" + r.ClientID, Detail: strings.Join(iss.Scopes, " ")})
	return iss, nil
}

// sealedPair is what the retry window keeps of an answer: the parts that
// the connection record does not hold.
type sealedPair struct {
	TokenID      string `json:"tid"`
	AccessToken  string `json:"at"`
	RefreshToken string `json:"rt"`
	AccessExp    int64  `json:"ate"`
	RefreshExp   int64  `json:"rte"`
	IssuedAt     int64  `json:"iat"`
}

func (iss *Issued) seal(oldRefresh string) (string, error) {
	b, err := json.Marshal(sealedPair{iss.TokenID, iss.AccessToken, iss.RefreshToken,
		ms(iss.AccessExpiresAt), ms(iss.RefreshExpiresAt), ms(iss.IssuedAt)})
	if err != nil {
		return "", fmt.Errorf("seal refresh answer: %w", err)
	}
	return seal(oldRefresh, b)
}

func (iss *Issued) unseal(oldRefresh, sealed string) error {
	b, err := unseal(oldRefresh, sealed)
	if err != nil {
		return fmt.Errorf("refresh retry: %w", err)
	}
	var p sealedPair
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("refresh retry: %w", err)
	}
	iss.TokenID, iss.AccessToken, iss.RefreshToken = p.TokenID, p.AccessToken, p.RefreshToken
	iss.AccessExpiresAt, iss.RefreshExpiresAt, iss.IssuedAt = fromMS(p.AccessExp), fromMS(p.RefreshExp), fromMS(p.IssuedAt)
	return nil
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

// fill completes an Issued from a script's {"ok", merchant, scopes, created
// [, access expiry]} answer, or turns a refusal into a *Rejected.
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
	if len(res) >= 5 {
		// The access expiry the script used: a connection may have its
		// own access lifetime.
		if exp, err := strconv.ParseInt(res[4], 10, 64); err == nil && exp > 0 {
			iss.AccessExpiresAt = fromMS(exp)
		}
	}
	return nil
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
	if f[0] == "" || !DigestEqual(token, f[0]) || f[2] != StatusActive || exp <= ms(s.now()) {
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

var connFields = []string{"id", "merchant_id", "client_id", "scopes", "status", "created_at", "last_used",
	"revoked_at", "revoked_by"}

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
			ID: f[0], MerchantID: f[1], ClientID: f[2], Scopes: strings.Fields(f[3]), Status: f[4],
			CreatedAt: num(5), LastUsed: num(6), RevokedAt: num(7), RevokedBy: f[8],
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

// RevokeConnection ends a connection at once: its code, access token and
// refresh token stop working in one atomic step. by names who revoked it
// ("merchant:<id>", "admin:<id>", "cli", …). Revoking a revoked connection
// is not an error.
func (s *Store) RevokeConnection(ctx context.Context, id, by string) error {
	_, err := s.revoke(ctx, id, by, "", "")
	return err
}

// RevokeByToken is RFC 7009 revocation: when token is the current access or
// refresh token of a connection of clientID, that connection is revoked. It
// reports whether anything was revoked; an unknown token, or another app's,
// is not an error.
func (s *Store) RevokeByToken(ctx context.Context, token, clientID string) (bool, error) {
	var connID string
	for _, k := range []Kind{KindAccess, KindRefresh} {
		if id, ok := ParseCredential(k, token); ok {
			connID = id
		}
	}
	if connID == "" {
		return false, nil
	}
	ok, err := s.revoke(ctx, connID, "client:"+clientID, Digest(token), clientID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return ok, err
}

func (s *Store) revoke(ctx context.Context, id, by, digest, clientID string) (bool, error) {
	res, err := revokeScript.Run(ctx, s.rdb, []string{connKey(id), retryKey(id)}, ms(s.now()), by, digest, clientID).StringSlice()
	if errors.Is(err, redis.Nil) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("revoke connection: %w", err)
	}
	if len(res) != 3 || res[2] != "revoked" {
		return false, nil
	}
	s.unindex(ctx, id, res[0], res[1])
	s.audit(ctx, Event{Type: EventRevoke, ConnectionID: id, MerchantID: res[0], ClientID: res[1], Actor: by})
	return true, nil
}

// unindex takes a revoked connection off the lists. The record itself is
// already dead; a failure here only leaves a stale entry that listings skip.
// forget removes a connection whose creation failed half-way: its record
// and its index entries, with a context of its own in case ctx is what
// failed.
func (s *Store) forget(ctx context.Context, id, merchantID, clientID string) {
	undo := context.WithoutCancel(ctx)
	_ = s.rdb.Del(undo, connKey(id)).Err()
	s.unindex(undo, id, merchantID, clientID)
}

func (s *Store) unindex(ctx context.Context, id, merchantID, clientID string) {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, connsIndexKey, id)
		p.ZRem(ctx, merchantConnsKey(merchantID), id)
		p.ZRem(ctx, appConnsKey(clientID), id)
		return nil
	})
	if err != nil {
		s.log.Warn("remove revoked connection from lists", "connection_id", id, "err", err)
	}
}

// RevokeAppConnections revokes every live connection of an app and returns
// how many it revoked. Each revocation is atomic on its own.
func (s *Store) RevokeAppConnections(ctx context.Context, clientID, by string) (int, error) {
	conns, _, err := s.ListConnections(ctx, ConnectionFilter{ClientID: clientID}, 0, 1<<30)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range conns {
		ok, err := s.revoke(ctx, c.ID, by, "", "")
		if err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// IsRejected reports whether err is a grant refusal and returns it.
func IsRejected(err error) (*Rejected, bool) {
	var r *Rejected
	ok := errors.As(err, &r)
	return r, ok
}

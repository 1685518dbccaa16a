package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// RefreshRequest is a refresh-token grant, after client authentication.
type RefreshRequest struct {
	RefreshToken string
	ClientID     string
	// Scopes narrows the new access token; nil keeps the granted scopes.
	Scopes []string
	// AppGeneration is the app's Generation as the caller read it: a
	// connection approved under an older one is refused.
	AppGeneration int64
	// AppScopes are the scopes the app is registered for now: a granted
	// scope the app no longer has is dropped from the connection's grant
	// at this refresh. Nil keeps the grant as it is.
	AppScopes []string
	// JKT is the thumbprint of the request's DPoP key ("" without a
	// proof): the new access token is bound to it; with BindRefresh (a
	// public app) the refresh token too, if it was not already.
	JKT         string
	BindRefresh bool
	// KeepRefresh keeps the refresh token (no rotation) and issues only
	// a new access token: an app on the fapi2 profile (FAPI 2.0
	// §5.3.2.1), whose asymmetric client authentication binds it.
	KeepRefresh bool
}

// RefreshArgs are the arguments of lua/refresh.lua.
type RefreshArgs struct {
	Refresh    string `json:"refresh"`
	ClientID   string `json:"client_id"`
	Now        Millis `json:"now"`
	Access     string `json:"access"`
	RefreshNew string `json:"refresh_new"`
	AccessExp  Millis `json:"access_exp"`
	RefreshExp Millis `json:"refresh_exp"`
	TokenID    string `json:"token_id"`
	Scopes     string `json:"scopes"`
	Sealed     string `json:"sealed"`
	RetryUntil Millis `json:"retry_until"`
	// ReuseBy is who revokes the connection on a replay; Refresh sets it
	// (ActorRefreshReuse).
	ReuseBy Actor `json:"reuse_by"`
	Gen     int64 `json:"gen"`
	// AppScopes are the app's registered scopes, space-separated; the
	// grant keeps only those ("" keeps it as it is).
	AppScopes   string `json:"app_scopes"`
	JKT         string `json:"jkt"`
	BindRefresh bool   `json:"bind_refresh"`
	KeepRefresh bool   `json:"keep_refresh"`
	// Actor is the client, for the audit event.
	Actor Actor `json:"actor"`
	// AuditMax is set by Transitions.
	AuditMax int64 `json:"audit_max"`
}

// RefreshResult is the answer of lua/refresh.lua.
type RefreshResult struct {
	verdict
	MerchantID string `json:"merchant_id"`
	Scopes     string `json:"scopes"`
	CreatedAt  Millis `json:"created_at"`
	AccessExp  Millis `json:"access_exp"`
	Sealed     string `json:"sealed"`
	Resources  string `json:"resources"`
	AuthTime   string `json:"auth_time"`
	RefreshExp Millis `json:"refresh_exp"`
}

var refreshScript = newScript[RefreshArgs, RefreshResult]("refresh", true)

// Refresh rotates the token pair of connection connID.
func (t Transitions) Refresh(ctx context.Context, connID string, a RefreshArgs) (*RefreshResult, error) {
	a.ReuseBy, a.AuditMax = ActorRefreshReuse, t.auditMax
	return refreshScript.run(ctx, t.rdb, connKeys(connID), a)
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
		return nil, &Refusal{Code: RefusedGrant, Description: "the refresh token is unknown, expired, already used or revoked"}
	}
	iss := s.newIssued(connID, r.ClientID)
	iss.JKT = r.JKT
	sealed, err := iss.seal(r.RefreshToken)
	if err != nil {
		return nil, err
	}
	res, err := s.Transitions().Refresh(ctx, connID, RefreshArgs{
		Refresh: Digest(r.RefreshToken), ClientID: r.ClientID, Now: MillisOf(iss.IssuedAt),
		Access: Digest(iss.AccessToken), RefreshNew: Digest(iss.RefreshToken),
		AccessExp: MillisOf(iss.AccessExpiresAt), RefreshExp: MillisOf(iss.RefreshExpiresAt), TokenID: iss.TokenID,
		Scopes: strings.Join(uniq(r.Scopes), " "), Sealed: sealed,
		RetryUntil: MillisOf(iss.IssuedAt.Add(s.lifetimes.RetryWindow)),
		Gen:        r.AppGeneration, Actor: ActorClient(r.ClientID), AppScopes: strings.Join(r.AppScopes, " "),
		JKT: r.JKT, BindRefresh: r.BindRefresh, KeepRefresh: r.KeepRefresh,
	})
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	switch res.Outcome {
	case OutcomeRetry:
		// A retry of the just-used refresh token: the answer it got.
		iss = &Issued{ConnectionID: connID, ClientID: r.ClientID}
		if err := iss.unseal(r.RefreshToken, res.Sealed); err != nil {
			return nil, err
		}
	case OutcomeReuse:
		s.observe(Event{Type: EventReuse, ConnectionID: connID, ClientID: r.ClientID, MerchantID: res.MerchantID,
			Actor: ActorClient(r.ClientID)})
	}
	if err := res.check("refresh", OutcomeOK, OutcomeRetry); err != nil {
		return nil, err
	}
	iss.MerchantID, iss.Scopes, iss.ConnectionCreatedAt = res.MerchantID, strings.Fields(res.Scopes), fromMS(int64(res.CreatedAt))
	// The grant as it stands, for the pair's scopes: a refresh never
	// widens it.
	g, err := decodeResourceGrant(res.Resources)
	if err != nil {
		return nil, err
	}
	iss.Resources = g.For(iss.Scopes)
	iss.AuthTime = authTime(res.AuthTime, iss.ConnectionCreatedAt)
	if res.AccessExp > 0 {
		// The access expiry the script used: a connection may have its own
		// access lifetime.
		iss.AccessExpiresAt = fromMS(int64(res.AccessExp))
	}
	if r.KeepRefresh && res.Outcome == OutcomeOK {
		iss.RefreshToken, iss.RefreshExpiresAt = r.RefreshToken, fromMS(int64(res.RefreshExp))
	}
	if res.Outcome == OutcomeOK {
		s.observe(Event{Type: EventRefresh, ConnectionID: connID, ClientID: r.ClientID, MerchantID: iss.MerchantID,
			Actor: ActorClient(r.ClientID), Detail: res.Scopes})
	}
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
	// JKT is the DPoP key the access token was bound to.
	JKT string `json:"jkt,omitempty"`
}

func (iss *Issued) seal(oldRefresh string) (string, error) {
	b, err := json.Marshal(sealedPair{iss.TokenID, iss.AccessToken, iss.RefreshToken,
		ms(iss.AccessExpiresAt), ms(iss.RefreshExpiresAt), ms(iss.IssuedAt), iss.JKT})
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
	iss.JKT = p.JKT
	return nil
}

package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Grant is a merchant's approval, as the consent page produces it.
type Grant struct {
	ClientID    string
	MerchantID  string
	RedirectURI string
	Scopes      []string
	// CodeChallenge is the S256 PKCE challenge, empty when the app sent none.
	CodeChallenge string
	// AppGeneration is the app's Generation as the caller read it: a
	// connection approved under an older one is dead at once.
	AppGeneration int64
	// Resources limits scopes to resources the merchant chose; a scope
	// not in it reaches all of its type's.
	Resources ResourceGrant
	// Nonce is the OpenID Connect nonce of the authorization request
	// ("" for none): the code's ID token carries it.
	Nonce string
	// AuthTime is when the merchant logged in (the ID tokens' auth_time).
	AuthTime time.Time
	// CodeLifetime, when set and shorter than the store's, is how long
	// the code lives (FAPI2CodeLifetime for an app on the fapi2 profile).
	CodeLifetime time.Duration
	// CodeJKT binds the code to a DPoP key (RFC 9449 §10, dpop_jkt): only
	// an exchange with a proof of that key redeems it. "" for none.
	CodeJKT string
}

// MaxNonce bounds an authorization request's nonce, which the connection
// keeps with its record.
const MaxNonce = 512

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
	Gen         int64  `json:"gen"`
	Actor       Actor  `json:"actor"`
	Resources   string `json:"resources"`
	Nonce       string `json:"nonce"`
	AuthTime    Millis `json:"auth_time"`
	CodeJKT     string `json:"code_jkt,omitempty"`
	// AuditMax is set by Transitions.
	AuditMax int64 `json:"audit_max"`
}

// ApproveResult is the answer of lua/approve.lua.
type ApproveResult struct{ verdict }

var approveScript = newScript[ApproveArgs, ApproveResult]("approve", true)

// Approve records a new connection, pending, with its code digest, its
// index entries and its grant event.
func (t Transitions) Approve(ctx context.Context, a ApproveArgs) (*ApproveResult, error) {
	a.AuditMax = t.auditMax
	return approveScript.run(ctx, t.rdb, connKeys(a.ID), a)
}

// Approve records a new connection for the grant (never reusing an older
// one) and returns it with its one-use authorization code. A failure
// leaves nothing that works: the code is never handed out.
func (s *Store) Approve(ctx context.Context, g Grant) (*Connection, string, error) {
	if g.ClientID == "" || g.MerchantID == "" || g.RedirectURI == "" || len(g.Scopes) == 0 {
		return nil, "", fmt.Errorf("%w: a grant needs an app, a merchant, a redirect URI and scopes", ErrInvalid)
	}
	if len(g.Nonce) > MaxNonce {
		return nil, "", fmt.Errorf("%w: the nonce is longer than %d bytes", ErrInvalid, MaxNonce)
	}
	resources, err := checkResourceGrant(g.Resources, g.Scopes)
	if err != nil {
		return nil, "", err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	conn := &Connection{
		ID:         NewID(),
		MerchantID: g.MerchantID,
		ClientID:   g.ClientID,
		Scopes:     uniq(g.Scopes),
		Status:     StatusPending,
		CreatedAt:  now,
		Resources:  resources,
	}
	code := NewCredential(KindCode, conn.ID)
	codeLife := s.lifetimes.Code
	if g.CodeLifetime > 0 && g.CodeLifetime < codeLife {
		codeLife = g.CodeLifetime
	}
	scopes := strings.Join(conn.Scopes, " ")
	res, err := s.Transitions().Approve(ctx, ApproveArgs{
		ID: conn.ID, MerchantID: conn.MerchantID, ClientID: conn.ClientID, Scopes: scopes,
		Now: MillisOf(now), Code: Digest(code), CodeExp: MillisOf(now.Add(codeLife)),
		RedirectURI: g.RedirectURI, Challenge: g.CodeChallenge, Gen: g.AppGeneration, Actor: ActorMerchant(conn.MerchantID),
		Resources: resources.encode(), Nonce: g.Nonce, AuthTime: MillisOf(g.AuthTime), CodeJKT: g.CodeJKT,
	})
	if err == nil {
		err = res.check("approve", OutcomeOK)
	}
	if err != nil {
		return nil, "", fmt.Errorf("approve: %w", err)
	}
	s.observe(Event{Type: EventGrant, ConnectionID: conn.ID, ClientID: conn.ClientID, MerchantID: conn.MerchantID,
		Actor: ActorMerchant(conn.MerchantID), Detail: scopes})
	return conn, code, nil
}

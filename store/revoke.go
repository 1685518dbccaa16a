package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// RevokeArgs are the arguments of lua/revoke.lua.
type RevokeArgs struct {
	Now      Millis `json:"now"`
	By       Actor  `json:"by"`
	Token    string `json:"token"`
	ClientID string `json:"client_id"`
	// BelowGen revokes only a connection of an older app generation (0:
	// any); the clean-up after an app-wide revocation sets it.
	BelowGen int64  `json:"below_gen"`
	Detail   string `json:"detail"`
	// Reason is the webhook event's reason; ReasonOf(By) when empty.
	Reason string `json:"reason"`
	// AuditMax is set by Transitions.
	AuditMax int64 `json:"audit_max"`
}

// RevokeResult is the answer of lua/revoke.lua.
type RevokeResult struct {
	verdict
	MerchantID string `json:"merchant_id"`
	ClientID   string `json:"client_id"`
}

var revokeScript = newScript[RevokeArgs, RevokeResult]("revoke", true)

// Revoke ends connection connID, with its index entries and its event.
func (t Transitions) Revoke(ctx context.Context, connID string, a RevokeArgs) (*RevokeResult, error) {
	a.AuditMax = t.auditMax
	return revokeScript.run(ctx, t.rdb, connKeys(connID), a)
}

// Reasons of a connection.revoked webhook event, besides ReasonOf's.
const (
	ReasonAppRevoked = "app_revoked" // an app-wide revocation
	ReasonAppDeleted = "app_deleted" // the app was deleted
)

// ReasonOf is the reason a connection.revoked event gives for a
// revocation by a: merchant, admin (the pages, the API, the CLI), app (RFC
// 7009), code_reuse or refresh_reuse.
func ReasonOf(a Actor) string {
	switch kind, _, _ := strings.Cut(string(a), ":"); Actor(kind) {
	case "merchant":
		return "merchant"
	case "client", "developer":
		return "app"
	case ActorCodeReuse:
		return "code_reuse"
	case ActorRefreshReuse:
		return "refresh_reuse"
	default:
		return "admin"
	}
}

// RevokeConnection ends a connection at once: its code, access token and
// refresh token stop working in one atomic step. Revoking a revoked
// connection is not an error; an unknown one is ErrNotFound.
func (s *Store) RevokeConnection(ctx context.Context, id string, by Actor) error {
	_, err := s.revoke(ctx, id, RevokeArgs{By: by})
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
	ok, err := s.revoke(ctx, connID, RevokeArgs{By: ActorClient(clientID), Token: Digest(token), ClientID: clientID})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return ok, err
}

func (s *Store) revoke(ctx context.Context, id string, a RevokeArgs) (bool, error) {
	a.Now = MillisOf(s.now())
	if a.Reason == "" {
		a.Reason = ReasonOf(a.By)
	}
	res, err := s.Transitions().Revoke(ctx, id, a)
	if err != nil {
		return false, fmt.Errorf("revoke connection: %w", err)
	}
	if err := res.check("revoke", OutcomeOK, OutcomeAlready, OutcomeMissing); err != nil {
		return false, err
	}
	switch res.Outcome {
	case OutcomeMissing:
		return false, ErrNotFound
	case OutcomeOK:
		s.observe(Event{Type: EventRevoke, ConnectionID: id, ClientID: res.ClientID, MerchantID: res.MerchantID,
			Actor: a.By, Detail: a.Detail})
		return true, nil
	}
	return false, nil
}

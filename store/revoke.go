package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RevokeArgs are the arguments of lua/revoke.lua.
type RevokeArgs struct {
	Now      Millis `json:"now"`
	By       Actor  `json:"by"`
	Token    string `json:"token"`
	ClientID string `json:"client_id"`
}

// RevokeResult is the answer of lua/revoke.lua.
type RevokeResult struct {
	verdict
	MerchantID string `json:"merchant_id"`
	ClientID   string `json:"client_id"`
}

var revokeScript = newScript[RevokeArgs, RevokeResult]("revoke")

// Revoke ends connection connID.
func (t Transitions) Revoke(ctx context.Context, connID string, a RevokeArgs) (*RevokeResult, error) {
	return revokeScript.run(ctx, t.rdb, connKeys(connID), a)
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
		s.revoked(ctx, id, res.MerchantID, res.ClientID, EventRevoke, a.By, "")
		return true, nil
	}
	return false, nil
}

// revoked follows a script that revoked a connection: it takes the
// connection off the lists and records the event. The record itself is
// already dead; a failure here only leaves a stale entry that listings skip.
func (s *Store) revoked(ctx context.Context, id, merchantID, clientID string, t EventType, by Actor, detail string) {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, connsIndexKey, id)
		p.ZRem(ctx, merchantConnsKey(merchantID), id)
		p.ZRem(ctx, appConnsKey(clientID), id)
		return nil
	})
	if err != nil {
		s.log.Warn("remove revoked connection from lists", "connection_id", id, "err", err)
	}
	s.audit(ctx, Event{Type: t, ConnectionID: id, ClientID: clientID, MerchantID: merchantID, Actor: by, Detail: detail})
}

// RevokeAppConnections revokes every live connection of an app and returns
// how many it revoked. Each revocation is atomic on its own.
func (s *Store) RevokeAppConnections(ctx context.Context, clientID string, by Actor) (int, error) {
	conns, _, err := s.ListConnections(ctx, ConnectionFilter{ClientID: clientID}, 0, 1<<30)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range conns {
		ok, err := s.revoke(ctx, c.ID, RevokeArgs{By: by})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

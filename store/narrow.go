package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// NarrowArgs are the arguments of lua/narrow.lua.
type NarrowArgs struct {
	Now       Millis `json:"now"`
	By        Actor  `json:"by"`
	Expect    string `json:"expect"`
	Resources string `json:"resources"`
	Detail    string `json:"detail"`
	AuditMax  int64  `json:"audit_max"`
}

// NarrowResult is the answer of lua/narrow.lua.
type NarrowResult struct{ verdict }

var narrowScript = newScript[NarrowArgs, NarrowResult]("narrow", true)

// NarrowResources limits connection id's scopes to fewer resources: for
// each scope of g (one of the connection's), the resources it reaches from
// now on, which must be among those it reached (any, for a scope that
// reached all: the caller checks that they are the merchant's). The other
// scopes are left as they are. It bites at the next token check, on every
// instance. A grant that would widen, an unknown scope or an empty choice
// is ErrInvalid; an unknown or revoked connection ErrNotFound; a grant
// changed meanwhile ErrConflict. Nothing is written on an error, and
// nothing when g changes nothing.
func (s *Store) NarrowResources(ctx context.Context, id string, g ResourceGrant, by Actor) (*Connection, error) {
	conn, err := s.GetConnection(ctx, id)
	if err != nil {
		return nil, err
	}
	if conn.Status == StatusRevoked {
		return nil, ErrNotFound
	}
	g, err = checkResourceGrant(g, conn.Scopes)
	if err != nil {
		return nil, err
	}
	next := ResourceGrant{}
	for sc, ids := range conn.Resources {
		next[sc] = ids
	}
	var parts []string
	for sc, ids := range g {
		if was, limited := conn.Resources[sc]; limited {
			for _, id := range ids {
				if !slices.Contains(was, id) {
					return nil, fmt.Errorf("%w: %q does not reach %q now: a narrowing cannot widen", ErrInvalid, sc, id)
				}
			}
		}
		if !slices.Equal(next[sc], ids) || conn.Resources[sc] == nil {
			parts = append(parts, sc+": "+strings.Join(ids, " "))
		}
		next[sc] = ids
	}
	if len(parts) == 0 {
		return conn, nil
	}
	sort.Strings(parts)
	if err := s.narrow(ctx, conn, next, by, "narrowed to "+strings.Join(parts, "; ")); err != nil {
		return nil, err
	}
	return s.GetConnection(ctx, id)
}

func (s *Store) narrow(ctx context.Context, conn *Connection, next ResourceGrant, by Actor, detail string) error {
	res, err := narrowScript.run(ctx, s.rdb, connKeys(conn.ID), NarrowArgs{Now: MillisOf(s.now()), By: by,
		Expect: conn.Resources.encode(), Resources: next.encode(), Detail: detail, AuditMax: s.auditMax})
	if err != nil {
		return fmt.Errorf("narrow resources: %w", err)
	}
	if err := res.check("narrow", OutcomeOK, OutcomeMissing, OutcomeRefused); err != nil {
		return err
	}
	switch res.Outcome {
	case OutcomeMissing:
		return ErrNotFound
	case OutcomeRefused:
		return fmt.Errorf("%w: the connection's resources changed meanwhile; read it again", ErrConflict)
	}
	s.observe(Event{Type: EventNarrow, ConnectionID: conn.ID, ClientID: conn.ClientID, MerchantID: conn.MerchantID,
		Actor: by, Detail: detail})
	return nil
}

// dropFromGrants takes removed, resources the platform no longer lists
// for the merchant, out of the grants of the merchant's connections for
// scopes (those bound to their type): at once, so that no token reaches
// them from the next check on. A scope left with none reaches none.
func (s *Store) dropFromGrants(ctx context.Context, merchantID string, scopes, removed []string, by Actor) error {
	if len(removed) == 0 || len(scopes) == 0 {
		return nil
	}
	p := Page{Limit: MaxLimit}
	for {
		page, err := s.ListConnections(ctx, ConnectionFilter{MerchantID: merchantID}, p)
		if err != nil {
			return fmt.Errorf("drop removed resources: %w", err)
		}
		for _, c := range page.Connections {
			for attempt := 0; attempt < 3; attempt++ {
				next, changed := withoutResources(c.Resources, scopes, removed)
				if !changed {
					break
				}
				err := s.narrow(ctx, c, next, by, "resources removed by the platform: "+strings.Join(removed, " "))
				if !errors.Is(err, ErrConflict) {
					if err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
					break
				}
				if c, err = s.GetConnection(ctx, c.ID); err != nil {
					break
				}
			}
		}
		if page.Next == "" {
			return nil
		}
		p = Page{Limit: MaxLimit, Cursor: page.Next}
	}
}

// withoutResources is g less removed in scopes' entries.
func withoutResources(g ResourceGrant, scopes, removed []string) (ResourceGrant, bool) {
	next, changed := ResourceGrant{}, false
	for sc, ids := range g {
		if !slices.Contains(scopes, sc) {
			next[sc] = ids
			continue
		}
		kept := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(removed, id) })
		changed = changed || len(kept) != len(ids)
		next[sc] = kept
	}
	return next, changed
}

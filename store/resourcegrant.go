package store

import (
	"encoding/json"
	"fmt"
	"slices"
)

// ResourceGrant is which of a merchant's resources a connection's scopes
// reach (issue 17): scope → the resource ids the merchant chose. A scope
// that is not in it reaches every resource of its type, the ones added
// later too (the Multivende {"all": true}). It is stored in the
// connection's hash (field resources, as JSON) and read by every token
// check with the rest of the record, in the same round trip.
type ResourceGrant map[string][]string

// MaxGrantedResources bounds the ids of one scope's grant, as a merchant's
// set of one type is bounded.
const MaxGrantedResources = MaxResources

// Allows reports whether the grant lets scope reach resource id; the
// caller has checked that scope is granted at all.
func (g ResourceGrant) Allows(scope, id string) bool {
	ids, limited := g[scope]
	return !limited || slices.Contains(ids, id)
}

// Limited reports whether scope reaches only the ids of the grant.
func (g ResourceGrant) Limited(scope string) ([]string, bool) {
	ids, ok := g[scope]
	return ids, ok
}

// For is the grant restricted to scopes (a token's, which may be
// narrower than the connection's).
func (g ResourceGrant) For(scopes []string) ResourceGrant {
	var out ResourceGrant
	for _, sc := range scopes {
		if ids, ok := g[sc]; ok {
			if out == nil {
				out = ResourceGrant{}
			}
			out[sc] = ids
		}
	}
	return out
}

// checkResourceGrant validates g against the granted scopes and returns
// it in its canonical form (ids sorted, once each): every scope of it is
// granted and has at least one id, and every id is well formed.
func checkResourceGrant(g ResourceGrant, scopes []string) (ResourceGrant, error) {
	if len(g) == 0 {
		return nil, nil
	}
	out := make(ResourceGrant, len(g))
	for sc, ids := range g {
		if !slices.Contains(scopes, sc) {
			return nil, fmt.Errorf("%w: resources for %q, a scope that is not granted", ErrInvalid, sc)
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("%w: no resource chosen for %q (leave it out for all of them)", ErrInvalid, sc)
		}
		if len(ids) > MaxGrantedResources {
			return nil, fmt.Errorf("%w: more than %d resources for %q", ErrInvalid, MaxGrantedResources, sc)
		}
		for _, id := range ids {
			if err := checkResourceID(id); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrInvalid, sc, err)
			}
		}
		c := slices.Clone(ids)
		slices.Sort(c)
		out[sc] = slices.Compact(c)
	}
	return out, nil
}

// encode is the grant as the connection's hash holds it: JSON, "" for
// none (every scope reaches all).
func (g ResourceGrant) encode() string {
	if len(g) == 0 {
		return ""
	}
	b, _ := json.Marshal(map[string][]string(g)) // map keys are sorted: one spelling per grant
	return string(b)
}

// decodeResourceGrant reads a connection's resources field; an unreadable
// one reaches nothing rather than everything.
func decodeResourceGrant(v string) (ResourceGrant, error) {
	if v == "" {
		return nil, nil
	}
	var g ResourceGrant
	if err := json.Unmarshal([]byte(v), &g); err != nil {
		return nil, fmt.Errorf("decode resource grant: %w", err)
	}
	return g, nil
}

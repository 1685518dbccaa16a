package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// A merchant's resources: the warehouses, sales channels, stores… the
// platform says each merchant has, one set per resource type
// (ResourceTypes, configured). A scope bound to a type (Scope.Resource) is
// granted for all of them or for chosen ids; this file keeps the sets,
// which the platform replaces whole (PUT /admin/api/merchants/{id}/
// resources/{type}, `enlace merchant resources set`). A set is listed
// sorted by name (SortResources), whatever order it was given in. Key:
// keys.go, resources; the replacement: lua/resources.lua.

// Resource is one of a merchant's resources, as the platform names it.
type Resource struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Bounds of a merchant's set of one type.
const (
	// MaxResources is the most resources of one type a merchant may have.
	MaxResources = 1000
	// MaxResourceID bounds an id, in bytes.
	MaxResourceID = 128
	// MaxResourceName bounds a name, in characters.
	MaxResourceName = 200
)

// CheckResources applies the rules of a set of resources and returns it
// as it is stored: each name trimmed of surrounding space, sorted by name
// (SortResources). An id is 1 to MaxResourceID bytes of printable ASCII
// without spaces (so that no two ids look alike and each stands in a URL
// path, a space-separated list or a JSON key as it is), is not "all"
// (which names the whole set in a token's scopes object), and appears
// once; a name is 1 to MaxResourceName characters, under the rules of a
// store's name (no control, format or unassigned character, no word
// mixing Latin with Cyrillic or Greek letters). At most MaxResources;
// none is a set too. Errors wrap ErrInvalid and name the resource by its
// position in rs, from 0.
func CheckResources(rs []Resource) ([]Resource, error) {
	if len(rs) > MaxResources {
		return nil, fmt.Errorf("%w: %d resources, more than the %d allowed", ErrInvalid, len(rs), MaxResources)
	}
	out := make([]Resource, len(rs))
	seen := make(map[string]int, len(rs))
	for i, r := range rs {
		at := fmt.Sprintf("resources[%d]", i)
		if err := checkResourceID(r.ID); err != nil {
			return nil, fmt.Errorf("%w: %s: %s", ErrInvalid, at, err)
		}
		if j, ok := seen[r.ID]; ok {
			return nil, fmt.Errorf("%w: %s: id %q is given twice (resources[%d] has it too)", ErrInvalid, at, r.ID, j)
		}
		seen[r.ID] = i
		name := strings.TrimSpace(r.Name)
		switch {
		case name == "":
			return nil, fmt.Errorf("%w: %s (id %q): the name is empty", ErrInvalid, at, r.ID)
		case !utf8.ValidString(name):
			return nil, fmt.Errorf("%w: %s (id %q): the name is not valid UTF-8", ErrInvalid, at, r.ID)
		case utf8.RuneCountInString(name) > MaxResourceName:
			return nil, fmt.Errorf("%w: %s (id %q): the name is longer than %d characters", ErrInvalid, at, r.ID, MaxResourceName)
		}
		// validName looks inside words: what separates them (a line
		// break, a tab) is checked here.
		for _, c := range name {
			if !unicode.In(c, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs) {
				return nil, fmt.Errorf("%w: %s (id %q): the name holds a control, format or unassigned character (%U)",
					ErrInvalid, at, r.ID, c)
			}
		}
		if err := validName(name); err != nil {
			return nil, fmt.Errorf("%w: %s (id %q): %s", ErrInvalid, at, r.ID,
				strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
		}
		out[i] = Resource{ID: r.ID, Name: name}
	}
	SortResources(out)
	return out, nil
}

// SortResources sorts rs as they are listed: by name, as a Spanish
// reader orders them (accents and case after the letters), then by id.
func SortResources(rs []Resource) {
	// A Collator keeps buffers: one per call.
	c := collate.New(language.Spanish)
	slices.SortFunc(rs, func(a, b Resource) int {
		if n := c.CompareString(a.Name, b.Name); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func checkResourceID(id string) error {
	switch {
	case id == "":
		return errors.New("the id is empty")
	case len(id) > MaxResourceID:
		return fmt.Errorf("the id is longer than %d bytes", MaxResourceID)
	case id == "all":
		return errors.New(`"all" cannot be an id: it stands for every resource of the type`)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] >= 0x7f {
			return fmt.Errorf("the id %q holds a space, a control character or a character outside ASCII", id)
		}
	}
	return nil
}

// ResourcesArgs are the arguments of lua/resources.lua.
type ResourcesArgs struct {
	MerchantID string     `json:"merchant_id"`
	Type       string     `json:"type"`
	Resources  []Resource `json:"resources"`
	Now        Millis     `json:"now"`
	Actor      Actor      `json:"actor"`
	AuditMax   int64      `json:"audit_max"`
}

// ResourcesResult is the answer of lua/resources.lua.
type ResourcesResult struct {
	verdict
	// Count is the size of the set now; Added, Removed and Renamed say
	// how it differs from the one it replaced (outcome ok).
	Count   int `json:"count"`
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Renamed int `json:"renamed"`
	// RemovedIDs are the ids of the set that went.
	RemovedIDs []string `json:"removed_ids"`
}

var resourcesScript = newScript[ResourcesArgs, ResourcesResult]("resources", false)

// ResourceSet is a replacement of a merchant's resources of one type.
type ResourceSet struct {
	MerchantID string
	// Type is a ResourceType's name.
	Type string
	// Resources are the whole new set, in any order.
	Resources []Resource
	// By is who replaced it, for the audit event.
	By Actor
	// Scopes are the catalogue's scopes bound to Type
	// (Catalogue.BoundTo): a resource that leaves the set leaves the
	// merchant's grants for them at once.
	Scopes []string
}

// SetResources replaces the merchant's resources of one type with
// set.Resources (CheckResources' rules) and returns them as stored,
// sorted by name. types are the configured resource types. An unknown
// merchant or type is ErrNotFound, a set that breaks a rule ErrInvalid;
// nothing is written on any error. The replacement and its audit event
// (EventResources, in the merchant's shard) are one script; a set equal
// to the stored one, names and order included, writes nothing.
func (s *Store) SetResources(ctx context.Context, set ResourceSet, types ResourceTypes) ([]Resource, error) {
	if _, ok := types.Lookup(set.Type); !ok {
		return nil, fmt.Errorf("%w: no resource type %q (the types are %s)", ErrNotFound, set.Type,
			strings.Join(types.Names(), ", "))
	}
	rs, err := CheckResources(set.Resources)
	if err != nil {
		return nil, err
	}
	if set.MerchantID == "" {
		return nil, fmt.Errorf("%w: no merchant with an empty id", ErrNotFound)
	}
	// The merchant's record is in another slot; merchants are never
	// deleted, so one read before the script is enough (keys.go).
	n, err := s.rdb.Exists(ctx, merchantKey(set.MerchantID)).Result()
	if err != nil {
		return nil, fmt.Errorf("set resources: read merchant: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no merchant with id %q", ErrNotFound, set.MerchantID)
	}
	res, err := resourcesScript.run(ctx, s.rdb, resourceKeys(set.MerchantID, set.Type), ResourcesArgs{
		MerchantID: set.MerchantID, Type: set.Type, Resources: rs, Now: MillisOf(s.now()), Actor: set.By,
		AuditMax: s.Transitions().auditMax})
	if err != nil {
		return nil, fmt.Errorf("set resources: %w", err)
	}
	if err := res.check("resources", OutcomeOK, OutcomeAlready); err != nil {
		return nil, err
	}
	if res.Outcome == OutcomeOK {
		s.observe(Event{Type: EventResources, MerchantID: set.MerchantID, Actor: set.By,
			Detail: fmt.Sprintf("%s: %d resources; %d added, %d removed, %d renamed", set.Type, res.Count,
				res.Added, res.Removed, res.Renamed)})
		if err := s.dropFromGrants(ctx, set.MerchantID, set.Scopes, res.RemovedIDs, set.By); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// Resources returns the merchant's resources of each type named (every
// configured type when none is), sorted by name; a type the merchant has
// none of has an empty list. It is one pipelined read of the merchant's
// record and one hash per type (each replaced whole, so never read half
// replaced). An unknown merchant or type is ErrNotFound.
func (s *Store) Resources(ctx context.Context, merchantID string, types ResourceTypes, names ...string) (map[string][]Resource, error) {
	if len(names) == 0 {
		names = types.Names()
	}
	for _, n := range names {
		if _, ok := types.Lookup(n); !ok {
			return nil, fmt.Errorf("%w: no resource type %q (the types are %s)", ErrNotFound, n,
				strings.Join(types.Names(), ", "))
		}
	}
	if merchantID == "" {
		return nil, fmt.Errorf("%w: no merchant with an empty id", ErrNotFound)
	}
	sets := make([]*redis.MapStringStringCmd, len(names))
	var exists *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, merchantKey(merchantID))
		for i, n := range names {
			sets[i] = p.HGetAll(ctx, resourcesKey(merchantID, n))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read resources: %w", err)
	}
	if exists.Val() == 0 {
		return nil, fmt.Errorf("%w: no merchant with id %q", ErrNotFound, merchantID)
	}
	out := make(map[string][]Resource, len(names))
	for i, n := range names {
		byID := sets[i].Val()
		rs := make([]Resource, 0, len(byID))
		for id, name := range byID {
			rs = append(rs, Resource{ID: id, Name: name})
		}
		SortResources(rs)
		out[n] = rs
	}
	return out, nil
}

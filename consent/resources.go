package consent

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/enlace-oauth/enlace/store"
)

// Per-resource consent (issue 17). A requested scope bound to a resource
// type (Catalogue.ResourceOf, a configured ResourceType) of which the
// merchant has resources gets a choice on the consent page: every
// resource of the type, the ones added later too (the default), or only
// the ticked ones. The form's fields, per scope:
//
//	resources_mode.<scope> = all | some
//	resources.<scope>      = a resource id, once per ticked resource
//
// A scope whose type the merchant has none of gets no choice: it reaches
// all of them. The choice is read only for the ticked scopes; a field for
// a scope the page did not offer a choice for, an unknown mode or an id
// that is not the merchant's is a forged form.

// Form field prefixes of a scope's choice of resources.
const (
	fieldResourcesMode = "resources_mode."
	fieldResources     = "resources."
)

// The modes of a choice.
const (
	modeAll  = "all"
	modeSome = "some"
)

// errForgedChoice is a form whose choice of resources the page could not
// have offered.
var errForgedChoice = errors.New("a choice of resources the consent page did not offer")

// resourceSelection is one scope's choice as it stands: only the ids (Some)
// or every resource.
type resourceSelection struct {
	Some bool
	IDs  []string
}

// resourceChoice is one scope's choice on the consent page.
type resourceChoice struct {
	Scope string
	// Legend asks the question ("¿En qué bodegas?"); AllLabel is the
	// option of every resource.
	Legend   string
	AllLabel string
	// Some is whether "only these" is selected.
	Some    bool
	Options []resourceOption
	// Reach says what the choice reaches as it stands, for the summary;
	// ReachAll, ReachNone and ReachSome (the text around the names) are
	// its forms, for static/consent.js to say it again as the merchant
	// changes the choice.
	Reach     string
	ReachAll  string
	ReachNone string
	ReachSome [2]string
	// Invalid marks the choice that the page's message is about.
	Invalid bool
}

// resourceOption is one of the merchant's resources in a choice.
type resourceOption struct {
	ID   string
	Name string
	// ShowID is set where another resource of the set has the same name.
	ShowID  bool
	Checked bool
	// Label is the name, with the id where names repeat (for the summary).
	Label string
}

// scopeType returns the configured resource type scope is bound to.
func (k *Kit) scopeType(scope string) (store.ResourceType, bool) {
	name := k.opts.Catalogue.ResourceOf(scope)
	if name == "" {
		return store.ResourceType{}, false
	}
	return k.opts.ResourceTypes.Lookup(name)
}

// boundTypes are the resource types the scopes are bound to, once each.
func (k *Kit) boundTypes(scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		if t, ok := k.scopeType(sc); ok && !slices.Contains(out, t.Name) {
			out = append(out, t.Name)
		}
	}
	return out
}

// merchantResources reads the merchant's resources of the types the
// scopes are bound to: one pipelined read, none when no scope is bound.
func (h *MerchantPages) merchantResources(ctx context.Context, merchantID string, scopes []string) (map[string][]store.Resource, error) {
	types := h.boundTypes(scopes)
	if len(types) == 0 {
		return nil, nil
	}
	have, err := h.store.Resources(ctx, merchantID, h.opts.ResourceTypes, types...)
	if err != nil {
		return nil, fmt.Errorf("read the merchant's resources: %w", err)
	}
	return have, nil
}

// offered returns the merchant's resources of scope's type when the page
// offers a choice for it (the scope is bound and the merchant has some).
func (k *Kit) offered(scope string, have map[string][]store.Resource) ([]store.Resource, bool) {
	t, ok := k.scopeType(scope)
	if !ok || len(have[t.Name]) == 0 {
		return nil, false
	}
	return have[t.Name], true
}

// preselection is the page's starting choice: "only these" for each scope
// the app asked specific resources for (RFC 9396 authorization_details),
// those of them that are the merchant's ticked. An app that asked only for
// resources the merchant does not have gets "only these" with nothing
// ticked: the merchant chooses, rather than grant all of them unasked.
func preselection(g store.ResourceGrant) map[string]resourceSelection {
	out := make(map[string]resourceSelection, len(g))
	for sc, ids := range g {
		out[sc] = resourceSelection{Some: true, IDs: ids}
	}
	return out
}

// resourceChoices builds the page's choices for the requested scopes, by
// scope, from the selections (absent: every resource).
func (k *Kit) resourceChoices(loc localizer, scopes []string, have map[string][]store.Resource,
	sel map[string]resourceSelection) map[string]*resourceChoice {
	out := map[string]*resourceChoice{}
	lang := loc.lang.String()
	for _, sc := range scopes {
		rs, ok := k.offered(sc, have)
		if !ok {
			continue
		}
		t, _ := k.scopeType(sc)
		s := sel[sc]
		names := repeatedNames(rs)
		ch := &resourceChoice{Scope: sc, Some: s.Some,
			Legend: loc.T("resource_legend", "Many", lowerFirst(t.Label(lang, 2))),
			AllLabel: loc.T("resource_all", "One", lowerFirst(t.Label(lang, 1)),
				"Many", lowerFirst(t.Label(lang, 2)))}
		var ticked []string
		for _, r := range rs {
			o := resourceOption{ID: r.ID, Name: r.Name, ShowID: names[r.Name] > 1,
				Checked: s.Some && slices.Contains(s.IDs, r.ID), Label: r.Name}
			if o.ShowID {
				o.Label = r.Name + " (" + r.ID + ")"
			}
			if o.Checked {
				ticked = append(ticked, o.Label)
			}
			ch.Options = append(ch.Options, o)
		}
		ch.ReachAll = loc.T("resource_reach_all", "One", lowerFirst(t.Label(lang, 1)))
		ch.ReachNone = loc.T("resource_reach_none")
		ch.ReachSome = loc.TAround("resource_reach_some", "Names")
		switch {
		case !s.Some:
			ch.Reach = ch.ReachAll
		case len(ticked) == 0:
			ch.Reach = ch.ReachNone
		default:
			ch.Reach = loc.T("resource_reach_some", "Names", joinNames(loc, ticked))
		}
		out[sc] = ch
	}
	return out
}

// parseResourceChoice reads the posted choices of resources into the grant
// of the ticked scopes, and the selections as posted (for the page shown
// again). empty is the first ticked scope whose "only these" has nothing
// ticked. A field the page could not have offered is errForgedChoice.
func (k *Kit) parseResourceChoice(form url.Values, requested, granted []string, have map[string][]store.Resource) (
	grant store.ResourceGrant, sel map[string]resourceSelection, empty string, err error) {
	sel = map[string]resourceSelection{}
	for key, vals := range form {
		var sc string
		var mode bool
		switch {
		case strings.HasPrefix(key, fieldResourcesMode):
			sc, mode = strings.TrimPrefix(key, fieldResourcesMode), true
		case strings.HasPrefix(key, fieldResources):
			sc = strings.TrimPrefix(key, fieldResources)
		default:
			continue
		}
		rs, ok := k.offered(sc, have)
		if !ok || !slices.Contains(requested, sc) {
			return nil, nil, "", fmt.Errorf("%w: %q", errForgedChoice, sc)
		}
		s := sel[sc]
		if mode {
			if len(vals) != 1 || (vals[0] != modeAll && vals[0] != modeSome) {
				return nil, nil, "", fmt.Errorf("%w: mode %q of %q", errForgedChoice, vals, sc)
			}
			s.Some = vals[0] == modeSome
		} else {
			for _, id := range vals {
				if !slices.ContainsFunc(rs, func(r store.Resource) bool { return r.ID == id }) {
					return nil, nil, "", fmt.Errorf("%w: resource %q of %q", errForgedChoice, id, sc)
				}
				if !slices.Contains(s.IDs, id) {
					s.IDs = append(s.IDs, id)
				}
			}
		}
		sel[sc] = s
	}
	// In the page's order, so that the message names the first scope.
	for _, sc := range requested {
		s, ok := sel[sc]
		if !ok || !s.Some || !slices.Contains(granted, sc) {
			// No mode posted (a page shown before the merchant had
			// resources of the type) is the page's default: all.
			continue
		}
		if len(s.IDs) == 0 {
			if empty == "" {
				empty = sc
			}
			continue
		}
		if grant == nil {
			grant = store.ResourceGrant{}
		}
		grant[sc] = slices.Clone(s.IDs)
	}
	return grant, sel, empty, nil
}

// reach says what a connection's scope reaches, for the connections
// pages: "" for a scope not bound to a resource type; for a limited one,
// the names from the merchant's current set (have), an id no longer in it
// marked as removed. With have nil (names not read) ids stand for names.
func (k *Kit) reach(loc localizer, scope string, grant store.ResourceGrant, have map[string][]store.Resource) string {
	t, ok := k.scopeType(scope)
	if !ok {
		return ""
	}
	lang := loc.lang.String()
	ids, limited := grant.Limited(scope)
	if !limited {
		return loc.T("resource_reach_all", "One", lowerFirst(t.Label(lang, 1)))
	}
	rs := have[t.Name]
	repeated := repeatedNames(rs)
	labels := make([]string, 0, len(ids))
	for _, id := range ids {
		i := slices.IndexFunc(rs, func(r store.Resource) bool { return r.ID == id })
		switch {
		case have == nil:
			labels = append(labels, id)
		case i < 0:
			labels = append(labels, loc.T("resource_removed", "ID", id))
		case repeated[rs[i].Name] > 1:
			labels = append(labels, rs[i].Name+" ("+id+")")
		default:
			labels = append(labels, rs[i].Name)
		}
	}
	return loc.T("resource_reach_some", "Names", joinNames(loc, labels))
}

// limitedTypes are the resource types of the limited scopes of conns: the
// sets whose names their connections' pages show.
func (k *Kit) limitedTypes(conns []*store.Connection) []string {
	var scopes []string
	for _, cn := range conns {
		for sc := range cn.Resources {
			scopes = append(scopes, sc)
		}
	}
	return k.boundTypes(scopes)
}

// repeatedNames counts the resources of each name.
func repeatedNames(rs []store.Resource) map[string]int {
	out := make(map[string]int, len(rs))
	for _, r := range rs {
		out[r.Name]++
	}
	return out
}

// joinNames joins names as a sentence does: "A", "A y B", "A, B y C".
func joinNames(loc localizer, names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + loc.T("resource_and") + " " + names[len(names)-1]
}

// lowerFirst lowers a type's label for the middle of a sentence
// ("Bodegas" → "bodegas"), leaving a word in capitals ("ERP") as it is.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsUpper(r) {
		return s
	}
	if next, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(next) {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

package consent

import (
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"
)

// scopeGroup is the scopes of one level of risk (read, write, manage, or
// "" for the scopes without a level), as the consent page shows them: a
// request of seventeen scopes reads as three decisions, with the dangerous
// one apart.
type scopeGroup struct {
	Level string
	// Label is the group's heading; SummaryID the plural message of the
	// summary line that counts it.
	Label     string
	SummaryID string
	Scopes    []groupedScope
}

// Count is how many scopes the group holds.
func (g scopeGroup) Count() int { return len(g.Scopes) }

type groupedScope struct {
	scopeView
	// Checked is whether the box starts ticked.
	Checked bool
	// Choice is the scope's choice of resources, nil when it has none.
	Choice *resourceChoice
}

// scopeLevel is the level of a "level:resource" scope; "" for a scope
// without one of the three (the platform's sign-in scopes, "voucher").
func scopeLevel(name string) string {
	level, _, ok := strings.Cut(name, ":")
	if !ok || (level != "read" && level != "write" && level != "manage") {
		return ""
	}
	return level
}

// groupScopes groups scopes by level of risk, each group in the order the
// scopes were asked for. With tick, read and write scopes and the ones
// without a level start ticked and manage scopes do not; without it
// nothing does.
func (k *Kit) groupScopes(c *gin.Context, names []string, loc localizer, tick bool) []scopeGroup {
	return k.groupScopesBy(c, names, loc, func(name string) bool { return tick && scopeLevel(name) != "manage" })
}

// groupScopesTicked is groupScopes with exactly the ticked scopes ticked
// (a form shown again as it was posted).
func (k *Kit) groupScopesTicked(c *gin.Context, names []string, loc localizer, ticked []string) []scopeGroup {
	return k.groupScopesBy(c, names, loc, func(name string) bool { return slices.Contains(ticked, name) })
}

func (k *Kit) groupScopesBy(c *gin.Context, names []string, loc localizer, checked func(string) bool) []scopeGroup {
	byLevel := map[string][]groupedScope{}
	for _, v := range k.describeScopes(c, names) {
		level := scopeLevel(v.Name)
		byLevel[level] = append(byLevel[level], groupedScope{scopeView: v, Checked: checked(v.Name)})
	}
	var groups []scopeGroup
	// Least risk first, so the page reads from "see" to "delete"; the
	// scopes without a level last.
	for _, level := range []string{"read", "write", "manage", ""} {
		if len(byLevel[level]) == 0 {
			continue
		}
		id := level
		if id == "" {
			id = "other"
		}
		groups = append(groups, scopeGroup{Level: id, Label: loc.T("risk_" + id), SummaryID: "summary_" + id,
			Scopes: byLevel[level]})
	}
	return groups
}

// initials are the app's monogram: the first letter of its first two words.
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				out = append(out, unicode.ToUpper(r))
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// redirectHost is where the merchant goes back to: the app's own site.
func redirectHost(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return ""
	}
	return u.Host
}

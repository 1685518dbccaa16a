package consent

import (
	"net/url"
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
	// Resource names what the scope is about (products, sales, …).
	Resource string
	// Checked is whether the box starts ticked.
	Checked bool
}

// scopeLevel splits "level:resource"; a scope without one of the three
// levels has level "".
func scopeLevel(name string) (level, resource string) {
	level, resource, ok := strings.Cut(name, ":")
	if !ok || (level != "read" && level != "write" && level != "manage") {
		level, resource = "", "other"
		if r := plainScopeResource(name); r != "" {
			resource = r
		}
	}
	return level, resource
}

// groupScopes groups scopes by level of risk, each group in the order the
// scopes were asked for. With tick, read and write scopes and the ones
// without a level start ticked and manage scopes do not; without it
// nothing does.
func (k *Kit) groupScopes(c *gin.Context, names []string, loc localizer, tick bool) []scopeGroup {
	byLevel := map[string][]groupedScope{}
	for _, v := range k.describeScopes(c, names) {
		level, resource := scopeLevel(v.Name)
		label := loc.T("resource_" + resource)
		if label == "resource_"+resource {
			label = resource
		}
		byLevel[level] = append(byLevel[level], groupedScope{scopeView: v, Resource: label,
			Checked: tick && level != "manage"})
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

// plainScopeResource groups the scopes without a level prefix that the
// catalogue ships (the platform's sign-in scopes).
func plainScopeResource(name string) string {
	switch name {
	case "openid", "profile", "email":
		return "account"
	case "voucher":
		return "vouchers"
	}
	return ""
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

package consent

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"
)

// scopeGroup is the scopes of one resource (products, sales, …), as the
// consent page shows them.
type scopeGroup struct {
	Resource string
	Label    string
	Scopes   []groupedScope
}

type groupedScope struct {
	scopeView
	// Level is read, write or manage ("" when the name has none), shown as
	// a marker so the merchant sees at a glance how much is asked.
	Level      string
	LevelLabel string
}

// groupScopes groups "level:resource" scopes by resource, in the order
// the resources first appear.
func (k *Kit) groupScopes(c *gin.Context, names []string, loc localizer) []scopeGroup {
	var groups []scopeGroup
	index := map[string]int{}
	for _, v := range k.describeScopes(c, names) {
		level, resource, ok := strings.Cut(v.Name, ":")
		if !ok || (level != "read" && level != "write" && level != "manage") {
			level, resource = "", "other"
			if r := plainScopeResource(v.Name); r != "" {
				resource = r
			}
		}
		i, seen := index[resource]
		if !seen {
			label := loc.T("resource_" + resource)
			if label == "resource_"+resource {
				label = resource
			}
			groups = append(groups, scopeGroup{Resource: resource, Label: label})
			i = len(groups) - 1
			index[resource] = i
		}
		gs := groupedScope{scopeView: v, Level: level}
		if level != "" {
			gs.LevelLabel = loc.T("level_" + level)
		}
		groups[i].Scopes = append(groups[i].Scopes, gs)
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

package consent

import (
	"strings"
	"testing"
	"time"
)

// TestAuditDetails: every detail the store writes in fixed words (as
// store/*.go and store/lua/*.lua write them) names a message, with its
// argument, in both languages, and reads differently in each; an update
// names each part it changed; anything else (scopes, a detail this
// version does not know) is shown as stored. The admin audit page and the
// portal's activity both read details through describeDetail.
func TestAuditDetails(t *testing.T) {
	b, err := newBundle()
	if err != nil {
		t.Fatal(err)
	}
	cat := newCatalogue(b)
	until := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for d, want := range map[string]eventDetail{
		"disabled":            {ID: "audit_detail_disabled"}, // lua/app.lua
		"enabled":             {ID: "audit_detail_enabled"},  // lua/app.lua
		"app-wide revocation": {ID: "audit_detail_app_wide"}, // cleanup.go
		"every connection revoked (generation 12)":               {ID: "audit_detail_revoked_all", Value: "12"},   // lua/app.lua
		"deleted; every connection revoked (generation 3)":       {ID: "audit_detail_deleted", Value: "3"},        // lua/app.lua
		"authorization code presented again; connection revoked": {ID: "audit_detail_code_reuse"},                 // lua/exchange.lua
		"used refresh token presented again; connection revoked": {ID: "audit_detail_refresh_reuse"},              // lua/refresh.lua
		"submitted for review":                                   {ID: "audit_detail_submitted"},                  // appprofile.go
		"review: approved":                                       {ID: "audit_detail_approved"},                   // appprofile.go
		"review: rejected: no logo":                              {ID: "audit_detail_rejected", Value: "no logo"}, // appprofile.go
		"previous secret retired":                                {ID: "audit_detail_retired"},                    // appprofile.go
		"secret rotated; the previous one works until " + until.Format(time.RFC3339): { // appprofile.go
			ID: "audit_detail_rotated", Value: "2026-12-01 10:00 UTC", At: "2026-12-01T10:00:00Z"},
		"registration access token issued (RFC 7591)": {ID: "audit_detail_registered"}, // registration.go
		"created": {ID: "audit_detail_created"}, // lua/app.lua, CreateApp
		"webhook disabled after failing too long": {ID: "audit_detail_webhook_disabled"}, // lua/webhook.lua
		"webhook removed":                         {ID: "audit_detail_webhook_removed"},  // webhooks.go
		"webhook secret rotated; the previous one signs until " + until.Format(time.RFC3339): { // webhooks.go
			ID: "audit_detail_webhook_rotated", Value: "2026-12-01 10:00 UTC", At: "2026-12-01T10:00:00Z"},
		"updated: webhook": {ID: "audit_detail_updated", Parts: []changedPart{{ID: "audit_part_webhook", Raw: "webhook"}}}, // webhooks.go
		"updated: logo":    {ID: "audit_detail_updated", Parts: []changedPart{{ID: "audit_part_logo", Raw: "logo"}}},       // logos.go
		"updated: registration metadata (RFC 7592)": {ID: "audit_detail_updated", // registration.go
			Parts: []changedPart{{ID: "audit_part_registration", Raw: "registration metadata (RFC 7592)"}}},
		// apps.go UpdateApp, every part it names, and one it may name later.
		"updated: name, redirect URIs, scopes, PKCE rule, ID token algorithm, post-logout redirect URIs, security, profile, test merchants, colours": {
			ID: "audit_detail_updated",
			Parts: []changedPart{{"audit_part_name", "name"}, {"audit_part_redirects", "redirect URIs"},
				{"audit_part_scopes", "scopes"}, {"audit_part_pkce", "PKCE rule"},
				{"audit_part_id_token_alg", "ID token algorithm"}, {"audit_part_post_logout", "post-logout redirect URIs"},
				{"audit_part_security", "security"},
				{"audit_part_profile", "profile"}, {"audit_part_test_merchants", "test merchants"}, {"", "colours"}}},
		// Shown as stored.
		"read:products read:checkouts":           {Raw: "read:products read:checkouts"},
		"":                                       {Raw: ""},
		"updated: ":                              {Raw: "updated: "},
		"every connection revoked (generation 4": {Raw: "every connection revoked (generation 4"},
		"something new":                          {Raw: "something new"},
	} {
		got := describeDetail(d)
		if got.ID != want.ID || got.Value != want.Value || got.At != want.At || got.Raw != want.Raw || len(got.Parts) != len(want.Parts) {
			t.Errorf("%q: %+v, want %+v", d, got, want)
			continue
		}
		for i := range got.Parts {
			if got.Parts[i] != want.Parts[i] {
				t.Errorf("%q: part %d is %+v, want %+v", d, i, got.Parts[i], want.Parts[i])
			}
		}
		if got.ID == "" {
			continue
		}
		texts := map[string]string{}
		for _, l := range languages {
			loc := cat.localizer(l)
			ids := []string{got.ID}
			for _, p := range got.Parts {
				if p.ID != "" {
					ids = append(ids, p.ID)
				}
			}
			for _, id := range ids {
				if loc.T(id) == id {
					t.Errorf("%s: no message %q", l, id)
				}
			}
			text := loc.T(got.ID, "Value", got.Value)
			if got.Value != "" && !strings.Contains(text, got.Value) {
				t.Errorf("%s: %s does not show its value %q: %q", l, got.ID, got.Value, text)
			}
			// A date is marked up apart from the words around it.
			if around := loc.TAround(got.ID, "Value"); got.At != "" && (around[0]+got.Value+around[1] != text || around[0] == "") {
				t.Errorf("%s: %s around its date: %q", l, got.ID, around)
			}
			texts[l.String()] = text
		}
		if texts["es"] == texts["en"] {
			t.Errorf("%s reads the same in Spanish and English: %q", got.ID, texts["es"])
		}
	}
	// Every part label is a message in both languages.
	for part, id := range partLabels {
		for _, l := range languages {
			if loc := cat.localizer(l); loc.T(id) == id {
				t.Errorf("%s: part %q has no message %q", l, part, id)
			}
		}
	}
}

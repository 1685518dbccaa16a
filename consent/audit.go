package consent

import (
	"strings"
	"time"
)

// The details of audit events, in the page's language. The store writes
// an event's detail in fixed English words (store/apps.go,
// store/appprofile.go, store/logos.go, store/registration.go,
// store/cleanup.go, store/signingkeys.go, store/lua/app.lua, exchange.lua,
// refresh.lua); the
// admin audit page and the developer portal's activity name them through
// describeDetail, so that both pages read the same. A detail this version
// does not know, and the scopes of a grant or a refresh, are shown as
// stored.

// eventDetail is an audit event's detail as a page shows it.
type eventDetail struct {
	// ID is the message of a detail written in fixed words, with Value
	// its one argument (a generation, a reason, a date); "" when the
	// detail is shown as stored, Raw.
	ID, Value string
	// At is Value's moment (RFC 3339) when Value is a date, which the
	// page keeps on one line.
	At string
	// Parts are what an update changed, after ID's "Updated:".
	Parts []changedPart
	Raw   string
}

// changedPart is one part an app update changed: its label's message id,
// or the store's word (Raw) for a part this version does not name.
type changedPart struct{ ID, Raw string }

// partLabels are the message ids of the parts an app update names in its
// detail ("updated: name, scopes"): UpdateApp's, SetAppLogo's and
// SetRegistrationMeta's.
var partLabels = map[string]string{"name": "audit_part_name", "redirect URIs": "audit_part_redirects",
	"scopes": "audit_part_scopes", "PKCE rule": "audit_part_pkce", "profile": "audit_part_profile",
	"test merchants": "audit_part_test_merchants", "logo": "audit_part_logo",
	"registration metadata (RFC 7592)": "audit_part_registration", "webhook": "audit_part_webhook",
	"ID token algorithm": "audit_part_id_token_alg", "post-logout redirect URIs": "audit_part_post_logout",
	"security": "audit_part_security"}

// fixedDetails are the details written in the same words every time.
var fixedDetails = map[string]string{
	"disabled":                "audit_detail_disabled",
	"enabled":                 "audit_detail_enabled",
	"app-wide revocation":     "audit_detail_app_wide",
	"submitted for review":    "audit_detail_submitted",
	"review: approved":        "audit_detail_approved",
	"previous secret retired": "audit_detail_retired",
	"authorization code presented again; connection revoked": "audit_detail_code_reuse",
	"used refresh token presented again; connection revoked": "audit_detail_refresh_reuse",
	"registration access token issued (RFC 7591)":            "audit_detail_registered",
	"created": "audit_detail_created",
	"webhook disabled after failing too long": "audit_detail_webhook_disabled",
	"webhook removed":                         "audit_detail_webhook_removed",
	"RS256 signing key added, signing at once; older RS256 keys withdrawn": "audit_detail_key_withdrawn_rs256",
	"ES256 signing key added, signing at once; older ES256 keys withdrawn": "audit_detail_key_withdrawn_es256",
}

// datedDetails are the details that end in a date (RFC 3339), by prefix.
var datedDetails = map[string]string{
	"secret rotated; the previous one works until ":         "audit_detail_rotated",
	"webhook secret rotated; the previous one signs until ": "audit_detail_webhook_rotated",
	"RS256 signing key added; it signs from ":               "audit_detail_key_added_rs256",
	"ES256 signing key added; it signs from ":               "audit_detail_key_added_es256",
}

// describeDetail names a detail as the store writes it.
func describeDetail(d string) eventDetail {
	if id, ok := fixedDetails[d]; ok {
		return eventDetail{ID: id}
	}
	if reason, ok := strings.CutPrefix(d, "review: rejected: "); ok {
		return eventDetail{ID: "audit_detail_rejected", Value: reason}
	}
	for prefix, id := range datedDetails {
		if until, ok := strings.CutPrefix(d, prefix); ok {
			v := eventDetail{ID: id, Value: until}
			if t, err := time.Parse(time.RFC3339, until); err == nil {
				v.Value, v.At = formatTime(t), t.UTC().Format(time.RFC3339)
			}
			return v
		}
	}
	if what, ok := strings.CutPrefix(d, "updated: "); ok && what != "" {
		v := eventDetail{ID: "audit_detail_updated"}
		for part := range strings.SplitSeq(what, ", ") {
			v.Parts = append(v.Parts, changedPart{ID: partLabels[part], Raw: part})
		}
		return v
	}
	// An app-wide revocation's app event, and a deletion's (app.lua).
	for prefix, id := range map[string]string{"every connection revoked (generation ": "audit_detail_revoked_all",
		"deleted; every connection revoked (generation ": "audit_detail_deleted"} {
		if g, ok := strings.CutPrefix(d, prefix); ok {
			if g, ok = strings.CutSuffix(g, ")"); ok {
				return eventDetail{ID: id, Value: g}
			}
		}
	}
	return eventDetail{Raw: d}
}

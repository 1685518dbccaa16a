package consent

import (
	"testing"

	"github.com/enlace-oauth/enlace/store"
)

// TestConnectionsBack: after an admin revokes a connection the browser goes
// back to the connections page it came from, with its filters, and nowhere
// else: a path is cleaned before the prefix check, and an old notice is
// dropped.
func TestConnectionsBack(t *testing.T) {
	for in, want := range map[string]string{
		"":                                     "/admin/connections?notice=revoked",
		"/admin/connections":                   "/admin/connections?notice=revoked",
		"/admin/connections?app=a&merchant=m":  "/admin/connections?app=a&merchant=m&notice=revoked",
		"/admin/connections?notice=evil":       "/admin/connections?notice=revoked",
		"/admin/connections/../../login":       "/admin/connections?notice=revoked",
		"/admin/connectionsX":                  "/admin/connections?notice=revoked",
		"/admin":                               "/admin/connections?notice=revoked",
		"//evil.example.net/admin/connections": "/admin/connections?notice=revoked",
		"https://evil.example.net/":            "/admin/connections?notice=revoked",
	} {
		if got := connectionsBack(in); got != want {
			t.Errorf("connectionsBack(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAdminLabels: notices, statuses, event types and actors map to
// messages that exist in both languages; anything else maps to none (the
// details: TestAuditDetails).
func TestAdminLabels(t *testing.T) {
	b, err := newBundle()
	if err != nil {
		t.Fatal(err)
	}
	cat := newCatalogue(b)
	var ids []string
	for _, n := range []string{"done", "revoked_all", "disabled", "enabled", "revoked", "approved", "rejected", "not_in_review"} {
		ids = append(ids, adminNotice(n))
	}
	// The apps page names each status by admin_status_<status>.
	for _, st := range []store.AppStatus{store.StatusDevelopment, store.StatusReview, store.StatusPublished} {
		ids = append(ids, "admin_status_"+string(st))
	}
	for _, n := range []string{"", "admin_done", "<b>x</b>", "Done"} {
		if got := adminNotice(n); got != "" {
			t.Errorf("notice %q shows %q", n, got)
		}
	}
	for _, e := range []store.EventType{store.EventGrant, store.EventExchange, store.EventSignIn, store.EventRefresh,
		store.EventRevoke, store.EventReuse, store.EventApp, store.EventResources} {
		ids = append(ids, eventLabel(e))
	}
	if eventLabel("future") != "" {
		t.Error("an unknown event type has a label")
	}
	ids = append(ids, "admin_actor_merchant", "admin_actor_admin", "admin_actor_admin_key", "admin_actor_client",
		"admin_actor_cli", "admin_actor_code_reuse", "admin_actor_refresh_reuse", "admin_actor_developer")
	for _, l := range languages {
		loc := cat.localizer(l)
		for _, id := range ids {
			if id == "" || loc.T(id) == id {
				t.Errorf("%s: no message %q", l, id)
			}
		}
	}
}

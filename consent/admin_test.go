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

// TestAdminLabels: notices, event types and the store's fixed details map
// to messages that exist in both languages; anything else maps to none.
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
		store.EventRevoke, store.EventReuse, store.EventApp} {
		ids = append(ids, eventLabel(e))
	}
	if eventLabel("future") != "" {
		t.Error("an unknown event type has a label")
	}
	for _, d := range []string{"disabled", "enabled", "app-wide revocation",
		"authorization code presented again; connection revoked",
		"used refresh token presented again; connection revoked", "every connection revoked (generation 3)"} {
		id, _ := detailLabel(d)
		ids = append(ids, id)
	}
	if id, arg := detailLabel("every connection revoked (generation 12)"); id != "admin_detail_revoked_all" || arg != "12" {
		t.Errorf("revoked-all detail: %q %q", id, arg)
	}
	if id, _ := detailLabel("read:products read:checkouts"); id != "" {
		t.Errorf("scopes got a label: %q", id)
	}
	for _, l := range languages {
		loc := cat.localizer(l)
		for _, id := range ids {
			if id == "" || loc.T(id) == id {
				t.Errorf("%s: no message %q", l, id)
			}
		}
	}
}

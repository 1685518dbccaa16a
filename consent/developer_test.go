package consent

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
)

// TestDeveloperLabels: statuses, notices and actors map to messages in
// both languages; anything else maps to none (the details:
// TestAuditDetails).
func TestDeveloperLabels(t *testing.T) {
	b, err := newBundle()
	if err != nil {
		t.Fatal(err)
	}
	cat := newCatalogue(b)
	var ids []string
	for _, a := range []*store.App{{Status: store.StatusDevelopment}, {Status: store.StatusReview},
		{Status: store.StatusPublished}, {Status: store.StatusPublished, Disabled: true}} {
		ids = append(ids, statusLabel(a), "developer_status_"+string(a.Status)+"_hint")
	}
	for _, n := range []string{"updated", "logo", "submitted", "retired", "test_merchant_added", "test_merchant_removed", "deleted"} {
		ids = append(ids, developerNotice(n))
	}
	if developerNotice("<b>") != "" || developerNotice("developer_notice_logo") != "" {
		t.Error("a notice outside the set shows")
	}
	dev := &store.Developer{ID: "d1"}
	for actor, want := range map[store.Actor]string{store.ActorDeveloper("d1"): "developer_actor_you",
		store.ActorDeveloper("d2"): "developer_actor_developer", store.ActorAdmin("a"): "admin_actor_admin",
		store.ActorCLI: "admin_actor_cli", store.ActorMerchant("m"): "admin_actor_merchant"} {
		r := developerAuditRow(store.Event{Type: store.EventApp, Actor: actor, Detail: "updated: logo, other"}, dev)
		if r.ActorID != want || r.Said.ID != "audit_detail_updated" || len(r.Said.Parts) != 2 || r.Said.Parts[0].ID != "audit_part_logo" ||
			r.Said.Parts[1] != (changedPart{Raw: "other"}) {
			t.Errorf("actor %s: %+v", actor, r)
		}
		ids = append(ids, r.ActorID)
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

// TestDeveloperMessagesBlock: the portal's messages are one block of
// developer_ keys right after the admin_ block, the same keys in the same
// order in both languages (so that parallel edits to the catalogues stay
// apart).
func TestDeveloperMessagesBlock(t *testing.T) {
	keys := map[string][]string{}
	for _, lang := range []string{"es", "en"} {
		raw, err := localeFiles.ReadFile("locales/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			if k, _, ok := strings.Cut(strings.TrimSpace(sc.Text()), `":`); ok && strings.HasPrefix(k, `"`) {
				order = append(order, strings.TrimPrefix(k, `"`))
			}
		}
		first, last := -1, -1
		for i, k := range order {
			if strings.HasPrefix(k, "developer_") {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first <= 0 || !strings.HasPrefix(order[first-1], "admin_") {
			t.Fatalf("%s: the developer_ block does not follow the admin_ keys", lang)
		}
		for _, k := range order[first : last+1] {
			if !strings.HasPrefix(k, "developer_") {
				t.Fatalf("%s: %s inside the developer_ block", lang, k)
			}
		}
		keys[lang] = order[first : last+1]
	}
	if strings.Join(keys["es"], " ") != strings.Join(keys["en"], " ") {
		t.Error("the developer_ blocks differ between es and en")
	}
}

// TestAppFormCheck: the form's own checks name the field a refusal is
// about, with the store's validators.
func TestAppFormCheck(t *testing.T) {
	cat := []string{"read:products", "write:products"}
	ok := appForm{Name: "Sync", RedirectURIs: "https://a.example/cb\r\n\r\nhttp://127.0.0.1:9/cb\n", Scopes: []string{"read:products"},
		Homepage: "https://a.example", SupportEmail: "s@a.example"}
	if msg, _ := ok.check(cat); msg != "" {
		t.Fatalf("a good form refused: %s", msg)
	}
	if got := ok.redirectList(); strings.Join(got, " ") != "https://a.example/cb http://127.0.0.1:9/cb" {
		t.Fatalf("redirect list: %q", got)
	}
	for _, tc := range []struct {
		edit     func(*appForm)
		msg, arg string
	}{
		{func(f *appForm) { f.Name = "" }, "developer_err_app_name", ""},
		{func(f *appForm) { f.RedirectURIs = " \n " }, "developer_err_redirect_none", ""},
		{func(f *appForm) { f.RedirectURIs = "http://a.example/cb" }, "developer_err_redirect", "http://a.example/cb"},
		{func(f *appForm) { f.Scopes = nil }, "developer_err_scope_none", ""},
		{func(f *appForm) { f.Scopes = []string{"read:products", "read:all"} }, "developer_err_scope", "read:all"},
		{func(f *appForm) { f.Terms = "ftp://a.example/t" }, "developer_err_url", "ftp://a.example/t"},
		{func(f *appForm) { f.SupportEmail = "nope" }, "developer_err_email", "nope"},
	} {
		f := ok
		tc.edit(&f)
		if msg, arg := f.check(cat); msg != tc.msg || arg != tc.arg {
			t.Errorf("%+v: %q %q, want %q %q", f, msg, arg, tc.msg, tc.arg)
		}
	}
}

// TestAppFormChanges: an edit sends the store only what differs from the
// app (so that its activity names what changed), as the store keeps each
// field; an unchanged form is no update.
func TestAppFormChanges(t *testing.T) {
	a := &store.App{Name: "Sync", RedirectURIs: []string{"https://a.example/cb", "http://127.0.0.1:9/cb"},
		Scopes: []string{"read:products", "read:stocks"},
		Profile: store.Profile{Description: "Sincroniza.\r\nRápido.", Publisher: "Bodegas SpA", Homepage: "https://a.example",
			SupportEmail: "soporte@a.example"}}
	same := appForm{Name: "Sync", Description: "  Sincroniza.\r\nRápido.\r\n", Publisher: "Bodegas SpA ", Homepage: "https://a.example",
		SupportEmail: "Soporte@A.example", RedirectURIs: "https://a.example/cb\r\n\r\nhttp://127.0.0.1:9/cb\r\n",
		Scopes: []string{"read:stocks", "read:products"}}
	if u, changed := same.changes(a); changed || u.Name != nil || u.RedirectURIs != nil || u.Scopes != nil || u.Description != nil ||
		u.Publisher != nil || u.Homepage != nil || u.PrivacyPolicy != nil || u.Terms != nil || u.SupportEmail != nil {
		t.Fatalf("an unchanged form changes %+v", u)
	}
	moved := same
	moved.RedirectURIs = "https://a.example/cb\nhttps://b.example/cb"
	u, changed := moved.changes(a)
	if !changed || !slices.Equal(u.RedirectURIs, []string{"https://a.example/cb", "https://b.example/cb"}) || u.Name != nil ||
		u.Scopes != nil || u.Homepage != nil || u.SupportEmail != nil {
		t.Fatalf("a new redirect URI: %+v", u)
	}
	other := same
	other.Name, other.Terms, other.Scopes = "Sync 2", "https://a.example/terminos", []string{"read:products"}
	u, changed = other.changes(a)
	if !changed || u.Name == nil || *u.Name != "Sync 2" || u.Terms == nil || *u.Terms != "https://a.example/terminos" ||
		!slices.Equal(u.Scopes, []string{"read:products"}) || u.RedirectURIs != nil || u.Description != nil || u.Publisher != nil {
		t.Fatalf("a new name, terms and scopes: %+v", u)
	}
	cleared := same
	cleared.Publisher = " "
	if u, changed = cleared.changes(a); !changed || u.Publisher == nil || *u.Publisher != "" {
		t.Fatalf("a cleared publisher: %+v", u)
	}
}

// TestWebhookLabels: a delivery's statuses, the deliverer's fixed
// reasons, an endpoint's states, the webhook notices and the durations
// map to messages in both languages; a delivery's last answer is its
// HTTP status, or its reason.
func TestWebhookLabels(t *testing.T) {
	b, err := newBundle()
	if err != nil {
		t.Fatal(err)
	}
	cat := newCatalogue(b)
	ids := []string{"developer_delivery_unknown"}
	for _, id := range deliveryStatusLabels {
		ids = append(ids, id)
	}
	for _, id := range attemptErrors {
		ids = append(ids, id)
	}
	now := time.Now()
	for _, w := range []store.Webhook{{URL: "https://a.example/h"}, {URL: "https://a.example/h", FailingSince: now},
		{URL: "https://a.example/h", FailingSince: now, DisabledAt: now}} {
		ids = append(ids, newWebhookState(cat.localizer(languages[0]), w, now).StateID)
	}
	if s := newWebhookState(cat.localizer(languages[0]), store.Webhook{}, now); s.State != "" || s.StateID != "" {
		t.Errorf("no endpoint has a state: %+v", s)
	}
	for _, n := range []string{"webhook_saved", "webhook_removed", "ping_sent", "resent"} {
		ids = append(ids, developerNotice(n))
	}
	ids = append(ids, adminNotice("resent"))
	for _, l := range languages {
		loc := cat.localizer(l)
		for _, id := range ids {
			if id == "" || loc.T(id) == id {
				t.Errorf("%s: no message %q", l, id)
			}
		}
	}
	es, en := cat.localizer(languages[0]), cat.localizer(languages[1])
	for _, c := range []struct {
		loc  localizer
		d    time.Duration
		want string
	}{
		{es, 120 * time.Hour, "5 días"}, {en, 24 * time.Hour, "1 day"}, {es, time.Hour, "1 hora"},
		{en, 36 * time.Hour, "36 hours"}, {es, 90 * time.Second, "2 minutos"}, {en, 0, ""},
	} {
		if got := durationText(c.loc, c.d); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.loc.lang, c.d, got, c.want)
		}
	}
	rows := deliveryRows(es, []*store.Delivery{
		{ID: "evt_1", Status: store.DeliveryPending, NextAt: now, Log: []store.DeliveryAttempt{{Status: 500, Latency: 12 * time.Millisecond, Error: "HTTP 500"}}},
		{ID: "evt_2", Status: store.DeliveryFailed, Log: []store.DeliveryAttempt{{Error: "no answer within the timeout", Latency: 5 * time.Second}}},
		{ID: "evt_3", Status: store.DeliveryDelivering, NextAt: now, Log: []store.DeliveryAttempt{{Error: "refused: 10.0.0.1 is not a public address"}}},
		{ID: "evt_4", Status: "future"},
	})
	if r := rows[0]; r.HTTPStatus != 500 || r.Latency != "12 ms" || r.NextAt.IsZero() || r.InFlight || r.StatusID != "developer_delivery_pending" {
		t.Errorf("a pending delivery: %+v", r)
	}
	if r := rows[1]; r.HTTPStatus != 0 || r.AnswerID != "developer_answer_timeout" || r.Latency != "5000 ms" || !r.NextAt.IsZero() {
		t.Errorf("a failed delivery: %+v", r)
	}
	if r := rows[2]; !r.InFlight || !r.NextAt.IsZero() || r.AnswerID != "" || r.Answer != "refused: 10.0.0.1 is not a public address" || r.Latency != "" {
		t.Errorf("a delivery in flight: %+v", r)
	}
	if r := rows[3]; r.StatusID != "developer_delivery_unknown" || r.Latency != "" {
		t.Errorf("an unknown status: %+v", r)
	}
}

package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestAdminReviewPages: the apps page shows each app's status and owner;
// an app in review offers Aprobar and Rechazar, each through its own
// confirmation page (a rejection with its reason); an unconfirmed post, a
// rejection without a reason and a decision on an app not in review write
// nothing (issue 15).
func TestAdminReviewPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	dev, err := e.st.CreateDeveloper(ctx, "dev@sync.example.com", "Dev", password)
	if err != nil {
		t.Fatal(err)
	}
	newDevApp := func(name string) string {
		t.Helper()
		a, _, err := e.st.CreateApp(ctx, store.AppSpec{Name: name, Owner: dev.ID, RedirectURIs: []string{appRedirect},
			Scopes: []string{"read:products"}}, e.cfg.Scopes.Names())
		if err != nil {
			t.Fatal(err)
		}
		return a.ClientID
	}
	inReview, inDev := newDevApp("Sync"), newDevApp("Borrador")
	if err := e.st.SubmitApp(ctx, inReview, store.ActorDeveloper(dev.ID)); err != nil {
		t.Fatal(err)
	}
	adm := e.adminBrowser()
	list := adm.get("/admin")
	csrf := csrfOf(t, list)
	row := func(p page, id string) string {
		t.Helper()
		m := regexp.MustCompile(`(?s)<tr id="app-` + regexp.QuoteMeta(id) + `">.*?</tr>`).FindString(p.body)
		if m == "" {
			t.Fatalf("no row for app %s:\n%s", id, p.body)
		}
		return html.UnescapeString(m)
	}
	for id, wants := range map[string][]string{
		inReview:       {"En revisión", "dev@sync.example.com", `href="/admin/apps/` + inReview + `/approve"`, `href="/admin/apps/` + inReview + `/reject"`, "Aprobar", "Rechazar"},
		inDev:          {"En desarrollo", "dev@sync.example.com"},
		e.app.ClientID: {"Publicada", "Del operador"},
	} {
		r := row(list, id)
		for _, want := range wants {
			if !strings.Contains(r, want) {
				t.Errorf("the row of %s lacks %q:\n%s", id, want, r)
			}
		}
		if id != inReview && strings.Contains(r, "/approve") {
			t.Errorf("an app not in review offers approval:\n%s", r)
		}
	}
	if strings.Contains(list.body, `action="/admin/apps/`+inReview+`/approve"`) || strings.Contains(list.body, `action="/admin/apps/`+inReview+`/reject"`) {
		t.Fatal("the apps page posts a review decision without confirmation")
	}
	if p := adm.get("/admin?lang=en"); !strings.Contains(row(p, inReview), "In review") || !strings.Contains(p.body, ">Approve<") {
		t.Errorf("the apps page in English:\n%s", row(p, inReview))
	}
	adm.get("/admin?lang=es")

	// Nothing is decided without the confirmation page's form, without
	// CSRF, without a reason, or for an app that is not in review.
	before := redistest.Snapshot(t, e.rdb)
	for _, d := range []string{"approve", "reject"} {
		path := "/admin/apps/" + inReview + "/" + d
		if p := adm.post(path, url.Values{"csrf_token": {csrf}, "reason": {"x"}}); p.status != http.StatusSeeOther || p.location != path {
			t.Errorf("unconfirmed POST %s: %d %s", path, p.status, p.location)
		}
		if p := adm.post(path, url.Values{"confirmed": {"yes"}, "reason": {"x"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s without CSRF: %d", path, p.status)
		}
	}
	for _, reason := range []string{"", "   "} {
		p := adm.post("/admin/apps/"+inReview+"/reject", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}, "reason": {reason}})
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, "Escribe el motivo del rechazo") || !strings.Contains(p.body, `name="reason"`) {
			t.Errorf("a rejection with reason %q: %d\n%s", reason, p.status, p.body)
		}
	}
	for _, d := range []string{"approve", "reject"} {
		if p := adm.post("/admin/apps/"+inDev+"/"+d, url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}, "reason": {"x"}}); p.status != http.StatusSeeOther ||
			p.location != "/admin?notice=not_in_review" {
			t.Errorf("%s of an app in development: %d %s", d, p.status, p.location)
		}
		if p := adm.get("/admin/apps/" + inDev + "/" + d); p.status != http.StatusSeeOther || p.location != "/admin?notice=not_in_review" {
			t.Errorf("the %s page of an app in development: %d %s", d, p.status, p.location)
		}
		if p := adm.get("/admin/apps/nope/" + d); p.status != http.StatusNotFound {
			t.Errorf("the %s page of an unknown app: %d", d, p.status)
		}
		if p := adm.post("/admin/apps/nope/"+d, url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}, "reason": {"x"}}); p.status != http.StatusNotFound {
			t.Errorf("%s of an unknown app: %d", d, p.status)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	if p := adm.get("/admin?notice=not_in_review"); !strings.Contains(p.body, "La aplicación no está en revisión") {
		t.Error("no notice for an app not in review")
	}

	// The confirmation pages: the app, its developer, a confirmed form.
	page := adm.get("/admin/apps/" + inReview + "/approve")
	text := html.UnescapeString(page.body)
	for _, want := range []string{"¿Aprobar Sync?", "cualquier comercio podrá conectarla", "dev@sync.example.com", dev.ID,
		`name="confirmed" value="yes"`, `action="/admin/apps/` + inReview + `/approve"`, "Sí, aprobar", `href="/admin"`} {
		if !strings.Contains(text, want) {
			t.Fatalf("the approval page lacks %q:\n%s", want, page.body)
		}
	}
	if strings.Contains(page.body, `name="reason"`) || strings.Contains(page.body, `class="affected"`) {
		t.Fatalf("the approval page asks for a reason or counts connections:\n%s", page.body)
	}
	page = adm.get("/admin/apps/" + inReview + "/reject?lang=en")
	text = html.UnescapeString(page.body)
	for _, want := range []string{"Reject Sync?", "Its developer sees the reason", `<textarea id="reason" name="reason"`, "required",
		`action="/admin/apps/` + inReview + `/reject"`, "Yes, reject"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the rejection page lacks %q:\n%s", want, page.body)
		}
	}
	adm.get("/admin?lang=es")

	// Confirmed, each decides.
	p := adm.post("/admin/apps/"+inReview+"/reject", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"},
		"reason": {" La política de privacidad no carga. "}})
	if p.status != http.StatusSeeOther || p.location != "/admin?notice=rejected" {
		t.Fatalf("confirmed rejection: %d %s", p.status, p.location)
	}
	a, err := e.st.GetApp(ctx, inReview)
	if err != nil || a.Status != store.StatusDevelopment || a.ReviewNote != "La política de privacidad no carga." {
		t.Fatalf("after the rejection: %+v %v", a, err)
	}
	if p := adm.get(p.location); !strings.Contains(p.body, "La aplicación volvió a desarrollo") {
		t.Error("no notice after the rejection")
	}
	if err := e.st.SubmitApp(ctx, inReview, store.ActorDeveloper(dev.ID)); err != nil {
		t.Fatal(err)
	}
	p = adm.post("/admin/apps/"+inReview+"/approve", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
	if p.status != http.StatusSeeOther || p.location != "/admin?notice=approved" {
		t.Fatalf("confirmed approval: %d %s", p.status, p.location)
	}
	if a, _ := e.st.GetApp(ctx, inReview); a.Status != store.StatusPublished {
		t.Fatalf("after the approval: %s", a.Status)
	}
	p = adm.get(p.location)
	if !strings.Contains(p.body, "La aplicación quedó publicada.") || !strings.Contains(row(p, inReview), "Publicada") ||
		strings.Contains(row(p, inReview), "/approve") {
		t.Errorf("the apps page after the approval:\n%s", row(p, inReview))
	}
	events, _, err := e.st.ListAudit(ctx, store.AuditFilter{ClientID: inReview}, "", 5)
	if err != nil || len(events) == 0 || events[0].Detail != "review: approved" || !strings.HasPrefix(string(events[0].Actor), "admin:") {
		t.Errorf("the approval's audit event: %+v %v", events, err)
	}
	// A suspended (disabled) app says so beside its status.
	if err := e.st.SetAppDisabled(ctx, inReview, true, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if r := row(adm.get("/admin"), inReview); !strings.Contains(r, "Publicada") || !strings.Contains(r, "Deshabilitada") {
		t.Errorf("a suspended app's row:\n%s", r)
	}
}

// TestAdminDevelopersPage: the developers, paged, and the invitation form,
// which shows the invitation link once and writes nothing for a bad or
// taken email (issue 15).
func TestAdminDevelopersPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for i := range 51 {
		if _, err := e.st.CreateDeveloper(ctx, fmt.Sprintf("dev%02d@sync.example.com", i), fmt.Sprintf("Dev %02d", i), password); err != nil {
			t.Fatal(err)
		}
	}
	adm := e.adminBrowser()
	p := adm.get("/admin/developers")
	csrf := csrfOf(t, p)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Desarrolladores (51)") || !strings.Contains(p.body, "dev00@sync.example.com") ||
		strings.Contains(p.body, "dev50@sync.example.com") || !strings.Contains(p.body, `href="/admin/developers"`) {
		t.Fatalf("developers page 1: %d\n%s", p.status, p.body)
	}
	next := regexp.MustCompile(`<a href="(/admin/developers\?[^"]+)">Siguiente`).FindStringSubmatch(p.body)
	if next == nil {
		t.Fatalf("no next page link:\n%s", p.body)
	}
	if p := adm.get(html.UnescapeString(next[1])); !strings.Contains(p.body, "dev50@sync.example.com") || strings.Contains(p.body, "dev00@") {
		t.Fatalf("developers page 2:\n%s", p.body)
	}

	before := redistest.Snapshot(t, e.rdb)
	for _, c := range []struct {
		email, want string
		status      int
	}{
		{"nope", "Ese correo no es válido.", http.StatusBadRequest},
		{"", "Ese correo no es válido.", http.StatusBadRequest},
		{"DEV07@sync.example.com", "Ese correo ya tiene una cuenta de desarrollador.", http.StatusConflict},
	} {
		p := adm.post("/admin/developers/invite", url.Values{"csrf_token": {csrf}, "email": {c.email}})
		if p.status != c.status || !strings.Contains(html.UnescapeString(p.body), c.want) || strings.Contains(p.body, "invite=") {
			t.Errorf("invite %q: %d\n%s", c.email, p.status, p.body)
		}
	}
	if p := adm.post("/admin/developers/invite", url.Values{"email": {"new@sync.example.com"}}); p.status != http.StatusForbidden {
		t.Errorf("invite without CSRF: %d", p.status)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	p = adm.post("/admin/developers/invite", url.Values{"csrf_token": {csrf}, "email": {"New@Sync.example.com"}})
	m := regexp.MustCompile(`<code class="invite-link">([^<]+)</code>`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || !strings.Contains(p.body, "new@sync.example.com") {
		t.Fatalf("invite: %d\n%s", p.status, p.body)
	}
	link, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil || link.Scheme+"://"+link.Host != e.cfg.Issuer || link.Path != "/developers/signup" {
		t.Fatalf("the invitation link: %s %v", m[1], err)
	}
	tok := link.Query().Get("invite")
	if email, err := e.st.InvitedEmail(ctx, tok); err != nil || email != "new@sync.example.com" {
		t.Fatalf("the invitation: %q %v", email, err)
	}
	if strings.Contains(e.logs.String(), tok) || strings.Contains(e.logs.String(), "new@sync.example.com") {
		t.Error("the invitation or its email is in the log")
	}
	// Shown once: the page after it has no link.
	if p := adm.get("/admin/developers"); strings.Contains(p.body, tok) || strings.Contains(p.body, "invite-link") {
		t.Error("the invitation link is shown again")
	}
}

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
)

// TestAdminDestructiveActionsAreConfirmed: disabling an app, revoking all
// of its connections and revoking one connection each go through a
// confirmation page that names the app and says how many connections are
// affected. A post that did not come from that page (no confirmation
// field, even with the CSRF token) acts on nothing and is sent to it.
func TestAdminDestructiveActionsAreConfirmed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first, second := e.pair(), e.pair()
	adm := e.adminBrowser()
	csrf := csrfOf(t, adm.get("/admin/connections"))
	app := e.app.ClientID
	working := func(what string, r response) {
		t.Helper()
		if got := e.info(r.json["access_token"].(string)); got.status != http.StatusOK {
			t.Fatalf("%s: the token stopped working (%d)", what, got.status)
		}
	}

	// The apps page links to the confirmation pages; it posts nothing
	// destructive itself.
	list := adm.get("/admin")
	for _, want := range []string{`href="/admin/apps/` + app + `/disable"`, `href="/admin/apps/` + app + `/revoke-all"`} {
		if !strings.Contains(list.body, want) {
			t.Fatalf("the apps page lacks %s:\n%s", want, list.body)
		}
	}
	if strings.Contains(list.body, `action="/admin/apps/`+app+`/disable"`) || strings.Contains(list.body, `action="/admin/apps/`+app+`/revoke-all"`) {
		t.Fatal("the apps page posts a destructive action without confirmation")
	}
	conns := adm.get("/admin/connections")
	if strings.Contains(conns.body, `/revoke" method`) || regexp.MustCompile(`action="/admin/connections/[^"]+/revoke"`).MatchString(conns.body) {
		t.Fatal("the connections page posts a revocation without confirmation")
	}

	for _, tc := range []struct{ path, confirm string }{
		{"/admin/apps/" + app + "/disable", "/admin/apps/" + app + "/disable"},
		{"/admin/apps/" + app + "/revoke-all", "/admin/apps/" + app + "/revoke-all"},
		{"/admin/connections/" + first.json["connection_id"].(string) + "/revoke",
			"/admin/connections/" + first.json["connection_id"].(string) + "/revoke?back="},
	} {
		p := adm.post(tc.path, url.Values{"csrf_token": {csrf}})
		if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, tc.confirm) {
			t.Fatalf("unconfirmed POST %s: %d %s", tc.path, p.status, p.location)
		}
		if p := adm.post(tc.path, url.Values{"csrf_token": {csrf}, "confirmed": {"no"}}); p.status != http.StatusSeeOther {
			t.Fatalf("POST %s confirmed=no: %d", tc.path, p.status)
		}
		// And without the CSRF token, a confirmed post is refused.
		if p := adm.post(tc.path, url.Values{"confirmed": {"yes"}}); p.status != http.StatusForbidden {
			t.Fatalf("POST %s without CSRF: %d", tc.path, p.status)
		}
	}
	working("unconfirmed posts", first)
	working("unconfirmed posts", second)
	if a, err := e.st.GetApp(context.Background(), app); err != nil || a.Disabled || a.Generation != 0 {
		t.Fatalf("an unconfirmed post changed the app: %+v %v", a, err)
	}

	// The confirmation pages: the app's name, the count, a confirmed
	// form with the CSRF token, and a way back.
	page := adm.get("/admin/apps/" + app + "/disable")
	text := html.UnescapeString(page.body)
	for _, want := range []string{"¿Deshabilitar Sincronizador?", "Sincronizador tiene 2 conexiones activas", `name="confirmed" value="yes"`,
		`action="/admin/apps/` + app + `/disable"`, `class="affected">2<`, "Sí, deshabilitar", `href="/admin"`} {
		if !strings.Contains(text, want) {
			t.Fatalf("the disable confirmation lacks %q:\n%s", want, page.body)
		}
	}
	page = adm.get("/admin/apps/" + app + "/revoke-all?lang=en")
	text = html.UnescapeString(page.body)
	for _, want := range []string{"Revoke every connection of Sincronizador?", "2 connections will be revoked", `class="affected">2<`} {
		if !strings.Contains(text, want) {
			t.Fatalf("the revoke-all confirmation lacks %q:\n%s", want, page.body)
		}
	}
	adm.get("/admin?lang=es")
	id := first.json["connection_id"].(string)
	page = adm.get("/admin/connections/" + id + "/revoke?back=" + url.QueryEscape("/admin/connections?app="+app))
	text = html.UnescapeString(page.body)
	for _, want := range []string{"¿Revocar esta conexión de Sincronizador?", "Se revocará 1 conexión: la de ana@tienda.cl con Sincronizador",
		`class="affected">1<`, `name="back" value="/admin/connections?app=` + app + `"`} {
		if !strings.Contains(text, want) {
			t.Fatalf("the revoke confirmation lacks %q:\n%s", want, page.body)
		}
	}
	if p := adm.get("/admin/apps/nope/disable"); p.status != http.StatusNotFound {
		t.Fatalf("confirmation of an unknown app: %d", p.status)
	}
	if p := adm.get("/admin/connections/" + store.NewID() + "/revoke"); p.status != http.StatusNotFound {
		t.Fatalf("confirmation of an unknown connection: %d", p.status)
	}
	// A back address outside the connections pages is not followed.
	page = adm.get("/admin/connections/" + id + "/revoke?back=" + url.QueryEscape("/admin/connections/../../login"))
	if !strings.Contains(page.body, `name="back" value="/admin/connections"`) {
		t.Fatalf("the confirmation keeps a back address outside /admin/connections:\n%s", page.body)
	}

	// Confirmed, each acts.
	p := adm.post("/admin/connections/"+id+"/revoke", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"},
		"back": {"/admin/connections?app=" + app}})
	if p.status != http.StatusSeeOther || p.location != "/admin/connections?app="+app+"&notice=revoked" {
		t.Fatalf("confirmed revoke: %d %s", p.status, p.location)
	}
	if got := e.info(first.json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatal("the confirmed revocation left the token working")
	}
	working("revoking another connection", second)
	if p := adm.get(p.location); !strings.Contains(p.body, "La conexión fue revocada.") {
		t.Fatal("no notice after revoking")
	}
	if p := adm.get("/admin/connections/" + id + "/revoke"); p.status != http.StatusNotFound {
		t.Fatalf("confirmation of a revoked connection: %d", p.status)
	}
	p = adm.post("/admin/apps/"+app+"/disable", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
	if p.status != http.StatusSeeOther || p.location != "/admin?notice=disabled" {
		t.Fatalf("confirmed disable: %d %s", p.status, p.location)
	}
	if got := e.info(second.json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatal("the confirmed disable left the token working")
	}
	// Enabling destroys nothing: one click.
	if p := adm.post("/admin/apps/"+app+"/enable", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther || p.location != "/admin?notice=enabled" {
		t.Fatalf("enable: %d %s", p.status, p.location)
	}
	working("enable", second)
	p = adm.post("/admin/apps/"+app+"/revoke-all", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}})
	if p.status != http.StatusSeeOther || p.location != "/admin?notice=revoked_all" {
		t.Fatalf("confirmed revoke-all: %d %s", p.status, p.location)
	}
	if got := e.info(second.json["access_token"].(string)); got.status != http.StatusUnauthorized {
		t.Fatal("the confirmed revoke-all left the token working")
	}
}

// TestAdminNoticesFromAFixedSet: ?notice= picks one of the admin pages'
// own messages; any other text (and any count) puts nothing on the page.
func TestAdminNoticesFromAFixedSet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	adm := e.adminBrowser()
	noticeRe := regexp.MustCompile(`(?s)<p class="notice"[^>]*>(.*?)</p>`)
	for _, tc := range []struct{ path, want string }{
		{"/admin?notice=revoked_all", "Todas las conexiones de la aplicación quedaron cortadas al instante"},
		{"/admin?notice=done", "Listo."},
		{"/admin?notice=disabled", "La aplicación quedó deshabilitada"},
		{"/admin?notice=enabled", "La aplicación quedó habilitada."},
		{"/admin/connections?notice=revoked", "La conexión fue revocada."},
		{"/admin?notice=Tu+cuenta+fue+suspendida.+Llama+al+555-1234&count=9999", ""},
		{"/admin?notice=%3Cb%3Ehola%3C%2Fb%3E&count=%3Cscript%3E", ""},
		{"/admin?notice=admin_done", ""},
		{"/admin/connections?notice=Llama+al+555-1234&count=12", ""},
		{"/admin/merchants?notice=Llama+al+555-1234", ""},
		{"/admin/audit?notice=Llama+al+555-1234", ""},
	} {
		p := adm.get(tc.path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d", tc.path, p.status)
		}
		m := noticeRe.FindStringSubmatch(p.body)
		switch {
		case tc.want == "" && m != nil:
			t.Errorf("%s shows a notice: %q", tc.path, m[1])
		case tc.want != "" && (m == nil || !strings.Contains(html.UnescapeString(m[1]), tc.want)):
			t.Errorf("%s: notice %v, want %q", tc.path, m, tc.want)
		}
		// The text of the page, not its links (the language switcher
		// links to this same address, escaped).
		text := html.UnescapeString(regexp.MustCompile(`(?s)<script.*?</script>|<[^>]+>`).ReplaceAllString(p.body, " "))
		for _, echoed := range []string{"555-1234", "hola", "9999", "<script>", "<b>"} {
			if strings.Contains(text, echoed) {
				t.Errorf("%s echoes %q into the page", tc.path, echoed)
			}
		}
	}
}

// auditEnv is an enlace with events from two merchants, an admin, the CLI,
// a developer and apps: a grant and an exchange by ana, a pending grant by
// luis, a revocation and an app disable by the admin; and a developer's
// app's life (an update, a logo, review sent back and approved, a secret
// rotated and retired, another app deleted, one registered and updated
// through RFC 7591/7592).
type auditEnv struct {
	*testEnv
	adm       *browser
	other     *store.Merchant
	otherApp  *store.App
	ana, luis string // connection ids
	dev       *store.Developer
	devApp    *store.App
}

func newAuditEnv(t *testing.T) *auditEnv {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	a := &auditEnv{testEnv: e}
	a.ana = e.pair().json["connection_id"].(string)
	var err error
	if a.other, err = e.st.CreateMerchant(ctx, "luis@almacen.cl", "Almacén de Luis", password); err != nil {
		t.Fatal(err)
	}
	a.otherApp, _ = e.newApp("Etiquetas Rápidas", appRedirect)
	conn, _, err := e.st.Approve(ctx, store.Grant{ClientID: a.otherApp.ClientID, MerchantID: a.other.ID,
		RedirectURI: appRedirect, Scopes: []string{"read:products"}})
	if err != nil {
		t.Fatal(err)
	}
	a.luis = conn.ID
	a.adm = e.adminBrowser()
	csrf := csrfOf(t, a.adm.get("/admin"))
	if p := a.adm.post("/admin/connections/"+a.ana+"/revoke", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	if p := a.adm.post("/admin/apps/"+a.otherApp.ClientID+"/disable", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("disable: %d", p.status)
	}
	if err := e.st.SetAppDisabled(ctx, a.otherApp.ClientID, false, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	a.developerEvents(csrf)
	return a
}

// developerEvents gives a developer's apps the events of issue 15, each
// through the store call the portal, the admin pages or RFC 7591/7592
// make.
func (a *auditEnv) developerEvents(adminCSRF string) {
	t, ctx := a.t, context.Background()
	var err error
	if a.dev, err = a.st.CreateDeveloper(ctx, "dev@bodegas.example", "Dev Bodegas", devPassword); err != nil {
		t.Fatal(err)
	}
	by := store.ActorDeveloper(a.dev.ID)
	newDevApp := func(name string) *store.App {
		t.Helper()
		app, _, err := a.st.CreateApp(ctx, store.AppSpec{Name: name, Owner: a.dev.ID, RedirectURIs: []string{appRedirect},
			Scopes: []string{"read:products"}}, a.cfg.Scopes.Names())
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	a.devApp = newDevApp("Bodegas Sync")
	id := a.devApp.ClientID
	if _, err := a.st.UpdateApp(ctx, id, store.AppUpdate{AddRedirectURIs: []string{"https://bodegas.example/cb"},
		Scopes: []string{"read:products", "read:stocks"}}, a.cfg.Scopes.Names(), by); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.SetAppLogo(ctx, id, pngOf(t, 64, 64), by); err != nil {
		t.Fatal(err)
	}
	review := func(decision string, form url.Values) {
		t.Helper()
		if err := a.st.SubmitApp(ctx, id, by); err != nil {
			t.Fatal(err)
		}
		form.Set("csrf_token", adminCSRF)
		form.Set("confirmed", "yes")
		if p := a.adm.post("/admin/apps/"+id+"/"+decision, form); p.status != http.StatusSeeOther {
			t.Fatalf("%s: %d", decision, p.status)
		}
	}
	review("reject", url.Values{"reason": {"Falta la política de privacidad"}})
	review("approve", url.Values{})
	if _, _, err := a.st.RotateSecret(ctx, id, 24*time.Hour, by); err != nil {
		t.Fatal(err)
	}
	if err := a.st.RetireSecret(ctx, id, by); err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.DeleteApp(ctx, newDevApp("Borrador").ClientID, by); err != nil {
		t.Fatal(err)
	}
	iat, _, err := a.st.CreateInitialAccessToken(ctx, a.dev.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	reg := func(method, uri, tok string, body map[string]any) response {
		t.Helper()
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, uri, bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		return a.send(req)
	}
	md := map[string]any{"redirect_uris": []string{"https://client.example.org/callback"}, "client_name": "Registrada",
		"scope": "read:products"}
	r := reg(http.MethodPost, a.url+"/oauth/register", iat, md)
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	md["client_id"], md["client_name"], md["token_endpoint_auth_method"] = r.json["client_id"], "Registrada 2", "client_secret_post"
	if r := reg(http.MethodPut, r.json["registration_client_uri"].(string), r.json["registration_access_token"].(string), md); r.status != http.StatusOK {
		t.Fatalf("update the registration: %d %s", r.status, r.raw)
	}
}

var auditRowRe = regexp.MustCompile(`(?s)<tr class="event-(\w+)">(.*?)</tr>`)

type auditLine struct{ typ, text string }

// auditLines are the audit page's rows: their event type and their text.
func auditLines(body string) []auditLine {
	var out []auditLine
	tags := regexp.MustCompile(`<[^>]+>`)
	for _, m := range auditRowRe.FindAllStringSubmatch(body, -1) {
		text := html.UnescapeString(tags.ReplaceAllString(m[2], " "))
		out = append(out, auditLine{typ: m[1], text: strings.Join(strings.Fields(text), " ")})
	}
	return out
}

// TestAdminAuditNames: the audit page names what its ids stand for (app
// names, merchant and admin emails), labels events, actors and fixed
// details in the page's language, and keeps each id whole for copying.
// The names cost the page: one pipelined read for the accounts.
func TestAdminAuditNames(t *testing.T) {
	t.Parallel()
	a := newAuditEnv(t)
	p := a.adm.get("/admin/audit")
	lines := auditLines(p.body)
	byType := map[string][]string{}
	for _, l := range lines {
		byType[l.typ] = append(byType[l.typ], l.text)
	}
	has := func(typ string, want ...string) {
		t.Helper()
		for _, text := range byType[typ] {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(text, w)
			}
			if ok {
				return
			}
		}
		t.Errorf("no %s row with %q: %q", typ, want, byType[typ])
	}
	has("grant", "Autorización", "Comercio · ana@tienda.cl", "Sincronizador", a.app.ClientID, a.merchant.ID, a.ana)
	has("grant", "Autorización", "Comercio · luis@almacen.cl", "Etiquetas Rápidas", a.other.ID)
	has("exchange", "Canje de código", "Aplicación · Sincronizador")
	has("revoke", "Revocación", "Administrador · ops@enlace.test", "ana@tienda.cl")
	has("app", "Cambio en la aplicación", "Administrador · ops@enlace.test", "Etiquetas Rápidas", "Deshabilitada")
	has("app", "Línea de comandos", "Habilitada")
	// A developer's events: the developer named by email, and each detail
	// in Spanish.
	dev := "Desarrollador · dev@bodegas.example"
	has("app", dev, "Bodegas Sync", a.devApp.ClientID, a.dev.ID, "Actualizada: URI de redirección, permisos")
	has("app", dev, "Bodegas Sync", "Actualizada: logo")
	has("app", dev, "Bodegas Sync", "Enviada a revisión")
	has("app", "Administrador · ops@enlace.test", "Bodegas Sync", "Revisión: devuelta a desarrollo. Motivo: Falta la política de privacidad")
	has("app", "Administrador · ops@enlace.test", "Bodegas Sync", "Revisión: aprobada y publicada")
	has("app", dev, "Bodegas Sync", "Secreto rotado; el anterior funciona hasta el ", " UTC")
	has("app", dev, "Bodegas Sync", "Secreto anterior desactivado")
	has("app", dev, "Eliminada; todas sus conexiones revocadas (generación 1)")
	has("app", dev, "Registrada", "Registrada por RFC 7591: token de acceso de registro emitido")
	has("app", dev, "Registrada 2", "Actualizada: nombre")
	has("app", dev, "Registrada 2", "Actualizada: metadatos de registro (RFC 7592)")
	for _, l := range lines {
		for _, english := range []string{"grant", "exchange", "revoke", "disabled", "enabled", "admin:", "merchant:", "client:",
			"developer", "Developer", "updated", "redirect", "scopes", "submitted", "review", "approved", "rejected", "secret",
			"rotated", "retired", "previous", "deleted", "every connection", "generation", "registration", "RFC 7591)"} {
			if strings.Contains(l.text, english) {
				t.Errorf("the Spanish audit page shows %q: %q", english, l.text)
			}
		}
	}
	// The developer's name links to the admin page of that developer.
	link := `<a class="name" href="/admin/developers?id=` + a.dev.ID + `">Desarrollador · dev@bodegas.example</a>`
	if !strings.Contains(html.UnescapeString(p.body), link) {
		t.Errorf("no link to the developer's page (%s)", link)
	}
	if dp := a.adm.get("/admin/developers?id=" + a.dev.ID); dp.status != http.StatusOK || !strings.Contains(dp.body, `<tr id="developer-`+a.dev.ID+`">`) ||
		!strings.Contains(dp.body, "Dev Bodegas") || strings.Count(dp.body, `<tr id="developer-`) != 1 || !strings.Contains(dp.body, "Ver todos los desarrolladores") {
		t.Errorf("the developer's page: %d\n%s", dp.status, dp.body)
	}
	if dp := a.adm.get("/admin/developers?id=nobody"); dp.status != http.StatusOK || strings.Contains(dp.body, `<tr id="developer-`) {
		t.Errorf("an unknown developer's page: %d\n%s", dp.status, dp.body)
	}
	// Ids are whole in the page, in an element the stylesheet shortens.
	if !strings.Contains(p.body, `<code class="id" title="`+a.ana+`">`+a.ana+`</code>`) {
		t.Error("the connection id is not shown whole in a code.id")
	}

	en := auditLines(a.adm.get("/admin/audit?lang=en").body)
	enText := ""
	for _, l := range en {
		enText += l.text + "\n"
	}
	for _, want := range []string{"Authorization", "Code exchange", "Revocation", "App change", "Admin · ops@enlace.test", "Disabled", "Command line",
		"Developer · dev@bodegas.example", "Updated: redirect URIs, permissions", "Updated: logo", "Submitted for review",
		"Review: sent back to development. Reason: Falta la política de privacidad", "Review: approved and published",
		"Secret rotated; the previous one works until ", "Previous secret retired", "Deleted; every connection revoked (generation 1)",
		"Registered through RFC 7591", "Updated: name", "Updated: registration metadata (RFC 7592)"} {
		if !strings.Contains(enText, want) {
			t.Errorf("the English audit page lacks %q:\n%s", want, enText)
		}
	}
	for _, spanish := range []string{"Autorización", "Revocación", "Deshabilitada", "Comercio", "Desarrollador", "Actualizada",
		"Enviada", "Revisión", "Secreto", "Eliminada", "Registrada por", "URI de redirección", "permisos", "metadatos"} {
		if strings.Contains(enText, spanish) {
			t.Errorf("the English audit page says %q", spanish)
		}
	}

	// Bounded: the names of a page are one round trip more, whatever the
	// number of events on it (the apps come from the app cache).
	req, _ := http.NewRequest(http.MethodGet, a.url+"/admin/audit?lang=es", nil)
	req.Header.Set("X-Request-Id", "audit-names-1")
	if r := a.adm.do(req); r.status != http.StatusOK {
		t.Fatalf("audit: %d", r.status)
	}
	few := a.calls.of("audit-names-1")
	for range 20 {
		a.pair()
	}
	req, _ = http.NewRequest(http.MethodGet, a.url+"/admin/audit", nil)
	req.Header.Set("X-Request-Id", "audit-names-2")
	a.adm.do(req)
	if many := a.calls.of("audit-names-2"); many > few || many > 6 {
		t.Fatalf("the audit page took %d Redis round trips with 5 events and %d with 45", few, many)
	}
}

// TestAdminAuditFilters: the audit page filters by app, merchant (id or
// email) and connection as the admin API does, keeps the filters in its
// form and on the next page, and clears them.
func TestAdminAuditFilters(t *testing.T) {
	t.Parallel()
	a := newAuditEnv(t)
	types := func(path string) []string {
		t.Helper()
		p := a.adm.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d", path, p.status)
		}
		var out []string
		for _, l := range auditLines(p.body) {
			out = append(out, l.typ)
		}
		return out
	}
	join := func(s []string) string { return strings.Join(s, " ") }
	if got := join(types("/admin/audit?connection=" + a.ana)); got != "revoke exchange grant" {
		t.Errorf("by connection: %s", got)
	}
	if got := join(types("/admin/audit?merchant=" + a.other.ID)); got != "grant" {
		t.Errorf("by merchant id: %s", got)
	}
	if got := join(types("/admin/audit?merchant=" + url.QueryEscape("Luis@Almacen.cl"))); got != "grant" {
		t.Errorf("by merchant email: %s", got)
	}
	if got := join(types("/admin/audit?merchant=" + url.QueryEscape("nadie@tienda.cl"))); got != "" {
		t.Errorf("by an unknown email: %s", got)
	}
	// The app's registration and its grant may share a millisecond, in
	// different shards, whose events the merge orders by shard: the
	// events, not their order, are what to compare.
	if got := types("/admin/audit?app=" + a.otherApp.ClientID); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"app", "app", "app", "grant"}) {
		t.Errorf("by app: %s", join(got))
	}
	if got := join(types("/admin/audit?app=" + a.app.ClientID + "&merchant=" + a.other.ID)); got != "" {
		t.Errorf("by app and another merchant: %s", got)
	}
	if got := join(types("/admin/audit?app=" + a.app.ClientID + "&merchant=" + a.merchant.ID)); got != "revoke exchange grant" {
		t.Errorf("by app and merchant: %s", got)
	}
	p := a.adm.get("/admin/audit?app=" + a.app.ClientID)
	for _, want := range []string{`name="app" value="` + a.app.ClientID + `"`, `class="clear" href="/admin/audit"`, `id="f-merchant"`, `id="f-connection"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the filtered page lacks %s", want)
		}
	}
	if strings.Contains(a.adm.get("/admin/audit").body, `class="clear"`) {
		t.Error("the unfiltered page offers to clear filters")
	}
	if p := a.adm.get("/admin/audit?before=%3Cx"); p.status != http.StatusBadRequest {
		t.Errorf("a bad before: %d", p.status)
	}

	// Paging keeps the filter: 56 events of ana's app (its registration
	// among them), 50 a page.
	for range 26 {
		a.pair()
	}
	p = a.adm.get("/admin/audit?app=" + a.app.ClientID)
	if n := len(auditLines(p.body)); n != 50 {
		t.Fatalf("first page: %d rows", n)
	}
	next := regexp.MustCompile(`<a href="(/admin/audit\?[^"]+)">Siguiente`).FindStringSubmatch(p.body)
	if next == nil {
		t.Fatal("no next page")
	}
	u, _ := url.Parse(html.UnescapeString(next[1]))
	if u.Query().Get("app") != a.app.ClientID || u.Query().Get("before") == "" {
		t.Fatalf("next page link: %s", u)
	}
	rest := auditLines(a.adm.get(u.String()).body)
	if len(rest) != 56-50 {
		t.Fatalf("second page: %d rows", len(rest))
	}
	for _, l := range rest {
		if !strings.Contains(l.text, "Sincronizador") {
			t.Fatalf("the second page left the filter: %q", l.text)
		}
	}
}

// TestAdminConnectionsNames: the connections page shows each merchant's
// email beside its id, and filters by a merchant's email too.
func TestAdminConnectionsNames(t *testing.T) {
	t.Parallel()
	a := newAuditEnv(t)
	p := a.adm.get("/admin/connections?merchant=" + url.QueryEscape("luis@almacen.cl"))
	rows := connRowRe.FindAllStringSubmatch(p.body, -1)
	if len(rows) != 1 || rows[0][1] != a.luis {
		t.Fatalf("connections of luis by email: %v", rows)
	}
	text := html.UnescapeString(p.body)
	for _, want := range []string{"luis@almacen.cl", "Etiquetas Rápidas", `title="` + a.other.ID + `"`, `value="luis@almacen.cl"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the connections page lacks %q", want)
		}
	}
}

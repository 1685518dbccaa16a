package server_test

// The merchant pages of issue 14: local times, plurals, connections
// grouped by app, "already connected N times", an approval with nothing
// ticked, the expired form and session, the HTML 404, the summary of many
// scopes. Browser checks of the same are in browser_merchant_test.go.

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// getLang is b.get with another Accept-Language.
func (b *browser) getLang(path, lang string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.abs(path), nil)
	req.Header.Set("Accept-Language", lang)
	return b.do(req)
}

// approveTimes approves the authorization request n times in one logged-in
// browser: n connections.
func (b *browser) approveTimes(authorize string, n int) {
	b.t.Helper()
	for range n {
		p := b.get(authorize)
		if p.status != http.StatusOK {
			b.t.Fatalf("consent page: %d\n%s", p.status, p.body)
		}
		b.approve(authorize, p, "read:products")
	}
}

// text is a page's body with the tags taken out and entities decoded, its
// white space squeezed: what a person reads.
func text(body string) string {
	body = regexp.MustCompile(`(?s)<script.*?</script>`).ReplaceAllString(body, " ")
	body = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(body, " ")
	return strings.Join(strings.Fields(html.UnescapeString(body)), " ")
}

var (
	monthsES = []string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
		"octubre", "noviembre", "diciembre"}
	timeRe = regexp.MustCompile(`<time class="date" datetime="([^"]+)" data-local>([^<]+)</time>`)
)

// TestLocalTimeFallback: without scripts, the connections page writes each
// date out in the page language, in UTC, inside a <time> carrying the
// RFC 3339 moment, which static/localtime.js rewrites; the date does not
// wrap.
func TestLocalTimeFallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.pair("read:products").json["connection_id"].(string)
	cn, err := e.st.GetConnection(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	created, used := cn.CreatedAt.UTC(), cn.LastUsed.UTC()
	b := e.browser()
	b.loginAndConsentPage("/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode())

	es := b.get("/connections")
	times := timeRe.FindAllStringSubmatch(es.body, -1)
	if len(times) != 2 {
		t.Fatalf("want 2 <time> (connected, last used), got %d:\n%s", len(times), es.body)
	}
	wantES := fmt.Sprintf("%d de %s de %d, %s UTC", created.Day(), monthsES[created.Month()-1], created.Year(), created.Format("15:04"))
	if times[0][1] != created.Format(time.RFC3339) || times[0][2] != wantES {
		t.Fatalf("Spanish date: datetime %q text %q, want %q %q", times[0][1], times[0][2], created.Format(time.RFC3339), wantES)
	}
	if times[1][1] != used.Format(time.RFC3339) {
		t.Fatalf("last used: %q, want %q", times[1][1], used.Format(time.RFC3339))
	}
	if !strings.Contains(es.body, `/static/localtime.`) {
		t.Fatal("the page does not load localtime.js")
	}

	en := b.getLang("/connections", "en")
	times = timeRe.FindAllStringSubmatch(en.body, -1)
	wantEN := fmt.Sprintf("%s %d, %d, %s UTC", created.Month(), created.Day(), created.Year(), created.Format("15:04"))
	if len(times) != 2 || times[0][2] != wantEN {
		t.Fatalf("English date: %v, want %q", times, wantEN)
	}

	confirm := b.get("/connections/" + id + "/revoke")
	if m := timeRe.FindStringSubmatch(confirm.body); m == nil || m[2] != wantES {
		t.Fatalf("the confirmation page's date: %v", m)
	}

	css := e.send(mustRequest(http.MethodGet, e.url+"/static/enlace.css"))
	if !regexp.MustCompile(`time\.date\s*\{[^}]*white-space:\s*nowrap`).MatchString(css.raw) {
		t.Fatal("dates may wrap: no white-space: nowrap for time.date")
	}
	js := e.send(mustRequest(http.MethodGet, e.url+"/static/localtime.js"))
	if js.status != http.StatusOK || !strings.Contains(js.raw, "Intl.DateTimeFormat") {
		t.Fatalf("localtime.js: %d", js.status)
	}
}

// appSection is the group of one app on the connections page.
func appSection(t *testing.T, body, clientID string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<section class="app-group" id="app-` + regexp.QuoteMeta(clientID) + `".*?</section>`).FindString(body)
	if m == "" {
		t.Fatalf("no group for app %s:\n%s", clientID, body)
	}
	return m
}

// TestConnectionsGroupedByApp: three approvals of one app and one of
// another are two groups, each with its count in the right plural form in
// both languages, and its connections inside it; the revocation notice
// has its plural forms too.
func TestConnectionsGroupedByApp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, _ := e.newApp("Otra Tienda", "https://other.example.com/cb")
	b := e.browser()
	first := "/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode()
	b.approve(first, b.loginAndConsentPage(first), "read:products")
	b.approveTimes(first, 2)
	b.approveTimes("/apps/authorize?"+authorizeQuery(other.ClientID, "https://other.example.com/cb").Encode(), 1)

	for _, c := range []struct {
		lang, three, one, total string
	}{
		{"es-CL,es;q=0.9", "3 conexiones", "1 conexión", "Tienes 4 conexiones activas."},
		{"en", "3 connections", "1 connection", "You have 4 active connections."},
	} {
		p := b.getLang("/connections", c.lang)
		if n := len(regexp.MustCompile(`class="app-group"`).FindAllString(p.body, -1)); n != 2 {
			t.Fatalf("%s: %d groups, want 2", c.lang, n)
		}
		mine, theirs := appSection(t, p.body, e.app.ClientID), appSection(t, p.body, other.ClientID)
		if rows := connRowRe.FindAllString(mine, -1); len(rows) != 3 || !strings.Contains(text(mine), "Sincronizador "+c.three) {
			t.Fatalf("%s: the Sincronizador group has %d rows:\n%s", c.lang, len(rows), text(mine))
		}
		if rows := connRowRe.FindAllString(theirs, -1); len(rows) != 1 || !strings.Contains(text(theirs), "Otra Tienda "+c.one) {
			t.Fatalf("%s: the Otra Tienda group has %d rows:\n%s", c.lang, len(rows), text(theirs))
		}
		if !strings.Contains(text(p.body), c.total) {
			t.Fatalf("%s: no %q:\n%s", c.lang, c.total, text(p.body))
		}
	}

	// Revoking one: the notice says one, in the singular.
	row := connRowRe.FindStringSubmatch(appSection(t, b.get("/connections").body, e.app.ClientID))[1]
	confirm := b.get("/connections/" + row + "/revoke")
	p := b.post("/connections/"+row+"/revoke", url.Values{"csrf_token": {csrfOf(t, confirm)}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	for _, c := range []struct{ path, lang, want string }{
		{p.location, "es", "Se revocó 1 conexión."},
		{p.location, "en", "1 connection was revoked."},
		{"/connections?revoked=3", "es", "Se revocaron 3 conexiones."},
		{"/connections?revoked=3", "en", "3 connections were revoked."},
	} {
		if got := text(b.getLang(c.path, c.lang).body); !strings.Contains(got, c.want) {
			t.Errorf("%s in %s: no %q:\n%s", c.path, c.lang, c.want, got)
		}
	}
	if got := b.get("/connections?revoked=<b>x</b>").body; strings.Contains(got, `class="notice"`) {
		t.Errorf("a revoked parameter that is no count shows a notice:\n%s", text(got))
	}
	after := b.get("/connections")
	if rows := connRowRe.FindAllString(appSection(t, after.body, e.app.ClientID), -1); len(rows) != 2 ||
		!strings.Contains(text(after.body), "Sincronizador 2 conexiones") {
		t.Fatalf("after revoking one, the group has %d rows:\n%s", len(rows), text(after.body))
	}
}

// TestConnectionsGroupedAcrossPages: with more connections than a page
// holds, the groups of each page hold that page's rows, every connection
// is on exactly one page, and the page says the list goes on.
func TestConnectionsGroupedAcrossPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// 101 approvals through the store (the page holds 100): the web flow
	// for each would only make the test slow.
	want := map[string]bool{}
	for range 101 {
		cn, _, err := e.st.Approve(ctx, store.Grant{ClientID: e.app.ClientID, MerchantID: e.merchant.ID,
			RedirectURI: appRedirect, Scopes: []string{"read:products"}, AppGeneration: e.app.Generation})
		if err != nil {
			t.Fatal(err)
		}
		want[cn.ID] = true
	}
	b := e.browser()
	b.loginAndConsentPage("/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode())
	seen := map[string]bool{}
	path := "/connections"
	for pages := 0; path != ""; pages++ {
		if pages == 3 {
			t.Fatal("more than two pages for 101 connections")
		}
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d", path, p.status)
		}
		for _, m := range connRowRe.FindAllStringSubmatch(appSection(t, p.body, e.app.ClientID), -1) {
			if seen[m[1]] {
				t.Fatalf("connection %s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		if !strings.Contains(text(p.body), "Tienes 101 conexiones activas. La lista sigue en otra página") {
			t.Fatalf("%s does not say the list goes on:\n%.600s", path, text(p.body))
		}
		path = ""
		if m := regexp.MustCompile(`href="(/connections\?cursor=[^"]+)" rel="next"`).FindStringSubmatch(p.body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d connections over the pages, want %d", len(seen), len(want))
	}
}

// TestConsentSaysConnectedBefore: the consent page says how often the
// merchant connected this app already (not other apps), in the right
// plural form in both languages.
func TestConsentSaysConnectedBefore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, _ := e.newApp("Otra Tienda", "https://other.example.com/cb")
	b := e.browser()
	authorize := "/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode()
	p := b.loginAndConsentPage(authorize)
	if strings.Contains(p.body, `id="connected-before"`) {
		t.Fatal("a first connection is said to be a repeat")
	}
	// Connections to another app do not count.
	b.approveTimes("/apps/authorize?"+authorizeQuery(other.ClientID, "https://other.example.com/cb").Encode(), 2)
	if p := b.get(authorize); strings.Contains(p.body, `id="connected-before"`) {
		t.Fatalf("connections to another app counted:\n%s", text(p.body))
	}
	b.approveTimes(authorize, 1)
	for _, c := range []struct{ lang, want string }{
		{"es", "Ya conectaste esta aplicación 1 vez."},
		{"en", "You already connected this app once."},
	} {
		if got := text(b.getLang(authorize, c.lang).body); !strings.Contains(got, c.want) {
			t.Fatalf("%s: no %q:\n%s", c.lang, c.want, got)
		}
	}
	b.approveTimes(authorize, 2)
	for _, c := range []struct{ lang, want string }{
		{"es", "Ya conectaste esta aplicación 3 veces."},
		{"en", "You already connected this app 3 times."},
	} {
		p := b.getLang(authorize, c.lang)
		if got := text(p.body); !strings.Contains(got, c.want) || !strings.Contains(p.body, `href="/connections"`) {
			t.Fatalf("%s: no %q (or no link to the connections):\n%s", c.lang, c.want, got)
		}
	}
}

// TestApproveNothingTicked: "Autorizar" with every box unticked shows the
// consent page again with a message, sends nobody back to the app and
// creates no connection; ticking a box then works.
func TestApproveNothingTicked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := authorizeQuery(e.app.ClientID, appRedirect)
	q.Set("scope", "read:products write:products")
	authorize := "/apps/authorize?" + q.Encode()
	b := e.browser()
	consent := b.loginAndConsentPage(authorize)
	if !strings.Contains(consent.body, `id="tick-one"`) {
		t.Fatal("the consent page lacks the nothing-ticked hint for the script")
	}
	p := b.post(authorize, url.Values{"csrf_token": {csrfOf(t, consent)}, "decision": {"approve"}})
	if p.status != http.StatusUnprocessableEntity || p.location != "" {
		t.Fatalf("approve with nothing ticked: %d %q", p.status, p.location)
	}
	if !strings.Contains(p.body, `id="consent"`) ||
		!strings.Contains(text(p.body), "No marcaste ningún permiso, así que no se autorizó nada.") {
		t.Fatalf("the consent page is not shown again with the message:\n%s", text(p.body))
	}
	if strings.Contains(p.body, " checked") {
		t.Fatal("the page shown again ticks boxes the merchant unticked")
	}
	for k := range redistest.Snapshot(t, e.rdb) {
		if strings.HasPrefix(k, "conn:") {
			t.Fatalf("an approval with nothing ticked created connection %s", k)
		}
	}
	u := b.approve(authorize, p, "read:products")
	if u.Query().Get("code") == "" {
		t.Fatalf("approving from the page shown again: %s", u)
	}
}

// expireSessions deletes every session record, as their TTL would.
func (e *testEnv) expireSessions() {
	e.t.Helper()
	keys, err := e.rdb.Keys(context.Background(), "session:*").Result()
	if err != nil || len(keys) == 0 {
		e.t.Fatalf("sessions: %v %v", keys, err)
	}
	if err := e.rdb.Del(context.Background(), keys...).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// TestFormExpired: a login or consent form posted after its session ended
// (or with a token that does not match) gets a page with one instruction
// and one button, which opens the same form again.
func TestFormExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	authorize := "/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode()
	retryRe := regexp.MustCompile(`<a class="button primary" id="retry" href="([^"]+)">([^<]+)</a>`)
	check := func(what string, p page) string {
		t.Helper()
		if p.status != http.StatusForbidden || p.location != "" {
			t.Fatalf("%s: %d %q", what, p.status, p.location)
		}
		m := retryRe.FindStringSubmatch(p.body)
		if m == nil || m[2] != "Empezar de nuevo" {
			t.Fatalf("%s: no button to start again:\n%s", what, p.body)
		}
		body := text(p.body)
		if n := strings.Count(p.body, `class="alert"`); n != 1 || strings.Contains(body, "Vuelve a la aplicación") ||
			strings.Contains(body, "Vuelve atrás") || !strings.Contains(body, "El formulario expiró") {
			t.Fatalf("%s: not one clear instruction:\n%s", what, body)
		}
		return html.UnescapeString(m[1])
	}

	// The login page of an authorization request, left open too long: its
	// signed CSRF cookie has expired (the browser dropped it).
	b := e.browser()
	toLogin := b.get(authorize)
	login := b.get(toLogin.location)
	u, _ := url.Parse(e.url)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "enlace_csrf", Value: "", Path: "/", MaxAge: -1}})
	next, _ := url.Parse(toLogin.location)
	retry := check("login", b.post("/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {e.merchant.Email},
		"password": {password}, "next": {next.Query().Get("next")}}))
	if want := "/login?" + (url.Values{"next": {authorize}}).Encode(); retry != want {
		t.Fatalf("the login page's button goes to %s", retry)
	}
	again := b.get(retry)
	p := b.post("/login", url.Values{"csrf_token": {csrfOf(t, again)}, "email": {e.merchant.Email},
		"password": {password}, "next": {authorize}})
	if p.status != http.StatusSeeOther || p.location != authorize {
		t.Fatalf("login from the button: %d %s", p.status, p.location)
	}

	// The consent form with a token that does not match.
	retry = check("consent", b.post(authorize, url.Values{"csrf_token": {"stale"}, "granted": {"read:products"},
		"decision": {"approve"}}))
	if retry != authorize {
		t.Fatalf("the consent page's button goes to %s, want %s", retry, authorize)
	}
	if p := b.get(retry); p.status != http.StatusOK || !strings.Contains(p.body, `id="consent"`) {
		t.Fatalf("the button does not reopen the consent page: %d", p.status)
	}
}

// TestSessionExpiredMessage: a merchant whose session ended is told so on
// the login page, from a page (GET) or a form (POST); someone who never
// logged in, or logged out, is not.
func TestSessionExpiredMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	authorize := "/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode()
	const expired = "Tu sesión expiró. Inicia sesión otra vez para continuar."
	loginSays := func(what string, p page, want bool) {
		t.Helper()
		if p.status != http.StatusFound && p.status != http.StatusSeeOther {
			t.Fatalf("%s: %d, not sent to log in", what, p.status)
		}
		login := followToLogin(t, e, p)
		if got := strings.Contains(text(login.body), expired); got != want {
			t.Fatalf("%s: the login page says the session expired: %v, want %v\n%s", what, got, want, text(login.body))
		}
	}

	fresh := e.browser()
	loginSays("never logged in", fresh.get("/connections"), false)

	b := e.browser()
	consent := b.loginAndConsentPage(authorize)
	e.expireSessions()
	loginSays("/connections after expiry", b.get("/connections"), true)
	p := b.post(authorize, url.Values{"csrf_token": {csrfOf(t, consent)}, "granted": {"read:products"}, "decision": {"approve"}})
	if u, _ := url.Parse(p.location); u == nil || u.Query().Get("next") != authorize {
		t.Fatalf("the consent form after expiry: %d %s", p.status, p.location)
	}
	loginSays("the consent form after expiry", p, true)

	// Logged in again, then out: no longer "expired".
	b.loginAndConsentPage(authorize)
	home := b.get("/")
	if out := b.post("/logout", url.Values{"csrf_token": {csrfOf(t, home)}}); out.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", out.status)
	}
	loginSays("after logging out", b.get("/connections"), false)
}

// followToLogin follows a redirect to the login page with a fresh
// cookie-less client: what the login page says comes from its address.
func followToLogin(t *testing.T, e *testEnv, p page) page {
	t.Helper()
	login := e.browser().get(p.location)
	if login.status != http.StatusOK {
		t.Fatalf("login page %s: %d", p.location, login.status)
	}
	return login
}

// TestNotFoundByAccept: a browser asking for a page that does not exist
// gets an HTML page in its language; an API client (JSON, */*, no Accept)
// keeps the JSON error. The same for a path with the wrong method.
func TestNotFoundByAccept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
	for _, c := range []struct {
		method, path, accept, lang string
		status                     int
		html                       string // "" for the JSON error
	}{
		{"GET", "/no-such-page", browserAccept, "es-CL,es;q=0.9", 404, "Página no encontrada"},
		{"GET", "/no-such-page", browserAccept, "en", 404, "Page not found"},
		{"GET", "/connections/x/y", "text/html", "es", 404, "Página no encontrada"},
		{"GET", "/logout", browserAccept, "es", 405, "Página no encontrada"},
		{"GET", "/no-such-page", "application/json", "es", 404, ""},
		{"GET", "/no-such-page", "", "es", 404, ""},
		{"GET", "/no-such-page", "*/*", "es", 404, ""},
		{"GET", "/no-such-page", "application/json, text/html;q=0.5", "es", 404, ""},
		{"GET", "/no-such-page", "text/html;q=0.1, application/json", "es", 404, ""},
		{"POST", "/no-such-page", "application/json", "es", 404, ""},
		{"GET", "/logout", "application/json", "es", 405, ""},
	} {
		req, _ := http.NewRequest(c.method, e.url+c.path, nil)
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		req.Header.Set("Accept-Language", c.lang)
		r := e.send(req)
		ct := r.header.Get("Content-Type")
		name := fmt.Sprintf("%s %s Accept %q", c.method, c.path, c.accept)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d", name, r.status, c.status)
		}
		if c.html == "" {
			if !strings.HasPrefix(ct, "application/json") || r.json["error"] == nil {
				t.Errorf("%s: want the JSON error, got %q %s", name, ct, r.raw)
			}
			continue
		}
		if !strings.HasPrefix(ct, "text/html") || !strings.Contains(r.raw, "<h1>"+c.html+"</h1>") ||
			!strings.Contains(r.raw, `id="retry" href="/"`) || !strings.Contains(r.raw, `hreflang=`) {
			t.Errorf("%s: want the %q page, got %q\n%s", name, c.html, ct, r.raw)
		}
	}
}

// manyScopes is a request of 17 scopes of the catalogue, 3 of them manage.
var manyScopes = []string{"read:products", "write:products", "read:clients", "write:clients", "manage:clients",
	"read:warehouses", "write:warehouses", "manage:warehouses", "read:stocks", "write:stocks", "read:prices",
	"write:prices", "read:channels", "read:checkouts", "write:checkouts", "manage:checkouts", "read:couriers"}

// newManyScopesApp registers an app with manyScopes.
func (e *testEnv) newManyScopesApp(redirect string) *store.App {
	e.t.Helper()
	app, _, err := e.st.CreateApp(context.Background(), store.AppSpec{Name: "Integrador Total",
		RedirectURIs: []string{redirect}, Scopes: manyScopes}, e.cfg.Scopes.Names())
	if err != nil {
		e.t.Fatal(err)
	}
	return app
}

var checkboxRe = regexp.MustCompile(`<input type="checkbox" id="scope-[^"]+" name="granted" value="([^"]+)"( checked)?>`)

// TestManyScopesSummary: a request of 17 scopes opens with a summary
// counting them by risk, groups them by risk, and ticks every read and
// write scope but no manage scope; approving without touching the boxes
// grants no manage scope.
func TestManyScopesSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := e.newManyScopesApp(appRedirect)
	q := authorizeQuery(app.ClientID, appRedirect)
	q.Set("scope", strings.Join(manyScopes, " "))
	authorize := "/apps/authorize?" + q.Encode()
	b := e.browser()
	p := b.loginAndConsentPage(authorize)

	summary := regexp.MustCompile(`(?s)<div class="scope-summary" id="scope-summary">.*?</div>`).FindString(p.body)
	if got := text(summary); got != "En resumen, pide 17 permisos: 8 para ver 6 para crear y modificar 3 para administrar, incluso eliminar" {
		t.Fatalf("summary: %q", got)
	}
	if strings.Index(p.body, `id="scope-summary"`) > strings.Index(p.body, `name="granted"`) {
		t.Fatal("the summary is not above the scopes")
	}
	var ticked, unticked []string
	for _, m := range checkboxRe.FindAllStringSubmatch(p.body, -1) {
		if m[2] != "" {
			ticked = append(ticked, m[1])
		} else {
			unticked = append(unticked, m[1])
		}
	}
	if strings.Join(unticked, " ") != "manage:clients manage:warehouses manage:checkouts" || len(ticked) != 14 {
		t.Fatalf("ticked %v, unticked %v", ticked, unticked)
	}
	// Groups in order of risk, each scope in its own.
	order := []string{`id="risk-read"`, `id="risk-write"`, `id="risk-manage"`}
	last := -1
	for _, g := range order {
		i := strings.Index(p.body, g)
		if i < last {
			t.Fatalf("group %s missing or out of order", g)
		}
		last = i
	}
	manage := p.body[strings.Index(p.body, `id="risk-manage"`):]
	if strings.Contains(manage[:strings.Index(manage, "</section>")], `value="read:`) {
		t.Fatal("a read scope in the manage group")
	}
	// English.
	en := text(b.getLang(authorize, "en").body)
	if !strings.Contains(en, "In short, it asks for 17 permissions: 8 to see 6 to create and change 3 to manage, including deleting") {
		t.Fatalf("English summary:\n%s", en)
	}
	// Approving as offered grants the ticked scopes, no manage one.
	b.approve(authorize, p, ticked...)
	page, err := e.st.ListConnections(context.Background(), store.ConnectionFilter{ClientID: app.ClientID}, store.Page{})
	if err != nil || len(page.Connections) != 1 {
		t.Fatalf("connections: %v %v", page, err)
	}
	for _, s := range page.Connections[0].Scopes {
		if strings.HasPrefix(s, "manage:") {
			t.Fatalf("approving as offered granted %s", s)
		}
	}
}

package server_test

import (
	"bytes"
	"context"
	"errors"
	"html"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// The developer portal (issue 15) over plain HTTP: sign-up (invite-only by
// default, or open), login, the apps of one developer and only theirs,
// every change an app can take from its page, and the refusals, each
// writing nothing.

const devPassword = "developer pass 1"

// developer creates a developer account in the store and returns a
// browser logged in to the portal as them.
func (e *testEnv) developer(email string) (*browser, *store.Developer) {
	e.t.Helper()
	d, err := e.st.CreateDeveloper(context.Background(), email, "Dev "+strings.Split(email, "@")[0], devPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	b := e.browser()
	login := b.get("/developers")
	p := b.post("/developers/login", url.Values{"csrf_token": {csrfOf(e.t, login)}, "email": {email}, "password": {devPassword}})
	if p.status != http.StatusSeeOther || p.location != "/developers" {
		e.t.Fatalf("developer login: %d %s\n%s", p.status, p.location, p.body)
	}
	return b, d
}

// csrf returns the developer session's CSRF token.
func (b *browser) devCSRF() string {
	b.t.Helper()
	return csrfOf(b.t, b.get("/developers"))
}

var shownOnceRe = regexp.MustCompile(`id="shown-once">([^<]+)<`)

// shownOnce returns the credential a page shows once.
func shownOnce(t *testing.T, p page) string {
	t.Helper()
	m := shownOnceRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no credential on the page (status %d):\n%s", p.status, p.body)
	}
	return html.UnescapeString(m[1])
}

// appForm is a valid new-app form.
func appForm(csrf string) url.Values {
	return url.Values{"csrf_token": {csrf}, "name": {"Sync Bodegas"}, "description": {"Sincroniza tu inventario."},
		"publisher": {"Bodegas SpA"}, "homepage": {"https://bodegas.example"}, "privacy_policy": {"https://bodegas.example/privacidad"},
		"terms": {"https://bodegas.example/terminos"}, "support_email": {"soporte@bodegas.example"},
		"redirect_uris": {"https://bodegas.example/callback\r\n\r\nhttp://localhost:8080/cb\r\n"},
		"scopes":        {"read:products", "read:stocks"}}
}

// createApp creates an app from the portal and returns it with its secret.
func (e *testEnv) createDevApp(b *browser, form url.Values) (*store.App, string) {
	e.t.Helper()
	p := b.post("/developers/apps", form)
	if p.status != http.StatusOK {
		e.t.Fatalf("create app: %d %s\n%s", p.status, p.location, p.body)
	}
	secret := shownOnce(e.t, p)
	m := regexp.MustCompile(`href="/developers/apps/([^"/]+)" id="continue"`).FindStringSubmatch(p.body)
	if m == nil {
		e.t.Fatalf("no way on to the app:\n%s", p.body)
	}
	a, err := e.st.GetApp(context.Background(), m[1])
	if err != nil {
		e.t.Fatal(err)
	}
	return a, secret
}

func (e *testEnv) getApp(id string) *store.App {
	e.t.Helper()
	a, err := e.st.GetApp(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// refused posts a form that must be refused with status and write nothing.
func (e *testEnv) refused(b *browser, path string, form url.Values, status int, want string) {
	e.t.Helper()
	before := redistest.Snapshot(e.t, e.rdb)
	p := b.post(path, form)
	if p.status != status {
		e.t.Fatalf("POST %s: %d, want %d\n%s", path, p.status, status, p.body)
	}
	if want != "" && !strings.Contains(html.UnescapeString(p.body), want) {
		e.t.Fatalf("POST %s: the page lacks %q:\n%s", path, want, p.body)
	}
	redistest.AssertUnchanged(e.t, before, redistest.Snapshot(e.t, e.rdb))
}

// TestDeveloperSignupInviteOnly: with the default invite-only sign-up, the
// page offers no form without an invitation and a post is refused, writing
// nothing; an invitation opens one account once, and its link is dead after.
func TestDeveloperSignupInviteOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if e.cfg.Developers.Signup != config.SignupInvite {
		t.Fatalf("default sign-up %q", e.cfg.Developers.Signup)
	}
	b := e.browser()
	login := b.get("/developers")
	if login.status != http.StatusOK || !strings.Contains(login.body, `action="/developers/login"`) ||
		!strings.Contains(login.body, `href="/developers/signup"`) {
		t.Fatalf("portal login page: %d\n%s", login.status, login.body)
	}
	csrf := csrfOf(t, login)
	page := b.get("/developers/signup")
	if page.status != http.StatusOK || strings.Contains(page.body, `id="signup"`) || !strings.Contains(page.body, "solo por invitación") {
		t.Fatalf("invite-only sign-up page: %d\n%s", page.status, page.body)
	}
	form := url.Values{"csrf_token": {csrf}, "email": {"intruso@example.com"}, "name": {"Intruso"}, "password": {devPassword}}
	e.refused(b, "/developers/signup", form, http.StatusForbidden, "invitación")
	bogus := url.Values{"csrf_token": {csrf}, "invite": {"inv-nope"}, "name": {"Intruso"}, "password": {devPassword}}
	e.refused(b, "/developers/signup", bogus, http.StatusNotFound, "La invitación no es válida")
	if _, err := e.st.FindDeveloper(context.Background(), "intruso@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused sign-up made an account: %v", err)
	}

	tok, err := e.st.InviteDeveloper(context.Background(), "invitada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	page = b.get("/developers/signup?invite=" + url.QueryEscape(tok))
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="signup"`) || !strings.Contains(page.body, "invitada@example.com") {
		t.Fatalf("invited sign-up page: %d\n%s", page.status, page.body)
	}
	// Without the CSRF token, nothing.
	e.refused(b, "/developers/signup", url.Values{"invite": {tok}, "name": {"Invitada"}, "password": {devPassword}}, http.StatusForbidden, "")
	// A password too short keeps the invitation.
	e.refused(b, "/developers/signup", url.Values{"csrf_token": {csrf}, "invite": {tok}, "name": {"Invitada"}, "password": {"corta"}},
		http.StatusBadRequest, "al menos 8 caracteres")
	// The email is the invitation's, whatever the form says.
	p := b.post("/developers/signup", url.Values{"csrf_token": {csrf}, "invite": {tok}, "email": {"otra@example.com"},
		"name": {"Invitada"}, "password": {devPassword}})
	if p.status != http.StatusSeeOther || p.location != "/developers" {
		t.Fatalf("invited sign-up: %d %s\n%s", p.status, p.location, p.body)
	}
	d, err := e.st.FindDeveloper(context.Background(), "invitada@example.com")
	if err != nil || d.Name != "Invitada" {
		t.Fatalf("the invited developer: %+v %v", d, err)
	}
	if home := b.get("/developers"); !strings.Contains(home.body, "Mis aplicaciones") || !strings.Contains(home.body, "invitada@example.com") {
		t.Fatalf("after sign-up, the portal:\n%s", home.body)
	}

	// The used invitation opens nothing more.
	other := e.browser()
	csrf2 := csrfOf(t, other.get("/developers"))
	if p := other.get("/developers/signup?invite=" + url.QueryEscape(tok)); p.status != http.StatusNotFound || strings.Contains(p.body, `id="signup"`) {
		t.Fatalf("a used invitation's page: %d\n%s", p.status, p.body)
	}
	e.refused(other, "/developers/signup", url.Values{"csrf_token": {csrf2}, "invite": {tok}, "name": {"Segunda"}, "password": {devPassword}},
		http.StatusNotFound, "La invitación no es válida")
}

// TestDeveloperSignupOpen: with developers.signup: open anyone may sign
// up, once per email.
func TestDeveloperSignupOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Developers.Signup = config.SignupOpen })
	b := e.browser()
	page := b.get("/developers/signup")
	if page.status != http.StatusOK || !strings.Contains(page.body, `id="signup"`) || !strings.Contains(page.body, `name="email"`) {
		t.Fatalf("open sign-up page: %d\n%s", page.status, page.body)
	}
	csrf := csrfOf(t, page)
	e.refused(b, "/developers/signup", url.Values{"csrf_token": {csrf}, "email": {"no-es-correo"}, "name": {"Ana"}, "password": {devPassword}},
		http.StatusBadRequest, "no es un correo")
	p := b.post("/developers/signup", url.Values{"csrf_token": {csrf}, "email": {"abierta@example.com"}, "name": {"Abierta"}, "password": {devPassword}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("open sign-up: %d\n%s", p.status, p.body)
	}
	// A taken email is refused (counted against the address's sign-ups,
	// like every well-formed one, but the account stays as it was).
	again := e.browser()
	csrf = csrfOf(t, again.get("/developers/signup"))
	p = again.post("/developers/signup", url.Values{"csrf_token": {csrf}, "email": {"abierta@example.com"}, "name": {"Otra"}, "password": {devPassword}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "Ya existe") {
		t.Fatalf("a taken email: %d\n%s", p.status, p.body)
	}
	if d, err := e.st.FindDeveloper(context.Background(), "abierta@example.com"); err != nil || d.Name != "Abierta" {
		t.Fatalf("the account after a second sign-up: %+v %v", d, err)
	}
}

// TestDeveloperLogin: wrong passwords are refused under the login limits,
// the portal's session is its own (it opens neither the merchant's nor the
// admin's pages), and merchant credentials do not open the portal.
func TestDeveloperLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.LoginLimits.PerAccount = 3 })
	if _, err := e.st.CreateDeveloper(context.Background(), "dev@example.com", "Dev", devPassword); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	csrf := csrfOf(t, b.get("/developers"))
	for _, creds := range [][2]string{{"dev@example.com", "wrong password"}, {e.merchant.Email, password}} {
		p := b.post("/developers/login", url.Values{"csrf_token": {csrf}, "email": {creds[0]}, "password": {creds[1]}})
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "no son correctos") {
			t.Fatalf("login with %s: %d\n%s", creds[0], p.status, p.body)
		}
	}
	if p := b.post("/developers/login", url.Values{"email": {"dev@example.com"}, "password": {devPassword}}); p.status != http.StatusForbidden {
		t.Fatalf("login without CSRF: %d", p.status)
	}
	if p := b.get("/developers/apps/new"); p.status != http.StatusSeeOther || p.location != "/developers" {
		t.Fatalf("a portal page without a session: %d %s", p.status, p.location)
	}
	p := b.post("/developers/login", url.Values{"csrf_token": {csrf}, "email": {"dev@example.com"}, "password": {devPassword}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", p.status, p.body)
	}
	var named bool
	for _, c := range b.c.Jar.Cookies(mustURL(t, e.url)) {
		named = named || c.Name == "enlace_developer"
		if c.Name == "enlace_session" || c.Name == "enlace_admin" {
			t.Fatalf("a developer login set the %s cookie", c.Name)
		}
	}
	if !named {
		t.Fatal("no enlace_developer cookie")
	}
	if p := b.get("/connections"); p.status != http.StatusFound || !strings.HasPrefix(p.location, "/login") {
		t.Fatalf("the developer session opened the merchant pages: %d %s", p.status, p.location)
	}
	if p := b.get("/admin"); p.status != http.StatusSeeOther || p.location != "/admin/login" {
		t.Fatalf("the developer session opened the admin pages: %d %s", p.status, p.location)
	}
	// Over the limit, even the right password waits.
	csrf = b.devCSRF()
	for range 3 {
		b.post("/developers/login", url.Values{"csrf_token": {csrf}, "email": {"dev@example.com"}, "password": {"wrong"}})
	}
	if p := b.post("/developers/login", url.Values{"csrf_token": {csrf}, "email": {"dev@example.com"}, "password": {devPassword}}); p.status != http.StatusTooManyRequests {
		t.Fatalf("login over the limit: %d", p.status)
	}
	// Logout ends the session.
	home := b.get("/developers")
	if p := b.post("/developers/logout", url.Values{"csrf_token": {csrfOf(t, home)}}); p.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", p.status)
	}
	if p := b.get("/developers/apps/new"); p.status != http.StatusSeeOther {
		t.Fatalf("after logout: %d", p.status)
	}
}

func mustURL(t *testing.T, v string) *url.URL {
	t.Helper()
	u, err := url.Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDeveloperApps: a developer creates an app (secret shown once, in
// development, owned), edits it keeping its client id, adds test merchants
// (an existing one and a sandbox one), submits it, reads the review's
// note, rotates and retires the secret, makes an initial access token,
// sees every step in the app's activity, and deletes it after a
// confirmation. Bad forms write nothing.
func TestDeveloperApps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b, d := e.developer("dev@example.com")
	csrf := b.devCSRF()

	form := b.get("/developers/apps/new")
	for _, want := range []string{`name="scopes" value="read:products"`, `value="confidential" checked`, `name="redirect_uris"`} {
		if !strings.Contains(form.body, want) {
			t.Fatalf("the new-app form lacks %s:\n%s", want, form.body)
		}
	}
	// Refusals, each naming the field, writing nothing.
	for _, tc := range []struct{ field, value, want string }{
		{"scopes", "read:everything", "El permiso read:everything no existe"},
		{"redirect_uris", "http://bodegas.example/callback", "http://bodegas.example/callback no es válida"},
		{"redirect_uris", "https://bodegas.example/cb#frag", "no es válida"},
		{"homepage", "http://bodegas.example", "debe ser una dirección https"},
		{"name", "  ", "necesita un nombre"},
	} {
		f := appForm(csrf)
		f.Set(tc.field, tc.value)
		e.refused(b, "/developers/apps", f, http.StatusBadRequest, tc.want)
	}
	noCSRF := appForm("")
	noCSRF.Del("csrf_token")
	e.refused(b, "/developers/apps", noCSRF, http.StatusForbidden, "")

	a, secret := e.createDevApp(b, appForm(csrf))
	if a.Owner != d.ID || a.Status != store.StatusDevelopment || a.Public || !a.SecretMatches(secret, time.Now()) ||
		!slices.Equal(a.RedirectURIs, []string{"https://bodegas.example/callback", "http://localhost:8080/cb"}) ||
		a.Profile.Publisher != "Bodegas SpA" || a.Profile.SupportEmail != "soporte@bodegas.example" {
		t.Fatalf("the created app: %+v", a)
	}
	if strings.Contains(b.get("/developers/apps/"+a.ClientID).body, secret) {
		t.Fatal("the app page shows the secret again")
	}
	list := b.get("/developers")
	if !strings.Contains(list.body, "Sync Bodegas") || !strings.Contains(list.body, "En desarrollo") {
		t.Fatalf("the app list:\n%s", list.body)
	}
	if strings.Contains(list.body, e.app.ClientID) {
		t.Fatal("the list shows an app that is not the developer's")
	}

	// A public app has no secret; its page says what it is.
	pub := appForm(csrf)
	pub.Set("name", "Sync Móvil")
	pub.Set("client_type", "public")
	p := b.post("/developers/apps", pub)
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.location, "?notice=created") {
		t.Fatalf("create a public app: %d %s", p.status, p.location)
	}
	if page := b.get(p.location); !strings.Contains(page.body, "Pública") || strings.Contains(page.body, "/rotate-secret") {
		t.Fatalf("the public app's page:\n%s", page.body)
	}

	// Edit: a redirect URI added, one removed, a scope added: same client id.
	edit := b.get("/developers/apps/" + a.ClientID + "/edit")
	if !strings.Contains(edit.body, "https://bodegas.example/callback\nhttp://localhost:8080/cb") || !strings.Contains(edit.body, `value="read:stocks" checked`) {
		t.Fatalf("the edit form is not filled in:\n%s", edit.body)
	}
	f := appForm(csrf)
	f.Set("redirect_uris", "https://bodegas.example/callback\nhttps://bodegas.example/v2/callback")
	f["scopes"] = []string{"read:products", "read:stocks", "write:stocks"}
	f.Set("name", "Sync Bodegas 2")
	p = b.post("/developers/apps/"+a.ClientID+"/edit", f)
	if p.status != http.StatusSeeOther || p.location != "/developers/apps/"+a.ClientID+"?notice=updated" {
		t.Fatalf("edit: %d %s\n%s", p.status, p.location, p.body)
	}
	a = e.getApp(a.ClientID)
	if a.Name != "Sync Bodegas 2" || !slices.Equal(a.RedirectURIs, []string{"https://bodegas.example/callback", "https://bodegas.example/v2/callback"}) ||
		!a.AllowsScope("write:stocks") || !a.SecretMatches(secret, time.Now()) {
		t.Fatalf("after the edit: %+v", a)
	}
	// Saved again as it is: nothing to write, and no error either.
	before := redistest.Snapshot(t, e.rdb)
	if p := b.post("/developers/apps/"+a.ClientID+"/edit", f); p.status != http.StatusSeeOther || p.location != "/developers/apps/"+a.ClientID+"?notice=updated" {
		t.Fatalf("an unchanged edit: %d %s\n%s", p.status, p.location, p.body)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	f.Set("redirect_uris", "http://10.0.0.1/cb")
	e.refused(b, "/developers/apps/"+a.ClientID+"/edit", f, http.StatusBadRequest, "no es válida")
	f = appForm(csrf)
	f.Set("scopes", "write:everything")
	e.refused(b, "/developers/apps/"+a.ClientID+"/edit", f, http.StatusBadRequest, "write:everything")

	// Test merchants: an existing one by email, an unknown email refused,
	// and a sandbox one, whose password is shown once and works.
	base := "/developers/apps/" + a.ClientID
	e.refused(b, base+"/test-merchants", url.Values{"csrf_token": {csrf}, "email": {"nadie@example.com"}}, http.StatusBadRequest, "nadie@example.com")
	if p := b.post(base+"/test-merchants", url.Values{"csrf_token": {csrf}, "email": {e.merchant.Email}}); p.status != http.StatusSeeOther {
		t.Fatalf("add test merchant: %d\n%s", p.status, p.body)
	}
	p = b.post(base+"/sandbox", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusOK {
		t.Fatalf("sandbox: %d\n%s", p.status, p.body)
	}
	sandboxPw := shownOnce(t, p)
	email := regexp.MustCompile(`id="shown-email">([^<]+)<`).FindStringSubmatch(p.body)
	if email == nil {
		t.Fatalf("no sandbox email:\n%s", p.body)
	}
	m, err := e.st.AuthenticateMerchant(ctx, email[1], sandboxPw)
	if err != nil {
		t.Fatalf("the sandbox merchant's password: %v", err)
	}
	a = e.getApp(a.ClientID)
	if !slices.Equal(a.TestMerchants, []string{e.merchant.ID, m.ID}) || !a.MayConnect(m.ID) {
		t.Fatalf("test merchants: %v", a.TestMerchants)
	}
	page := b.get(base)
	if !strings.Contains(page.body, e.merchant.Email) || !strings.Contains(page.body, email[1]) {
		t.Fatalf("the app page does not list its test merchants:\n%s", page.body)
	}
	if p := b.post(base+"/test-merchants/remove", url.Values{"csrf_token": {csrf}, "merchant_id": {m.ID}}); p.status != http.StatusSeeOther {
		t.Fatalf("remove test merchant: %d", p.status)
	}
	if a = e.getApp(a.ClientID); slices.Contains(a.TestMerchants, m.ID) {
		t.Fatal("the test merchant was not removed")
	}

	// Rotation: a bad overlap is refused; a rotation shows the new secret
	// once, both work, retiring stops the old one.
	e.refused(b, base+"/rotate-secret", url.Values{"csrf_token": {csrf}, "overlap": {"200"}}, http.StatusBadRequest, "de 1 hora a 7 días")
	e.refused(b, base+"/retire-secret", url.Values{"csrf_token": {csrf}}, http.StatusConflict, "No hay un secreto anterior")
	p = b.post(base+"/rotate-secret", url.Values{"csrf_token": {csrf}, "overlap": {"24"}})
	if p.status != http.StatusOK {
		t.Fatalf("rotate: %d\n%s", p.status, p.body)
	}
	newSecret := shownOnce(t, p)
	a = e.getApp(a.ClientID)
	if !a.SecretMatches(newSecret, time.Now()) || !a.SecretMatches(secret, time.Now()) ||
		a.PrevSecretUntil.Sub(time.Now()) < 23*time.Hour || a.PrevSecretUntil.Sub(time.Now()) > 25*time.Hour {
		t.Fatalf("after the rotation: until %v", a.PrevSecretUntil)
	}
	if page := b.get(base); !strings.Contains(page.body, `id="previous-secret"`) {
		t.Fatalf("the app page does not say the previous secret works:\n%s", page.body)
	}
	if p := b.post(base+"/retire-secret", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("retire: %d\n%s", p.status, p.body)
	}
	if a = e.getApp(a.ClientID); a.SecretMatches(secret, time.Now()) || !a.SecretMatches(newSecret, time.Now()) {
		t.Fatal("after retiring, the old secret works or the new one does not")
	}

	// Review: submitted, then sent back with a note the developer reads.
	if p := b.post(base+"/submit", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("submit: %d\n%s", p.status, p.body)
	}
	if a = e.getApp(a.ClientID); a.Status != store.StatusReview {
		t.Fatalf("after submitting: %s", a.Status)
	}
	e.refused(b, base+"/submit", url.Values{"csrf_token": {csrf}}, http.StatusConflict, "no está en desarrollo")
	if page := b.get("/developers"); !strings.Contains(page.body, "En revisión") {
		t.Fatalf("the list does not show the review:\n%s", page.body)
	}
	if err := e.st.ReviewApp(ctx, a.ClientID, false, "Falta la política de devoluciones", store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	page = b.get(base)
	text := html.UnescapeString(page.body)
	for _, want := range []string{`id="review-note"`, "Falta la política de devoluciones", "En desarrollo",
		// The activity: each step, with who made it.
		"Enviada a revisión", "Revisión: devuelta a desarrollo. Motivo: Falta la política de devoluciones", "Secreto anterior desactivado",
		// The edit names what it changed, not every field the form posts.
		"Actualizada: nombre, URI de redirección, permisos</td>",
		"Secreto rotado", "Actualizada: comercios de prueba", "Tú", "Línea de comandos"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the app page lacks %q:\n%s", want, page.body)
		}
	}
	if err := e.st.SetAppDisabled(ctx, a.ClientID, true, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if page := b.get("/developers"); !strings.Contains(page.body, "Suspendida") {
		t.Fatalf("the list does not show the suspension:\n%s", page.body)
	}

	// An initial access token, shown once, for this developer.
	p = b.post("/developers/tokens", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusOK {
		t.Fatalf("token: %d\n%s", p.status, p.body)
	}
	ia, err := e.st.InitialAccessToken(ctx, shownOnce(t, p))
	if err != nil || ia.DeveloperID != d.ID {
		t.Fatalf("the initial access token: %+v %v", ia, err)
	}

	// No credential shown on a page reached any log line.
	for _, cred := range []string{secret, newSecret, sandboxPw, devPassword} {
		if strings.Contains(e.logs.String(), cred) {
			t.Fatal("a credential is in the log")
		}
	}

	// Delete: a confirmation page with the count; an unconfirmed post is
	// sent there; confirmed, the app is gone.
	conf := b.get(base + "/delete")
	if conf.status != http.StatusOK || !strings.Contains(html.UnescapeString(conf.body), "¿Eliminar Sync Bodegas 2?") ||
		!strings.Contains(conf.body, `name="confirmed" value="yes"`) {
		t.Fatalf("the delete confirmation: %d\n%s", conf.status, conf.body)
	}
	if p := b.post(base+"/delete", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther || p.location != base+"/delete" {
		t.Fatalf("unconfirmed delete: %d %s", p.status, p.location)
	}
	e.getApp(a.ClientID)
	if p := b.post(base+"/delete", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}}); p.status != http.StatusSeeOther || p.location != "/developers?notice=deleted" {
		t.Fatalf("delete: %d %s", p.status, p.location)
	}
	if _, err := e.st.GetApp(ctx, a.ClientID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after deletion: %v", err)
	}
	if p := b.get(base); p.status != http.StatusNotFound {
		t.Fatalf("a deleted app's page: %d", p.status)
	}
}

// TestDeveloperAppOpenIDSettings: the app form's ID token algorithm (a
// select, RS256 unless ES256 is chosen) and post-logout redirect URIs (one
// per line) on create and edit; a bad value is refused naming the field in
// the page's language and writes nothing.
func TestDeveloperAppOpenIDSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b, _ := e.developer("oidc@example.com")
	csrf := b.devCSRF()

	form := b.get("/developers/apps/new")
	for _, want := range []string{`<select id="id_token_alg" name="id_token_alg"`, `<option value="RS256" selected>`,
		`<option value="ES256">`, `name="post_logout_redirect_uris"`, "Algoritmo de firma del token de ID"} {
		if !strings.Contains(html.UnescapeString(form.body), want) {
			t.Fatalf("the new-app form lacks %s:\n%s", want, form.body)
		}
	}
	many := make([]string, store.MaxPostLogoutRedirectURIs+1)
	for i := range many {
		many[i] = "https://bodegas.example/adios/" + strconv.Itoa(i)
	}
	refusals := []struct{ field, value, want string }{
		{"post_logout_redirect_uris", "https://bodegas.example/adios\nhttp://bodegas.example/adios",
			"La URI de redirección tras cerrar sesión http://bodegas.example/adios no es válida"},
		{"post_logout_redirect_uris", "https://bodegas.example/adios#x", "https://bodegas.example/adios#x no es válida"},
		{"post_logout_redirect_uris", "/adios", "La URI de redirección tras cerrar sesión /adios no es válida"},
		{"post_logout_redirect_uris", strings.Join(many, "\n"), "a lo sumo 20 URI de redirección tras cerrar sesión"},
		{"id_token_alg", "HS256", "El algoritmo de firma del token de ID «HS256» no está disponible: elige RS256 o ES256"},
		{"id_token_alg", "none", "«none» no está disponible"},
	}
	for _, tc := range refusals {
		f := appForm(csrf)
		f.Set(tc.field, tc.value)
		e.refused(b, "/developers/apps", f, http.StatusBadRequest, tc.want)
	}

	f := appForm(csrf)
	f.Set("id_token_alg", "ES256")
	f.Set("post_logout_redirect_uris", "https://bodegas.example/adios\r\n\r\nhttp://localhost:8080/adios\r\n")
	a, _ := e.createDevApp(b, f)
	if a.IDTokenAlg != store.AlgES256 || !slices.Equal(a.PostLogoutRedirectURIs, []string{"https://bodegas.example/adios", "http://localhost:8080/adios"}) {
		t.Fatalf("the created app: %q %v", a.IDTokenAlg, a.PostLogoutRedirectURIs)
	}
	base := "/developers/apps/" + a.ClientID
	if page := b.get(base); !strings.Contains(page.body, `id="id-token-alg">ES256<`) || !strings.Contains(page.body, "http://localhost:8080/adios") {
		t.Fatalf("the app page does not show the settings:\n%s", page.body)
	}
	edit := b.get(base + "/edit")
	if !strings.Contains(edit.body, `<option value="ES256" selected>`) || strings.Contains(edit.body, `<option value="RS256" selected>`) ||
		!strings.Contains(edit.body, "https://bodegas.example/adios\nhttp://localhost:8080/adios</textarea>") {
		t.Fatalf("the edit form is not filled in:\n%s", edit.body)
	}

	// Edit refusals, each naming the field, writing nothing.
	for _, tc := range refusals {
		f := appForm(csrf)
		f.Set(tc.field, tc.value)
		e.refused(b, base+"/edit", f, http.StatusBadRequest, tc.want)
	}

	// The edit sets both; the activity names them.
	f = appForm(csrf)
	f.Set("id_token_alg", "RS256")
	f.Set("post_logout_redirect_uris", "https://bodegas.example/logout-ok")
	if p := b.post(base+"/edit", f); p.status != http.StatusSeeOther || p.location != base+"?notice=updated" {
		t.Fatalf("edit: %d %s\n%s", p.status, p.location, p.body)
	}
	a = e.getApp(a.ClientID)
	if a.IDTokenSigningAlg() != store.AlgRS256 || !slices.Equal(a.PostLogoutRedirectURIs, []string{"https://bodegas.example/logout-ok"}) ||
		a.AllowsPostLogoutRedirect("https://bodegas.example/adios") {
		t.Fatalf("after the edit: %q %v", a.IDTokenAlg, a.PostLogoutRedirectURIs)
	}
	if page := b.get(base); !strings.Contains(html.UnescapeString(page.body),
		"Actualizada: algoritmo del token de ID, URI de redirección tras cerrar sesión</td>") {
		t.Fatalf("the activity does not name the edit's parts:\n%s", page.body)
	}
	// A form without them (saved with the list emptied) clears the list.
	f = appForm(csrf)
	f.Set("id_token_alg", "RS256")
	if p := b.post(base+"/edit", f); p.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", p.status, p.body)
	}
	if a = e.getApp(a.ClientID); len(a.PostLogoutRedirectURIs) != 0 || a.IDTokenSigningAlg() != store.AlgRS256 {
		t.Fatalf("after emptying the list: %q %v", a.IDTokenAlg, a.PostLogoutRedirectURIs)
	}
	events, _, err := e.st.ListAudit(ctx, store.AuditFilter{ClientID: a.ClientID}, "", 1)
	if err != nil || len(events) != 1 || events[0].Detail != "updated: post-logout redirect URIs" {
		t.Fatalf("the last edit's audit event: %+v %v", events, err)
	}
	// In English (the choice sticks, so last).
	f = appForm(csrf)
	f.Set("post_logout_redirect_uris", "http://bodegas.example/bye")
	e.refused(b, base+"/edit?lang=en", f, http.StatusBadRequest, "The post-logout redirect URI http://bodegas.example/bye is not valid")
	f = appForm(csrf)
	f.Set("id_token_alg", "PS256")
	e.refused(b, base+"/edit?lang=en", f, http.StatusBadRequest, "The ID token signing algorithm “PS256” is not available: choose RS256 or ES256")
}

// TestDeveloperOnlyOwnApps: every page and action of an app answers 404
// to another developer, and to anyone for an operator's app, writing
// nothing.
func TestDeveloperOnlyOwnApps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner, _ := e.developer("duena@example.com")
	a, _ := e.createDevApp(owner, appForm(owner.devCSRF()))
	other, _ := e.developer("otro@example.com")
	csrf := other.devCSRF()
	if strings.Contains(other.get("/developers").body, a.ClientID) {
		t.Fatal("another developer's list shows the app")
	}
	for _, id := range []string{a.ClientID, e.app.ClientID, "no-such-app"} {
		base := "/developers/apps/" + id
		for _, path := range []string{base, base + "/edit", base + "/delete"} {
			if p := other.get(path); p.status != http.StatusNotFound {
				t.Fatalf("GET %s by another developer: %d", path, p.status)
			}
		}
		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{base + "/edit", appForm(csrf)},
			{base + "/test-merchants", url.Values{"csrf_token": {csrf}, "email": {e.merchant.Email}}},
			{base + "/test-merchants/remove", url.Values{"csrf_token": {csrf}, "merchant_id": {e.merchant.ID}}},
			{base + "/sandbox", url.Values{"csrf_token": {csrf}}},
			{base + "/submit", url.Values{"csrf_token": {csrf}}},
			{base + "/rotate-secret", url.Values{"csrf_token": {csrf}, "overlap": {"24"}}},
			{base + "/retire-secret", url.Values{"csrf_token": {csrf}}},
			{base + "/delete", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}}},
		} {
			e.refused(other, tc.path, tc.form, http.StatusNotFound, "")
		}
		before := redistest.Snapshot(t, e.rdb)
		if p := other.upload(base+"/logo", csrf, "logo", "logo.png", pngOf(t, 64, 64)); p.status != http.StatusNotFound {
			t.Fatalf("logo upload to %s by another developer: %d", id, p.status)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	}
	if got := e.getApp(a.ClientID); got.Name != "Sync Bodegas" || got.Status != store.StatusDevelopment {
		t.Fatalf("the app changed: %+v", got)
	}
}

// pngOf is a w×h PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.NRGBA{R: uint8(x * 4), G: 90, B: uint8(y * 4), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upload posts a multipart form with one file (and the CSRF token, unless
// csrf is "").
func (b *browser) upload(path, csrf, field, name string, content []byte) page {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if csrf != "" {
		_ = w.WriteField("csrf_token", csrf)
	}
	fw, err := w.CreateFormFile(field, name)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = fw.Write(content)
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, b.abs(path), &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept-Language", "es")
	return b.do(req)
}

// TestDeveloperLogo: an uploaded logo is stored re-encoded and served from
// enlace's origin as a PNG that can be cached; an oversized upload, one
// that is not an image and one without the CSRF token write nothing.
func TestDeveloperLogo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b, _ := e.developer("dev@example.com")
	csrf := b.devCSRF()
	a, _ := e.createDevApp(b, appForm(csrf))
	path := "/developers/apps/" + a.ClientID + "/logo"

	for _, tc := range []struct {
		what    string
		csrf    string
		content []byte
		status  int
		want    string
	}{
		{"oversized", csrf, bytes.Repeat([]byte{0x89}, 400<<10), http.StatusRequestEntityTooLarge, "demasiado grande"},
		{"over 256 KiB", csrf, bytes.Repeat([]byte("x"), 280<<10), http.StatusBadRequest, "no es una imagen"},
		{"not an image", csrf, []byte("<svg xmlns='http://www.w3.org/2000/svg'></svg>"), http.StatusBadRequest, "no es una imagen"},
		{"too small", csrf, pngOf(t, 8, 8), http.StatusBadRequest, "no es una imagen"},
		{"too large in pixels", csrf, pngOf(t, 1025, 20), http.StatusBadRequest, "no es una imagen"},
		{"no CSRF", "", pngOf(t, 64, 64), http.StatusForbidden, ""},
	} {
		before := redistest.Snapshot(t, e.rdb)
		p := b.upload(path, tc.csrf, "logo", "logo.png", tc.content)
		if p.status != tc.status || !strings.Contains(html.UnescapeString(p.body), tc.want) {
			t.Fatalf("%s upload: %d, want %d with %q\n%s", tc.what, p.status, tc.status, tc.want, p.body)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	}

	p := b.upload(path, csrf, "logo", "logo.png", pngOf(t, 64, 64))
	if p.status != http.StatusSeeOther || !strings.HasSuffix(p.location, "?notice=logo") {
		t.Fatalf("logo upload: %d %s\n%s", p.status, p.location, p.body)
	}
	a = e.getApp(a.ClientID)
	if a.Profile.Logo == "" {
		t.Fatal("no logo recorded")
	}
	logoURL := "/apps/" + a.ClientID + "/logo/" + a.Profile.Logo
	if page := b.get("/developers/apps/" + a.ClientID); !strings.Contains(page.body, `src="`+logoURL+`"`) {
		t.Fatalf("the app page does not show the logo:\n%s", page.body)
	}
	res, err := http.Get(e.url + logoURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	img, format, err := image.Decode(res.Body)
	if res.StatusCode != http.StatusOK || err != nil || format != "png" || img.Bounds().Dx() != 64 {
		t.Fatalf("the logo: %d %s %v", res.StatusCode, format, err)
	}
	if ct, nosniff, cc := res.Header.Get("Content-Type"), res.Header.Get("X-Content-Type-Options"), res.Header.Get("Cache-Control"); ct != "image/png" ||
		nosniff != "nosniff" || !strings.Contains(cc, "max-age=31536000") {
		t.Fatalf("the logo's headers: %q %q %q", ct, nosniff, cc)
	}
	for _, bad := range []string{"/apps/" + a.ClientID + "/logo/0123456789abcdef", "/apps/" + a.ClientID + "/logo/..%2f..",
		"/apps/" + e.app.ClientID + "/logo/" + a.Profile.Logo, "/apps/nope/logo/" + a.Profile.Logo} {
		if r := e.send(mustGet(e.url + bad)); r.status != http.StatusNotFound {
			t.Fatalf("GET %s: %d", bad, r.status)
		}
	}
}

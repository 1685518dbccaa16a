package server_test

// Browser tests (issue 5): Debian's Chromium, driven with chromedp, goes
// through the merchant pages as a person would. Each test saves full-page
// screenshots of what it checked under artifacts/browser/ at the repository
// root (git-ignored), for a person to look at.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// browserTimeout bounds each browser test as a whole.
const browserTimeout = 60 * time.Second

// chromiumPath finds Debian's Chromium; a missing browser fails the test
// (the README's test command installs it), it never skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium is not installed: run ./scripts/test, which installs the Debian package chromium")
	return ""
}

// chrome is one headless Chromium for one test, with a fresh profile.
type chrome struct {
	t   *testing.T
	ctx context.Context // a chromedp context, bounded by browserTimeout
}

// newChrome starts Chromium; acceptLanguage is sent with every request (so
// the test does not depend on the browser's own locale).
func newChrome(t *testing.T, acceptLanguage string) *chrome {
	t.Helper()
	return newChromeFor(t, acceptLanguage, browserTimeout)
}

// newChromeFor is newChrome bounded by timeout instead of browserTimeout,
// for a test that walks many more pages than one flow.
func newChromeFor(t *testing.T, acceptLanguage string, timeout time.Duration) *chrome {
	t.Helper()
	path := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// The first call starts the browser and opens the tab.
	if _, err := chromedp.Call(bctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": acceptLanguage},
	}); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return &chrome{t: t, ctx: bctx}
}

// do runs actions and fails the test, with a screenshot, on an error.
func (c *chrome) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, steps...); err != nil {
		c.screenshot("failed")
		loc, _ := chromedp.Run(c.ctx, chromedp.Location())
		c.t.Fatalf("%s: %v (page %s)", what, err, loc)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](c *chrome, expr string) T {
	c.t.Helper()
	v, err := chromedp.Run(c.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (c *chrome) location() string {
	c.t.Helper()
	return eval[string](c, `document.location.href`)
}

func (c *chrome) bodyText() string {
	c.t.Helper()
	return eval[string](c, `document.body.innerText`)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// screenshot saves the whole page as
// artifacts/browser/<TestName>-<step>.png at the repository root.
func (c *chrome) screenshot(step string) {
	c.t.Helper()
	dir := filepath.Join("..", "artifacts", "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Errorf("screenshot %s: %v", step, err)
		return
	}
	name := unsafeName.ReplaceAllString(c.t.Name(), "_") + "-" + step + ".png"
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// login fills in the login page shown now and submits it; waitFor is a CSS
// selector of the page expected next.
func (c *chrome) login(email, pw, waitFor string) {
	c.t.Helper()
	c.do("fill in the login page",
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), pw),
		chromedp.Click(chromedp.CSS(`form button[type=submit].primary`)),
		chromedp.WaitVisible(chromedp.CSS(waitFor)),
	)
}

// appServer is the client app: its /callback records the query and shows a
// small page the browser lands on.
type appServer struct {
	url       string
	callbacks chan url.Values
}

func newAppServer(t *testing.T) *appServer {
	a := &appServer{callbacks: make(chan url.Values, 8)}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		a.callbacks <- r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><title>App</title><h1 id="app-callback">Back at the app</h1>`)
	}))
	t.Cleanup(hs.Close)
	a.url = hs.URL
	return a
}

// callback waits for the app's callback, up to the test's deadline.
func (a *appServer) callback(t *testing.T, ctx context.Context) url.Values {
	t.Helper()
	select {
	case q := <-a.callbacks:
		return q
	case <-ctx.Done():
		t.Fatal("the app's callback was not called")
		return nil
	}
}

// browserFlow is an enlace, an app reachable by the browser, an
// oauth2.Config for it and a Chromium.
type browserFlow struct {
	e        *testEnv
	app      *appServer
	conf     *oauth2.Config
	verifier string
	authURL  string
	c        *chrome
}

var allScopes = []string{"read:products", "write:products", "read:checkouts"}

func newBrowserFlow(t *testing.T, acceptLanguage string) *browserFlow {
	e := newEnv(t)
	app := newAppServer(t)
	a, secret := e.newApp("Sincronizador Web", app.url+"/callback")
	conf := &oauth2.Config{
		ClientID: a.ClientID, ClientSecret: secret, RedirectURL: app.url + "/callback", Scopes: allScopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.url + "/apps/authorize", TokenURL: e.url + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	return &browserFlow{e: e, app: app, conf: conf, verifier: verifier,
		authURL: conf.AuthCodeURL("state-browser", oauth2.S256ChallengeOption(verifier)),
		c:       newChrome(t, acceptLanguage)}
}

// toConsent opens the authorize URL, logs in and waits for the consent page.
func (f *browserFlow) toConsent() {
	f.c.t.Helper()
	f.c.do("open the authorize URL", chromedp.Navigate(f.authURL), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	f.c.login(f.e.merchant.Email, password, `#consent`)
}

const checkedScopes = `Array.from(document.querySelectorAll('#consent input[name="granted"]')).filter(b => b.checked).map(b => b.value)`

// TestBrowserAuthorizeUntickOneScope: log in, use select none / all,
// untick a scope, authorize, follow the redirect to the app, exchange the
// code, and get a token with exactly the ticked scopes.
func TestBrowserAuthorizeUntickOneScope(t *testing.T) {
	t.Parallel()
	f := newBrowserFlow(t, "es-CL,es;q=0.9")
	c := f.c
	c.do("open the authorize URL", chromedp.Navigate(f.authURL), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	if !strings.HasPrefix(c.location(), f.e.url+"/login?") {
		t.Fatalf("not sent to the login page: %s", c.location())
	}
	if txt := c.bodyText(); !strings.Contains(txt, "Sincronizador Web te pide conectar tu tienda") {
		t.Fatalf("the login page does not name the app:\n%s", txt)
	}
	c.screenshot("login")
	c.login(f.e.merchant.Email, password, `#consent`)

	txt := c.bodyText()
	for _, want := range []string{"Conectar Sincronizador Web", "Sesión iniciada como ana@tienda.cl", "esta aplicación podrá",
		"Ver tus productos", "Autorizar", "Cancelar"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the consent page lacks %q:\n%s", want, txt)
		}
	}
	// Grouped by risk: the read scopes, then the write one; all ticked (no
	// manage scope is asked for).
	if got := eval[[]string](c, checkedScopes); strings.Join(got, " ") != "read:products read:checkouts write:products" {
		t.Fatalf("scopes offered ticked: %v", got)
	}

	// Select none, then all: the script's buttons are shown and work.
	c.do("select none", chromedp.WaitVisible(chromedp.CSS(`button[data-select="none"]`)),
		chromedp.Click(chromedp.CSS(`button[data-select="none"]`)))
	if got := eval[[]string](c, checkedScopes); len(got) != 0 {
		t.Fatalf("after %q, still ticked: %v", "Desmarcar todo", got)
	}
	c.do("select all", chromedp.Click(chromedp.CSS(`button[data-select="all"]`)))
	if got := eval[[]string](c, checkedScopes); len(got) != len(allScopes) {
		t.Fatalf("after %q, ticked: %v", "Marcar todo", got)
	}

	c.do("untick write:products", chromedp.Click(chromedp.CSS(`#consent input[value="write:products"]`)))
	ticked := eval[[]string](c, checkedScopes)
	if strings.Join(ticked, " ") != "read:products read:checkouts" {
		t.Fatalf("ticked after unticking write:products: %v", ticked)
	}
	c.screenshot("consent")

	c.do("authorize", chromedp.Click(chromedp.CSS(`button[name="decision"][value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#app-callback`)))
	if loc := c.location(); !strings.HasPrefix(loc, f.app.url+"/callback?") {
		t.Fatalf("the browser is at %s, not the app's callback", loc)
	}
	c.screenshot("callback")
	q := f.app.callback(t, c.ctx)
	if q.Get("state") != "state-browser" || q.Get("iss") != f.e.cfg.Issuer || q.Get("code") == "" {
		t.Fatalf("callback parameters: %v", q)
	}

	tok, err := f.conf.Exchange(c.ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := tok.Extra("scope"); got != strings.Join(ticked, " ") {
		t.Fatalf("token scope %v, ticked %v", got, ticked)
	}
	if r := f.e.info(tok.AccessToken); r.status != http.StatusOK || r.json["scope"] != "read:products read:checkouts" {
		t.Fatalf("info: %d %s", r.status, r.raw)
	}
}

// TestBrowserCancel: Cancelar sends the browser back to the app with
// error=access_denied, the state and the issuer.
func TestBrowserCancel(t *testing.T) {
	t.Parallel()
	f := newBrowserFlow(t, "es-CL,es;q=0.9")
	c := f.c
	f.toConsent()
	c.screenshot("consent")
	c.do("cancel", chromedp.Click(chromedp.CSS(`button[name="decision"][value="cancel"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#app-callback`)))
	c.screenshot("callback")
	q := f.app.callback(t, c.ctx)
	if q.Get("error") != "access_denied" || q.Get("state") != "state-browser" || q.Get("iss") != f.e.cfg.Issuer ||
		q.Has("code") {
		t.Fatalf("callback parameters: %v", q)
	}
}

// TestBrowserWrongPassword: a wrong password shows the generic message on
// the login page, and the browser stays at enlace.
func TestBrowserWrongPassword(t *testing.T) {
	t.Parallel()
	f := newBrowserFlow(t, "es-CL,es;q=0.9")
	c := f.c
	c.do("open the authorize URL", chromedp.Navigate(f.authURL), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	c.login(f.e.merchant.Email, "not the password", `p.alert[role="alert"]`)
	c.screenshot("login-failed")

	alert := eval[string](c, `document.querySelector('p.alert').innerText`)
	if alert != "El correo o la contraseña no son correctos." {
		t.Fatalf("login error text: %q", alert)
	}
	if loc := c.location(); loc != f.e.url+"/login" {
		t.Fatalf("after a wrong password the browser is at %s", loc)
	}
	if got := eval[string](c, `document.getElementById('email').value`); got != f.e.merchant.Email {
		t.Fatalf("the email was not kept: %q", got)
	}
	if n := eval[int](c, `document.querySelectorAll('#consent').length`); n != 0 {
		t.Fatal("a wrong password reached the consent page")
	}
	select {
	case q := <-f.app.callbacks:
		t.Fatalf("the app was called back: %v", q)
	default:
	}
}

// TestBrowserRevokeConnection: on the connected-apps page, Revocar and the
// confirmation end the connection; its token stops working.
func TestBrowserRevokeConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pair := e.pair("read:products", "read:checkouts")
	at, id := pair.json["access_token"].(string), pair.json["connection_id"].(string)
	if r := e.info(at); r.status != http.StatusOK {
		t.Fatalf("the new token does not work: %d", r.status)
	}

	c := newChrome(t, "es-CL,es;q=0.9")
	c.do("open /connections", chromedp.Navigate(e.url+"/connections"), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	row := `#connection-` + id
	c.login(e.merchant.Email, password, row)
	if txt := c.bodyText(); !strings.Contains(txt, "Aplicaciones conectadas") || !strings.Contains(txt, "Sincronizador") ||
		!strings.Contains(txt, "Ver tus productos") {
		t.Fatalf("connections page:\n%s", txt)
	}
	c.screenshot("connections")

	c.do("click Revocar", chromedp.Click(chromedp.CSS(row+` a.button`)),
		chromedp.WaitVisible(chromedp.CSS(`button.danger`)))
	if loc := c.location(); loc != e.url+"/connections/"+id+"/revoke" {
		t.Fatalf("confirmation page at %s", loc)
	}
	if r := e.info(at); r.status != http.StatusOK {
		t.Fatal("opening the confirmation page revoked the connection")
	}
	c.screenshot("confirm")

	c.do("confirm", chromedp.Click(chromedp.CSS(`button.danger`)), chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if loc := c.location(); !strings.HasPrefix(loc, e.url+"/connections") {
		t.Fatalf("after revoking, the browser is at %s", loc)
	}
	if notice := eval[string](c, `document.querySelector('p.notice').innerText`); notice != "Se revocó 1 conexión." {
		t.Fatalf("notice: %q", notice)
	}
	if n := eval[int](c, `document.querySelectorAll('[id^="connection-"]').length`); n != 0 {
		t.Fatalf("%d rows left after revoking the only connection", n)
	}
	c.screenshot("revoked")
	if r := e.info(at); r.status != http.StatusUnauthorized {
		t.Fatalf("the revoked connection's token: %d %s", r.status, r.raw)
	}
}

// TestBrowserLanguages: Spanish for an "es" browser; the switcher's
// English link turns the page English, and the choice sticks on the pages
// that follow.
func TestBrowserLanguages(t *testing.T) {
	t.Parallel()
	f := newBrowserFlow(t, "es")
	c := f.c
	c.do("open the authorize URL", chromedp.Navigate(f.authURL), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	if lang := eval[string](c, `document.documentElement.lang`); lang != "es" {
		t.Fatalf("html lang %q", lang)
	}
	txt := c.bodyText()
	for _, want := range []string{"Inicia sesión", "Correo electrónico", "Contraseña", "Ingresar", "English"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the Spanish login page lacks %q:\n%s", want, txt)
		}
	}
	c.screenshot("login-es")

	c.do("switch to English", chromedp.Click(chromedp.CSS(`nav.langs a[lang="en"]`)),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #email`)))
	txt = c.bodyText()
	for _, want := range []string{"Log in", "Email", "Password", "Español"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the English login page lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "Contraseña") {
		t.Fatalf("Spanish left on the English page:\n%s", txt)
	}
	c.screenshot("login-en")

	// The next page (after a post and a redirect, without ?lang=) stays
	// English although the browser still asks for Spanish.
	c.login(f.e.merchant.Email, password, `#consent`)
	if lang := eval[string](c, `document.documentElement.lang`); lang != "en" {
		t.Fatalf("the consent page after switching is %q", lang)
	}
	txt = c.bodyText()
	for _, want := range []string{"Authorize", "Cancel", "Connect Sincronizador Web"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the English consent page lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "Autorizar") {
		t.Fatalf("Spanish left on the English consent page:\n%s", txt)
	}
	c.screenshot("consent-en")
}

// TestBrowserPhoneWidth: on a 375 px wide phone the consent page does not
// scroll sideways, Authorize is on screen, and the scopes are reachable
// with the keyboard.
func TestBrowserPhoneWidth(t *testing.T) {
	t.Parallel()
	f := newBrowserFlow(t, "es-CL,es;q=0.9")
	c := f.c
	c.do("emulate a phone", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	f.toConsent()
	c.do("wait for the buttons", chromedp.WaitVisible(chromedp.CSS(`button[name="decision"][value="approve"]`)))

	if w := eval[int](c, `window.innerWidth`); w != 375 {
		t.Fatalf("viewport width %d, want 375", w)
	}
	if sw, iw := eval[int](c, `document.documentElement.scrollWidth`), eval[int](c, `window.innerWidth`); sw > iw {
		c.screenshot("overflow")
		wide := eval[[]string](c, `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5).map(e => e.tagName + '.' + e.className).slice(0, 10)`)
		t.Fatalf("the page scrolls sideways: scrollWidth %d > innerWidth %d; too wide: %v", sw, iw, wide)
	}
	box := eval[map[string]float64](c, `(() => { const r = document.querySelector('button[name="decision"][value="approve"]').getBoundingClientRect(); return {left: r.left, right: r.right, width: r.width, height: r.height}; })()`)
	if box["width"] <= 0 || box["height"] <= 0 || box["left"] < 0 || box["right"] > 375 {
		t.Fatalf("the Autorizar button is not fully on screen: %v", box)
	}
	c.screenshot("consent-phone")

	// Keyboard: from the top of the page, Tab reaches the first scope box,
	// stopping only on controls, and Space unticks it.
	eval[chromedp.Void](c, `document.activeElement && document.activeElement.blur()`)
	var path []string
	for i := 0; ; i++ {
		if i == 15 {
			t.Fatalf("15 Tab presses did not reach the first scope; focus went %v", path)
		}
		c.do("press Tab", chromedp.KeyEvent("\t"))
		tag := eval[string](c, `document.activeElement.tagName + (document.activeElement.type ? ':' + document.activeElement.type : '')`)
		path = append(path, tag)
		if !regexp.MustCompile(`^(A|BUTTON|INPUT|SELECT|TEXTAREA)\b`).MatchString(tag) {
			t.Fatalf("Tab focused a %s, not a control; focus went %v", tag, path)
		}
		if eval[bool](c, `document.activeElement === document.querySelector('#consent input[name="granted"]')`) {
			break
		}
	}
	c.do("press Space", chromedp.KeyEvent(" "))
	if got := eval[[]string](c, checkedScopes); strings.Join(got, " ") != "read:checkouts write:products" {
		t.Fatalf("Space on the focused first scope: ticked %v", got)
	}
	c.screenshot("keyboard")
}

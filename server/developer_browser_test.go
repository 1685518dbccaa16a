package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/enlace-oauth/enlace/store"
)

// Browser tests of the developer portal (issue 15): in Chromium, a
// developer signs up with an invitation, creates an app, uploads its
// logo, adds a test merchant and submits the app for review; every page
// on the way, and the portal's other pages in both languages, are checked
// at the given width with the admin pages' layout checks (no sideways
// scroll, nothing past the right edge, no word broken across lines) and
// for loading nothing from another origin.

// portalWordBreaks is the admin pages' check, leaving out the values the
// portal shows whole on purpose, wrapping anywhere: credentials, client
// ids, URIs.
var portalWordBreaks = strings.Replace(midWordBreaks, "code.id, script", "code.id, code.value, pre, script", 1)

// foreignLoads lists the resources the page loaded from other origins.
const foreignLoads = `performance.getEntriesByType('resource').map(r => r.name).filter(n => !n.startsWith(location.origin + '/'))`

func checkPortalPage(t *testing.T, c *chrome, width int64, step string) {
	t.Helper()
	where := c.location()
	if sw, cw := eval[int](c, `document.documentElement.scrollWidth`), eval[int](c, `document.documentElement.clientWidth`); sw > cw {
		c.screenshot(step + "-overflow")
		t.Errorf("%s (%s) at %d px scrolls sideways: scrollWidth %d > %d; too wide: %v", step, where, width, sw, cw, eval[[]string](c, tooWide))
	}
	if wide := eval[[]string](c, tooWide); len(wide) > 0 {
		t.Errorf("%s (%s) at %d px: past the right edge: %v", step, where, width, wide)
	}
	if bad := eval[[]string](c, portalWordBreaks); len(bad) > 0 {
		c.screenshot(step + "-midword")
		t.Errorf("%s (%s) at %d px breaks words: %v", step, where, width, bad)
	}
	if foreign := eval[[]string](c, foreignLoads); len(foreign) > 0 {
		t.Errorf("%s (%s) loaded from other origins: %v", step, where, foreign)
	}
	if txt := c.bodyText(); strings.Contains(txt, "developer_") || strings.Contains(txt, "admin_") {
		t.Errorf("%s (%s) shows a message id:\n%s", step, where, txt)
	}
	c.screenshot(step)
}

func checkDeveloperPortal(t *testing.T, width int64, mobile bool) {
	e := newEnv(t)
	ctx := context.Background()
	tok, err := e.st.InviteDeveloper(ctx, "dev@bodegas.example")
	if err != nil {
		t.Fatal(err)
	}
	logo := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logo, pngOf(t, 64, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newChrome(t, "es-CL,es;q=0.9")
	var emulate []chromedp.EmulateViewportOption
	if mobile {
		emulate = append(emulate, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	c.do("set the width", chromedp.EmulateViewport(width, 900, emulate...))

	c.do("open the invitation", chromedp.Navigate(e.url+"/developers/signup?invite="+tok), chromedp.WaitVisible(chromedp.CSS(`#signup`)))
	if w := eval[int](c, `window.innerWidth`); w != int(width) {
		t.Fatalf("window width %d, want %d", w, width)
	}
	if txt := c.bodyText(); !strings.Contains(txt, "Te invitaron como dev@bodegas.example") {
		t.Fatalf("the sign-up page:\n%s", txt)
	}
	checkPortalPage(t, c, width, "signup")
	c.do("sign up",
		chromedp.SendKeys(chromedp.CSS(`#name`), "Dev Bodegas"),
		chromedp.SendKeys(chromedp.CSS(`#password`), devPassword),
		chromedp.Click(chromedp.CSS(`#signup button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-app`)))
	checkPortalPage(t, c, width, "apps-empty")

	c.do("open the new-app form", chromedp.Click(chromedp.CSS(`#new-app`)), chromedp.WaitVisible(chromedp.CSS(`#app-form`)))
	checkPortalPage(t, c, width, "new-app")
	c.do("fill in the app",
		chromedp.SendKeys(chromedp.CSS(`#name`), "Sincronizador de Bodegas"),
		chromedp.SendKeys(chromedp.CSS(`#description`), "Sincroniza el inventario de tus bodegas con tu tienda."),
		chromedp.SendKeys(chromedp.CSS(`#publisher`), "Bodegas SpA"),
		chromedp.SendKeys(chromedp.CSS(`#homepage`), "https://bodegas.example"),
		chromedp.SendKeys(chromedp.CSS(`#privacy_policy`), "https://bodegas.example/privacidad"),
		chromedp.SendKeys(chromedp.CSS(`#support_email`), "soporte@bodegas.example"),
		chromedp.SendKeys(chromedp.CSS(`#redirect_uris`), "https://bodegas.example/oauth/callback\nhttp://localhost:8080/callback"),
		chromedp.Click(chromedp.CSS(`input[value="read:products"]`)),
		chromedp.Click(chromedp.CSS(`input[value="read:stocks"]`)),
		chromedp.Click(chromedp.CSS(`#app-form button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#shown-once`)))
	checkPortalPage(t, c, width, "secret")
	secret := eval[string](c, `document.querySelector('#shown-once').textContent`)
	clientID := eval[string](c, `document.querySelector('dl.facts code.value').textContent`)
	a := e.getApp(clientID)
	if !a.SecretMatches(secret, a.CreatedAt) || a.Status != store.StatusDevelopment || a.Name != "Sincronizador de Bodegas" {
		t.Fatalf("the app made in the browser: %+v", a)
	}
	c.do("go on to the app", chromedp.Click(chromedp.CSS(`#continue`)), chromedp.WaitVisible(chromedp.CSS(`#logo-form`)))
	if strings.Contains(c.bodyText(), secret) {
		t.Fatal("the app page shows the secret")
	}

	c.do("upload the logo",
		chromedp.SetUploadFiles(chromedp.CSS(`#logo`), []string{logo}),
		chromedp.Click(chromedp.CSS(`#logo-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`img.app-logo`)))
	loaded, err := chromedp.Run(c.ctx, chromedp.Evaluate[int](`new Promise(done => { const i = document.querySelector('img.app-logo');
		if (i.complete) done(i.naturalWidth); else { i.onload = () => done(i.naturalWidth); i.onerror = () => done(-1); } })`,
		chromedp.EvalAwaitPromise))
	if err != nil || loaded != 64 {
		t.Fatalf("the logo in the page: width %d, %v", loaded, err)
	}

	c.do("add a test merchant",
		chromedp.SendKeys(chromedp.CSS(`#test-email`), e.merchant.Email),
		chromedp.Click(chromedp.CSS(`#add-test-merchant button`)),
		chromedp.WaitVisible(chromedp.CSS(`ul#test-merchants`)))
	if txt := c.bodyText(); !strings.Contains(txt, e.merchant.Email) || !strings.Contains(txt, "Comercio de prueba agregado") {
		t.Fatalf("after adding the test merchant:\n%s", txt)
	}
	checkPortalPage(t, c, width, "app-development")

	c.do("submit for review", chromedp.Click(chromedp.CSS(`#submit-review`)), chromedp.WaitVisible(chromedp.CSS(`#app-status.status-review`)))
	if txt := c.bodyText(); !strings.Contains(txt, "En revisión") || !strings.Contains(txt, "Enviada a revisión") {
		t.Fatalf("after submitting:\n%s", txt)
	}
	checkPortalPage(t, c, width, "app-review")
	a = e.getApp(clientID)
	if a.Status != store.StatusReview || a.Profile.Logo == "" || len(a.TestMerchants) != 1 || a.TestMerchants[0] != e.merchant.ID {
		t.Fatalf("the app after the browser's steps: %+v", a)
	}

	// The portal's other pages, in both languages.
	base := "/developers/apps/" + clientID
	for _, lang := range []string{"es", "en"} {
		for _, pg := range []struct{ name, path, wait string }{
			{"apps", "/developers", `#apps`}, {"app", base, `#logo-form`}, {"edit", base + "/edit", `#app-form`},
			{"new", "/developers/apps/new", `#app-form`}, {"delete", base + "/delete", `.confirm`},
			{"signup-closed", "/developers/signup", `#signup-closed`},
		} {
			c.do("open "+pg.path, chromedp.Navigate(e.url+pg.path+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS(pg.wait)))
			if got := eval[string](c, `document.documentElement.lang`); got != lang {
				t.Fatalf("%s: page language %q", pg.path, got)
			}
			checkPortalPage(t, c, width, lang+"-"+pg.name)
		}
	}

	// The security settings on (issue 19): the app page's lines, the edit
	// form's fieldset with a JWK Set in it, and a refusal of it.
	if _, err := e.st.UpdateApp(ctx, clientID, store.AppUpdate{FAPI2: new(true), AuthMethod: new(store.AuthPrivateKeyJWT),
		JWKS: new(settingsPublicJWKS(t)), IDTokenAlg: new(store.AlgES256)}, e.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"es", "en"} {
		for _, pg := range []struct{ name, path, wait string }{
			{"app-security", base, `#security-rules`}, {"edit-security", base + "/edit", `#security`},
		} {
			c.do("open "+pg.path, chromedp.Navigate(e.url+pg.path+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS(pg.wait)))
			checkPortalPage(t, c, width, lang+"-"+pg.name)
		}
	}
	c.do("refuse a FAPI 2.0 app without keys",
		chromedp.Clear(chromedp.CSS(`#jwks`)),
		chromedp.Click(chromedp.CSS(`#app-form button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`p.alert`)))
	if txt := c.bodyText(); !strings.Contains(txt, "private_key_jwt needs the app's public keys") {
		t.Fatalf("the refused security form:\n%s", txt)
	}
	checkPortalPage(t, c, width, "en-edit-security-refused")
	if a := e.getApp(clientID); !a.FAPI2 || a.JWKS == "" {
		t.Fatalf("the refused form changed the app: %+v", a.Security())
	}
}

// TestBrowserDeveloperPortalDesktop: the portal at 1280 px.
func TestBrowserDeveloperPortalDesktop(t *testing.T) {
	t.Parallel()
	checkDeveloperPortal(t, 1280, false)
}

// TestBrowserDeveloperPortalPhone: the portal on a 375 px phone.
func TestBrowserDeveloperPortalPhone(t *testing.T) {
	t.Parallel()
	checkDeveloperPortal(t, 375, true)
}

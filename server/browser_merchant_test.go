package server_test

// Browser checks of the merchant pages of issue 14 (HTTP checks of the
// same are in merchant_pages_test.go).

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestBrowserLocalTime: in a browser whose zone is Asia/Kolkata (UTC+5:30)
// the connections page shows the connection's date in that zone and in the
// page language, on one line even on a phone, instead of the UTC fallback.
func TestBrowserLocalTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.pair("read:products").json["connection_id"].(string)
	cn, err := e.st.GetConnection(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	zone, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	local := cn.CreatedAt.In(zone)

	c := newChrome(t, "es-CL,es;q=0.9")
	if _, err := chromedp.Call(c.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"}); err != nil {
		t.Fatal(err)
	}
	c.do("emulate a phone", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	c.do("open /connections", chromedp.Navigate(e.url+"/connections"), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	c.login(e.merchant.Email, password, `#connection-`+id+` time[data-localized]`)
	c.screenshot("connections-phone")

	created := eval[string](c, `document.querySelector('#connection-`+id+` time').textContent`)
	if !strings.Contains(created, local.Format("15:04")) || !strings.Contains(created, monthsES[local.Month()-1]) ||
		strings.Contains(created, "UTC") {
		t.Fatalf("the date in the browser's zone: %q, want %s in Spanish", created, local.Format("2 January 2006 15:04"))
	}
	if dt := eval[string](c, `document.querySelector('#connection-`+id+` time').getAttribute('datetime')`); dt != cn.CreatedAt.UTC().Format(time.RFC3339) {
		t.Fatalf("datetime %q", dt)
	}
	if lines := eval[int](c, `Math.max(...Array.from(document.querySelectorAll('time')).map(t => t.getClientRects().length))`); lines != 1 {
		t.Fatalf("a date wraps over %d lines at 375 px", lines)
	}
	if sw, iw := eval[int](c, `document.documentElement.scrollWidth`), eval[int](c, `window.innerWidth`); sw > iw {
		t.Fatalf("the connections page scrolls sideways at 375 px: %d > %d", sw, iw)
	}

	c.do("switch to English", chromedp.Click(chromedp.CSS(`nav.langs a[lang="en"]`)),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] time[data-localized]`)))
	created = eval[string](c, `document.querySelector('#connection-`+id+` time').textContent`)
	if !strings.Contains(created, local.Format("15:04")) || !strings.Contains(created, local.Month().String()) {
		t.Fatalf("the English date in the browser's zone: %q", created)
	}
}

// TestBrowserManyScopes: an app asking for 17 scopes on a 375 px phone:
// the summary is on top, no manage scope is ticked, the page does not
// scroll sideways, a manage scope can be ticked by keyboard, and
// "Autorizar" is disabled (with a line saying why) while nothing is ticked.
func TestBrowserManyScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := newAppServer(t)
	a := e.newManyScopesApp(app.url + "/callback")
	q := authorizeQuery(a.ClientID, app.url+"/callback")
	q.Set("scope", strings.Join(manyScopes, " "))
	c := newChrome(t, "es-CL,es;q=0.9")
	c.do("emulate a phone", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	c.do("open the authorize URL", chromedp.Navigate(e.url+"/apps/authorize?"+q.Encode()),
		chromedp.WaitVisible(chromedp.CSS(`#email`)))
	c.login(e.merchant.Email, password, `#consent`)
	c.screenshot("consent-phone")

	if sw, iw := eval[int](c, `document.documentElement.scrollWidth`), eval[int](c, `window.innerWidth`); sw > iw || iw != 375 {
		wide := eval[[]string](c, `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5).map(e => e.tagName + '.' + e.className).slice(0, 10)`)
		t.Fatalf("the page scrolls sideways: scrollWidth %d, innerWidth %d; too wide: %v", sw, iw, wide)
	}
	summary := eval[string](c, `document.getElementById('scope-summary').innerText`)
	for _, want := range []string{"17 permisos", "8 para ver", "6 para crear y modificar", "3 para administrar"} {
		if !strings.Contains(summary, want) {
			t.Fatalf("the summary lacks %q: %q", want, summary)
		}
	}
	if top := eval[float64](c, `document.getElementById('scope-summary').getBoundingClientRect().top`); top > 812 {
		t.Fatalf("the summary is below the first screen (top %v)", top)
	}
	manage := `Array.from(document.querySelectorAll('#consent input[name="granted"][value^="manage:"]')).filter(b => b.checked).length`
	if n := eval[int](c, manage); n != 0 {
		t.Fatalf("%d manage scopes start ticked", n)
	}
	if n := eval[int](c, `document.querySelectorAll('#consent input[name="granted"]:checked').length`); n != 14 {
		t.Fatalf("%d scopes ticked, want the 14 read and write ones", n)
	}
	t.Logf("consent page of 17 scopes at 375 px: %d px high", eval[int](c, `document.documentElement.scrollHeight`))

	// Keyboard: focus the first manage box and tick it with Space.
	eval[chromedp.Void](c, `document.querySelector('#consent input[value="manage:clients"]').focus()`)
	c.do("press Space", chromedp.KeyEvent(" "))
	if !eval[bool](c, `document.querySelector('#consent input[value="manage:clients"]').checked`) {
		t.Fatal("Space did not tick the focused manage scope")
	}

	// Nothing ticked: Autorizar is disabled and says why; ticking one
	// enables it again.
	approve := `document.querySelector('button[name="decision"][value="approve"]')`
	if eval[bool](c, approve+`.disabled`) || !eval[bool](c, `document.getElementById('tick-one').hidden`) {
		t.Fatal("Autorizar disabled while scopes are ticked")
	}
	c.do("select none", chromedp.Click(chromedp.CSS(`button[data-select="none"]`)))
	if !eval[bool](c, approve+`.disabled`) || eval[bool](c, `document.getElementById('tick-one').hidden`) {
		t.Fatal("with nothing ticked, Autorizar is enabled or the hint is hidden")
	}
	c.screenshot("nothing-ticked")
	c.do("tick one", chromedp.Click(chromedp.CSS(`#consent input[value="read:stocks"]`)))
	if eval[bool](c, approve+`.disabled`) {
		t.Fatal("ticking a scope did not enable Autorizar")
	}
	c.do("authorize", chromedp.Click(chromedp.CSS(`button[name="decision"][value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#app-callback`)))
	if cb := app.callback(t, c.ctx); cb.Get("code") == "" {
		t.Fatalf("callback: %v", cb)
	}
}

// TestBrowserExpiredSession: a merchant whose session ended while the
// consent page was open presses Autorizar, is told the session expired,
// logs in again and is back on the same consent page.
func TestBrowserExpiredSession(t *testing.T) {
	t.Parallel()
	f := newBrowserFlow(t, "es-CL,es;q=0.9")
	c := f.c
	f.toConsent()
	f.e.expireSessions()
	c.do("authorize", chromedp.Click(chromedp.CSS(`button[name="decision"][value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#session-expired`)))
	if txt := eval[string](c, `document.getElementById('session-expired').innerText`); txt != "Tu sesión expiró. Inicia sesión otra vez para continuar." {
		t.Fatalf("login page message: %q", txt)
	}
	c.screenshot("login-expired")
	c.login(f.e.merchant.Email, password, `#consent`)
	u, _ := url.Parse(c.location())
	if u.Path != "/apps/authorize" || u.Query().Get("client_id") != f.conf.ClientID {
		t.Fatalf("after logging in again the browser is at %s", c.location())
	}
}

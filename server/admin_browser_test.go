package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/enlace-oauth/enlace/store"
)

// Browser tests of the admin pages' layout (issue 14): at a desktop width
// and a phone's, in both languages, no admin page scrolls sideways (a table
// may, inside its own box) and no word is broken across lines in headers,
// cells, buttons or the nav ("Conexio/nes", letters stacked one a line).

// midWordBreaks lists the words in <main> that the browser laid out on more
// than one line: each word of each text node is a Range whose boxes must
// all sit on one line. Ids are left out (the stylesheet cuts them short on
// purpose, on one line).
const midWordBreaks = `(() => {
  const bad = [];
  const walk = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode()); ) {
    const el = n.parentElement;
    if (!el || el.closest('code.id, script') || el.getClientRects().length === 0) continue;
    const words = /\S+/g;
    for (let m; (m = words.exec(n.data)); ) {
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      const lines = new Set(Array.from(r.getClientRects()).filter(b => b.width > 0).map(b => Math.round(b.bottom)));
      if (lines.size > 1) bad.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ': ' + m[0] + ' on ' + lines.size + ' lines');
    }
  }
  return bad.slice(0, 20);
})()`

// tooWide lists the elements outside a table's scroll box that reach past
// the right edge of the window.
const tooWide = `Array.from(document.querySelectorAll('main *')).filter(e => !e.closest('.table-scroll') &&
  e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5).map(e => e.tagName + '.' + e.className).slice(0, 10)`

// checkAdminLayout opens each admin page at the given width and checks it.
func checkAdminLayout(t *testing.T, width int64, mobile bool) {
	a := newAuditEnv(t)
	live := a.pair().json["connection_id"].(string)
	for range 3 {
		a.pair()
	}
	// A webhook whose deliveries the deliverer refuses (loopback): the
	// deliveries page with its answers.
	a.setWebhook(a.app.ClientID, "https://127.0.0.1:1/v1/receivers/sincronizador/webhooks/enlace-oauth-lifecycle")
	if _, err := a.st.SendPing(context.Background(), a.app.ClientID, store.DeliveryOptions{}); err != nil {
		t.Fatal(err)
	}
	c := newChrome(t, "es-CL,es;q=0.9")
	emulate := []chromedp.EmulateViewportOption{}
	if mobile {
		emulate = append(emulate, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	c.do("set the width", chromedp.EmulateViewport(width, 900, emulate...))
	c.do("open the admin login", chromedp.Navigate(a.url+"/admin/login"), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	c.login("ops@enlace.test", "admin pass", `nav.admin-nav`)
	if w := eval[int](c, `window.innerWidth`); w != int(width) {
		t.Fatalf("window width %d, want %d", w, width)
	}
	app := a.app.ClientID
	pages := []struct{ name, path string }{{"apps", "/admin"}, {"merchants", "/admin/merchants"},
		{"connections", "/admin/connections"}, {"audit", "/admin/audit"},
		{"deliveries", "/admin/apps/" + app + "/deliveries"},
		{"confirm-disable", "/admin/apps/" + app + "/disable"}, {"confirm-revoke-all", "/admin/apps/" + app + "/revoke-all"},
		{"confirm-revoke", "/admin/connections/" + live + "/revoke?back=" + url.QueryEscape("/admin/connections?app="+app)}}
	for _, lang := range []string{"es", "en"} {
		for _, pg := range pages {
			path := pg.path
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			c.do("open "+path, chromedp.Navigate(a.url+path+sep+"lang="+lang), chromedp.WaitVisible(chromedp.CSS(`.admin`)))
			if got := eval[string](c, `document.documentElement.lang`); got != lang {
				t.Fatalf("%s: page language %q", path, got)
			}
			step := lang + "-" + pg.name
			if sw, cw := eval[int](c, `document.documentElement.scrollWidth`), eval[int](c, `document.documentElement.clientWidth`); sw > cw {
				c.screenshot(step + "-overflow")
				t.Errorf("%s (%s) at %d px scrolls sideways: scrollWidth %d > %d; too wide: %v", path, lang, width, sw, cw,
					eval[[]string](c, tooWide))
			}
			if wide := eval[[]string](c, tooWide); len(wide) > 0 {
				t.Errorf("%s (%s) at %d px: past the right edge: %v", path, lang, width, wide)
			}
			if bad := eval[[]string](c, midWordBreaks); len(bad) > 0 {
				c.screenshot(step + "-midword")
				t.Errorf("%s (%s) at %d px breaks words: %v", path, lang, width, bad)
			}
			// Ids are cut short, whole in the page, with a copy button
			// (admin.js).
			if n := eval[int](c, `document.querySelectorAll('code.id').length`); n == 0 ||
				eval[int](c, `document.querySelectorAll('code.id + button.copy').length`) != n {
				t.Errorf("%s: %d ids, not each with a copy button", path, n)
			}
			if !eval[bool](c, `Array.from(document.querySelectorAll('code.id')).some(e => e.scrollWidth > e.clientWidth)`) {
				t.Errorf("%s: no id is shortened", path)
			}
			if lang == "es" {
				c.screenshot(step)
			}
		}
	}
}

// TestBrowserAdminDesktop: the admin pages at 1280 px.
func TestBrowserAdminDesktop(t *testing.T) {
	t.Parallel()
	checkAdminLayout(t, 1280, false)
}

// TestBrowserAdminPhone: the admin pages on a 375 px phone; the tables
// scroll inside their boxes, the page does not.
func TestBrowserAdminPhone(t *testing.T) {
	t.Parallel()
	checkAdminLayout(t, 375, true)
}

// TestBrowserAdminConfirmRevokeAll: on the apps page "Revocar todas las
// conexiones" opens the confirmation, which names the app and the count;
// going back acts on nothing, confirming revokes them.
func TestBrowserAdminConfirmRevokeAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pair := e.pair()
	e.adminBrowser() // creates the admin
	c := newChrome(t, "es-CL,es;q=0.9")
	c.do("open the admin login", chromedp.Navigate(e.url+"/admin/login"), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	c.login("ops@enlace.test", "admin pass", `#app-`+e.app.ClientID)
	revokeAll := `#app-` + e.app.ClientID + ` a.button.danger`
	c.do("click Revocar todas las conexiones", chromedp.Click(chromedp.CSS(revokeAll)), chromedp.WaitVisible(chromedp.CSS(`.confirm button.danger`)))
	if txt := c.bodyText(); !strings.Contains(txt, "¿Revocar todas las conexiones de Sincronizador?") ||
		!strings.Contains(txt, "Se revocará 1 conexión de inmediato") {
		t.Fatalf("confirmation page:\n%s", txt)
	}
	c.screenshot("confirm")
	c.do("go back", chromedp.Click(chromedp.CSS(`.confirm a.button`)), chromedp.WaitVisible(chromedp.CSS(revokeAll)))
	if r := e.info(pair.json["access_token"].(string)); r.status != http.StatusOK {
		t.Fatal("opening the confirmation and going back revoked the connections")
	}
	c.do("confirm", chromedp.Click(chromedp.CSS(revokeAll)), chromedp.WaitVisible(chromedp.CSS(`.confirm button.danger`)),
		chromedp.Click(chromedp.CSS(`.confirm button.danger`)), chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if notice := eval[string](c, `document.querySelector('p.notice').innerText`); !strings.HasPrefix(notice, "Todas las conexiones de la aplicación quedaron cortadas") {
		t.Fatalf("notice: %q", notice)
	}
	c.screenshot("revoked")
	if r := e.info(pair.json["access_token"].(string)); r.status != http.StatusUnauthorized {
		t.Fatalf("after confirming, the token: %d", r.status)
	}
}

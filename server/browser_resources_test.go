package server_test

// The consent page's choice of resources (issue 17) in Chromium: its layout
// at 1280 and 375 px in both languages, the keyboard, and the whole way
// from the merchant's choice of one warehouse to a resource server that
// lets that warehouse through and refuses another.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// byID is a CSS selector of the element with this id (ids here hold ':').
func byID(id string) string { return `[id="` + id + `"]` }

// listShown reports whether the resource list of scope is displayed.
func listShown(c *chrome, scope string) bool {
	c.t.Helper()
	return eval[bool](c, `getComputedStyle(document.getElementById('resource-list-`+scope+`')).display !== 'none'`)
}

func reachText(c *chrome, scope string) string {
	c.t.Helper()
	return eval[string](c, `document.querySelector('[id="reach-`+scope+`"] .reach-text').textContent`)
}

func activeID(c *chrome) string {
	c.t.Helper()
	return eval[string](c, `document.activeElement ? document.activeElement.id : ''`)
}

func checkResourceChoiceLayout(t *testing.T, width int64, mobile bool) {
	ra := newResourceApp(t, appRedirect)
	e := ra.e
	// A long name, and two of one name (shown with their ids).
	e.setWarehouses(w1, w2, store.Resource{ID: "W3", Name: "Centro de Distribución Metropolitano de Quilicura"},
		store.Resource{ID: "W4-NORTE-ANTIGUA", Name: "Bodega Norte"})
	c := newChrome(t, "es-CL,es;q=0.9")
	var emulate []chromedp.EmulateViewportOption
	if mobile {
		emulate = append(emulate, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	c.do("set the width", chromedp.EmulateViewport(width, 900, emulate...))
	c.do("open the authorize URL", chromedp.Navigate(e.url+ra.authorize), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	c.login(e.merchant.Email, password, `#consent`)
	if w := eval[int](c, `window.innerWidth`); w != int(width) {
		t.Fatalf("window width %d, want %d", w, width)
	}
	// "All" is chosen, and the lists are out of the way.
	if listShown(c, "read:stocks") || listShown(c, "write:stocks") {
		t.Fatal("a resource list is shown while all is chosen")
	}
	if got := reachText(c, "read:stocks"); got != "en cualquier bodega" {
		t.Fatalf("the summary says %q", got)
	}
	checkPortalPage(t, c, width, "es-all")

	// Keyboard: from read:stocks' box, Tab reaches its choice (the chosen
	// radio), the down arrow chooses "only in", Tab reaches the first
	// warehouse and Space ticks it.
	eval[chromedp.Void](c, `document.getElementById('scope-read:stocks').focus()`)
	c.do("press Tab", chromedp.KeyEvent("\t"))
	if got := activeID(c); got != "mode-all-read:stocks" {
		t.Fatalf("Tab from the scope focused %q, not its choice", got)
	}
	c.do("press the down arrow", chromedp.KeyEvent(kb.ArrowDown))
	if got := activeID(c); got != "mode-some-read:stocks" || !eval[bool](c, `document.getElementById('mode-some-read:stocks').checked`) {
		t.Fatalf("the down arrow: focus on %q", got)
	}
	if !listShown(c, "read:stocks") || listShown(c, "write:stocks") {
		t.Fatal("choosing only in for read:stocks did not show its list (alone)")
	}
	c.do("press Tab", chromedp.KeyEvent("\t"))
	if got := activeID(c); got != "res-read:stocks-0" {
		t.Fatalf("Tab from only in focused %q, not the first warehouse", got)
	}
	c.do("press Space", chromedp.KeyEvent(" "))
	if !eval[bool](c, `document.getElementById('res-read:stocks-0').checked`) {
		t.Fatal("Space did not tick the focused warehouse")
	}
	if got := reachText(c, "read:stocks"); got != "solo en Bodega Central" {
		t.Fatalf("the summary after ticking Bodega Central: %q", got)
	}
	// Names that repeat are told apart by their ids.
	labels := eval[[]string](c, `Array.from(document.querySelectorAll('[id="resource-list-read:stocks"] label')).map(l => l.innerText.trim())`)
	if strings.Join(labels, " | ") != "Bodega Central | Bodega Norte W2 | Bodega Norte W4-NORTE-ANTIGUA | Centro de Distribución Metropolitano de Quilicura" {
		t.Fatalf("the warehouses offered: %q", labels)
	}
	c.do("tick the long one", chromedp.Click(chromedp.CSS(byID("res-read:stocks-3"))))
	if got := reachText(c, "read:stocks"); got != "solo en Bodega Central y Centro de Distribución Metropolitano de Quilicura" {
		t.Fatalf("the summary after ticking two: %q", got)
	}
	c.do("choose a write:stocks warehouse", chromedp.Click(chromedp.CSS(byID("mode-some-write:stocks"))),
		chromedp.Click(chromedp.CSS(byID("res-write:stocks-1"))))
	if got := reachText(c, "write:stocks"); got != "solo en Bodega Norte (W2)" {
		t.Fatalf("the write:stocks summary: %q", got)
	}
	checkPortalPage(t, c, width, "es-some")

	c.do("open the page in English", chromedp.Navigate(e.url+ra.authorize+"&lang=en"),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #consent`)))
	if got := eval[string](c, `document.querySelector('[id="resources-read:stocks"] legend').innerText`); got != "In which warehouses?" {
		t.Fatalf("the English legend: %q", got)
	}
	checkPortalPage(t, c, width, "en-all")
	c.do("choose only in", chromedp.Click(chromedp.CSS(byID("mode-some-read:stocks"))),
		chromedp.Click(chromedp.CSS(byID("res-read:stocks-0"))), chromedp.Click(chromedp.CSS(byID("res-read:stocks-2"))))
	if got := reachText(c, "read:stocks"); got != "only in Bodega Central and Bodega Norte (W4-NORTE-ANTIGUA)" {
		t.Fatalf("the English summary: %q", got)
	}
	checkPortalPage(t, c, width, "en-some")
}

// TestBrowserResourceChoiceDesktop: the choice at 1280 px.
func TestBrowserResourceChoiceDesktop(t *testing.T) {
	t.Parallel()
	checkResourceChoiceLayout(t, 1280, false)
}

// TestBrowserResourceChoicePhone: the choice on a 375 px phone.
func TestBrowserResourceChoicePhone(t *testing.T) {
	t.Parallel()
	checkResourceChoiceLayout(t, 375, true)
}

// TestBrowserResourceGrant, the evidence: in Chromium a merchant
// with warehouses W1 and W2 grants read:stocks for W1 only; the RFC 6749
// answer carries the matching authorization_details, introspection too,
// and /api/d/info's scopes object says {"all": false, "W1": true}; the
// resource middleware lets W1 through and refuses W2; /connections says
// what the connection reaches.
func TestBrowserResourceGrant(t *testing.T) {
	t.Parallel()
	app := newAppServer(t)
	ra := newResourceApp(t, app.url+"/callback")
	e := ra.e
	conf := &oauth2.Config{ClientID: ra.app.ClientID, ClientSecret: ra.secret, RedirectURL: app.url + "/callback",
		Scopes: []string{"read:stocks", "read:products"},
		Endpoint: oauth2.Endpoint{AuthURL: e.url + "/apps/authorize", TokenURL: e.url + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader}}
	verifier := oauth2.GenerateVerifier()
	c := newChrome(t, "es-CL,es;q=0.9")
	c.do("open the authorize URL", chromedp.Navigate(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#email`)))
	c.login(e.merchant.Email, password, `#consent`)
	if n := eval[int](c, `document.querySelectorAll('fieldset.resource-choice').length`); n != 1 {
		t.Fatalf("%d choices of resources, want read:stocks' alone", n)
	}
	c.do("choose W1 and W2", chromedp.Click(chromedp.CSS(byID("mode-some-read:stocks"))),
		chromedp.Click(chromedp.CSS(`input[name="resources.read:stocks"][value="W1"]`)),
		chromedp.Click(chromedp.CSS(`input[name="resources.read:stocks"][value="W2"]`)))
	if got := reachText(c, "read:stocks"); !strings.HasPrefix(got, "solo en Bodega Central") || !strings.Contains(got, "Bodega Norte") {
		t.Fatalf("the summary: %q", got)
	}
	c.screenshot("consent")
	c.do("authorize", chromedp.Click(chromedp.CSS(`button[name="decision"][value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#app-callback`)))
	q := app.callback(t, c.ctx)
	tok, err := conf.Exchange(c.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	const wantDetails = `[{"actions":["read:stocks"],"identifier":"W1","type":"warehouse"},` +
		`{"actions":["read:stocks"],"identifier":"W2","type":"warehouse"}]`
	if got := jsonOf(tok.Extra("authorization_details")); tok.Extra("scope") != "read:stocks read:products" || got != wantDetails {
		t.Fatalf("the token answer: scope %v, authorization_details %s", tok.Extra("scope"), got)
	}
	intro := e.form("/oauth/introspect", url.Values{"token": {tok.AccessToken}}, ra.app.ClientID, ra.secret)
	if intro.json["active"] != true || jsonOf(intro.json["authorization_details"]) != wantDetails {
		t.Fatalf("introspection: %s", intro.raw)
	}
	if got := jsonOf(e.info(tok.AccessToken).json["scopes"]); got != `{"read:products":{"all":true},"read:stocks":{"W1":true,"W2":true,"all":false}}` {
		t.Fatalf("/api/d/info scopes: %s", got)
	}

	// A resource server, as an API team mounts the middleware.
	gin.SetMode(gin.ReleaseMode)
	api := gin.New()
	verify := resource.NewVerifier(e.st, store.NewAppCache(e.st, time.Minute))
	api.GET("/warehouses/:id/stock", resource.Authenticate(verify),
		resource.RequireResource("read:stocks", func(r *http.Request) string { return strings.Split(r.URL.Path, "/")[2] }),
		func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	call := func(w string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodGet, "/warehouses/"+w+"/stock", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	if code, _ := call("W1"); code != http.StatusOK {
		t.Fatalf("W1: %d", code)
	}
	if code, _ := call("W2"); code != http.StatusOK {
		t.Fatalf("W2: %d", code)
	}
	if code, body := call("W3"); code != http.StatusForbidden || body["error"] != "insufficient_scope" {
		t.Fatalf("W3, outside the grant: %d %v", code, body)
	}

	c.do("open /connections", chromedp.Navigate(e.url+"/connections"), chromedp.WaitVisible(chromedp.CSS(`.connection`)))
	if txt := c.bodyText(); !strings.Contains(txt, "Ver tu inventario — solo en Bodega Central") {
		t.Fatalf("/connections:\n%s", txt)
	}
	c.screenshot("connections")

	// The merchant takes W1 away from /connections: the next check
	// refuses it, W2 still passes.
	c.do("narrow", chromedp.Click(chromedp.CSS(`a[href$="/resources"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="resources.read:stocks"][value="W1"]`)))
	checkPortalPage(t, c, 1280, "narrow")
	c.do("untick W1 and save", chromedp.Click(chromedp.CSS(`input[name="resources.read:stocks"][value="W1"]`)),
		chromedp.Click(chromedp.CSS(`form.consent button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(`#narrowed`)))
	if code, body := call("W1"); code != http.StatusForbidden || body["error"] != "insufficient_scope" {
		t.Fatalf("W1 after narrowing: %d %v", code, body)
	}
	if code, _ := call("W2"); code != http.StatusOK {
		t.Fatalf("W2 after narrowing: %d", code)
	}
}

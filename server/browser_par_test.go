package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestBrowserPushedRequest walks a pushed authorization request in
// Chromium: the app pushes its request, the browser carries only
// client_id and request_uri, the merchant logs in and approves, the app
// gets its code and golang.org/x/oauth2 exchanges it; the same link
// afterwards is a page that says the request is over, in the merchant's
// language, at phone width without sideways scrolling.
func TestBrowserPushedRequest(t *testing.T) {
	t.Parallel()
	f := newBrowserFlow(t, "es-CL,es;q=0.9")
	e := f.e
	q, _ := url.Parse(f.authURL)
	params := q.Query()
	r := e.push(params, nil, f.conf.ClientID, f.conf.ClientSecret)
	if r.status != http.StatusCreated {
		t.Fatalf("push: %d %s", r.status, r.raw)
	}
	link := e.url + "/apps/authorize?" + url.Values{"client_id": {f.conf.ClientID}, "request_uri": {r.json["request_uri"].(string)}}.Encode()
	c := f.c
	c.do("open the pushed request", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	c.login(e.merchant.Email, password, `#consent`)
	c.do("authorize", chromedp.Click(chromedp.CSS(`button[name="decision"][value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#app-callback`)))
	back := f.app.callback(t, c.ctx)
	if back.Get("state") != "state-browser" || back.Get("iss") != e.cfg.Issuer {
		t.Fatalf("callback: %v", back)
	}
	tok, err := f.conf.Exchange(context.Background(), back.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("exchange: %v", err)
	}

	c.do("phone width", chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile))
	c.do("the link again", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`main`)))
	if text := c.bodyText(); !strings.Contains(text, "expiró o ya se usó") {
		t.Fatalf("a used request_uri: %s", text)
	}
	if sw, cw := eval[int](c, `document.documentElement.scrollWidth`), eval[int](c, `document.documentElement.clientWidth`); sw > cw {
		t.Errorf("the page scrolls sideways: %d > %d; too wide: %v", sw, cw, eval[[]string](c, tooWide))
	}
}

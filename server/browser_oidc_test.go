package server_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/enlace-oauth/enlace/store"
)

// TestBrowserOpenIDPages walks OpenID Connect's pages in Chromium, at
// desktop width in English and phone width in Spanish: the login page
// pre-filled by login_hint, the fresh login prompt=login asks for, the
// logout confirmation and its return to the app with state, and the
// logged-out page; each page without sideways scrolling or broken words.
func TestBrowserOpenIDPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := newAppServer(t)
	back := srv.url + "/callback"
	app, _, err := e.st.CreateApp(context.Background(), store.AppSpec{Name: "Ingreso con la plataforma",
		RedirectURIs: []string{back}, Scopes: []string{"openid", "profile", "email"},
		PostLogoutRedirectURIs: []string{back}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(extra ...string) string {
		q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {back},
			"scope": {"openid profile email"}, "state": {"st"}, "nonce": {store.NewSecret()}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return e.url + "/apps/authorize?" + q.Encode()
	}
	for _, run := range []struct {
		width int64
		lang  string
		again string // the login page's notice for prompt=login
	}{{1280, "en", "log in again"}, {375, "es-CL,es;q=0.9", "vuelvas a iniciar sesión"}} {
		c := newChrome(t, run.lang)
		var emulate []chromedp.EmulateViewportOption
		if run.width < 500 {
			emulate = append(emulate, chromedp.EmulateMobile, chromedp.EmulatePortrait)
		}
		c.do("set the width", chromedp.EmulateViewport(run.width, 900, emulate...))
		check := func(step string) {
			t.Helper()
			step += "-" + map[int64]string{1280: "desktop", 375: "phone"}[run.width]
			c.screenshot(step)
			if sw, cw := eval[int](c, `document.documentElement.scrollWidth`), eval[int](c, `document.documentElement.clientWidth`); sw > cw {
				t.Errorf("%s scrolls sideways: %d > %d; too wide: %v", step, sw, cw, eval[[]string](c, tooWide))
			}
			if bad := eval[[]string](c, midWordBreaks); len(bad) > 0 {
				t.Errorf("%s breaks words: %v", step, bad)
			}
		}

		// login_hint fills in the email: the merchant types the password.
		c.do("open the authorize URL", chromedp.Navigate(authorize("login_hint", e.merchant.Email)),
			chromedp.WaitVisible(chromedp.CSS(`#password`)))
		if v := eval[string](c, `document.querySelector('#email').value`); v != e.merchant.Email {
			t.Fatalf("login_hint: the email field holds %q", v)
		}
		check("login-hint")
		c.do("log in", chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`form button[type=submit].primary`)), chromedp.WaitVisible(chromedp.CSS(`#consent`)))

		// prompt=login: the login page again, saying why.
		c.do("prompt=login", chromedp.Navigate(authorize("prompt", "login")), chromedp.WaitVisible(chromedp.CSS(`#login-again`)))
		if text := c.bodyText(); !strings.Contains(text, run.again) {
			t.Fatalf("prompt=login: the login page does not say why:\n%s", text)
		}
		check("login-again")
		c.login(e.merchant.Email, password, `#consent`)

		// Logout without a hint: asked first, then back at the app with state.
		logout := e.url + "/oauth/logout?" + url.Values{"client_id": {app.ClientID},
			"post_logout_redirect_uri": {back}, "state": {"bye"}}.Encode()
		c.do("open the logout URL", chromedp.Navigate(logout),
			chromedp.WaitVisible(chromedp.CSS(`button[name="decision"][value="logout"]`)))
		if text := c.bodyText(); !strings.Contains(text, "Ingreso con la plataforma") || !strings.Contains(text, e.merchant.Email) {
			t.Fatalf("the logout page names neither the app nor the merchant:\n%s", text)
		}
		check("logout-confirm")
		c.do("log out", chromedp.Click(chromedp.CSS(`button[name="decision"][value="logout"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#app-callback`)))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// The first callback was the approval's (with a code); the next is
		// the logout's return, with its state and nothing else of ours.
		q := srv.callback(t, ctx)
		for q.Get("code") != "" {
			q = srv.callback(t, ctx)
		}
		cancel()
		if q.Get("state") != "bye" || len(q) != 1 {
			t.Fatalf("the logout's return to the app: %v", q)
		}

		// Nobody is logged in now: the logout page says the session ended.
		c.do("logout again", chromedp.Navigate(e.url+"/oauth/logout"), chromedp.WaitVisible(chromedp.CSS(`#logged-out`)))
		check("logged-out")
		c.do("the session is over", chromedp.Navigate(e.url+"/connections"), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	}
}

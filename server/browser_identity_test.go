package server_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/enlace-oauth/enlace/store"
)

// TestBrowserAppIdentity (issue 15): the consent page and /connections
// show an app's identity — logo, publisher, the development mark, its
// links — at 1280 and 375 px, without the page scrolling sideways or a
// word broken across lines.
func TestBrowserAppIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	srv := newAppServer(t)
	app, _, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Sincronizador de inventario multicanal",
		RedirectURIs: []string{srv.url + "/callback"}, Scopes: []string{"read:products", "read:stocks"}, Owner: "dev-1",
		TestMerchants: []string{e.merchant.ID},
		Profile: store.Profile{Publisher: "Estudio de Integraciones Comerciales del Pacífico SpA",
			Homepage: "https://studio.example", PrivacyPolicy: "https://studio.example/privacidad",
			Terms: "https://studio.example/terminos", SupportEmail: "soporte@studio.example"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 96, 96))
	for x := range 96 {
		img.Set(x, x, color.RGBA{11, 92, 173, 255})
	}
	var logo bytes.Buffer
	if err := png.Encode(&logo, img); err != nil {
		t.Fatal(err)
	}
	if app, err = e.st.SetAppLogo(ctx, app.ClientID, logo.Bytes(), store.ActorDeveloper("dev-1")); err != nil {
		t.Fatal(err)
	}
	q := authorizeQuery(app.ClientID, srv.url+"/callback")
	q.Set("scope", "read:products read:stocks")
	authorize := e.url + "/apps/authorize?" + q.Encode()

	for _, width := range []int64{1280, 375} {
		c := newChrome(t, "es-CL,es;q=0.9")
		var emulate []chromedp.EmulateViewportOption
		if width < 500 {
			emulate = append(emulate, chromedp.EmulateMobile, chromedp.EmulatePortrait)
		}
		c.do("set the width", chromedp.EmulateViewport(width, 900, emulate...))
		c.do("open the authorize URL", chromedp.Navigate(authorize), chromedp.WaitVisible(chromedp.CSS(`#email`)))
		c.login(e.merchant.Email, password, `#consent`)
		check := func(page string) {
			t.Helper()
			step := page + "-" + map[int64]string{1280: "desktop", 375: "phone"}[width]
			c.screenshot(step)
			if sw, cw := eval[int](c, `document.documentElement.scrollWidth`), eval[int](c, `document.documentElement.clientWidth`); sw > cw {
				t.Errorf("%s scrolls sideways: %d > %d; too wide: %v", step, sw, cw, eval[[]string](c, tooWide))
			}
			if bad := eval[[]string](c, midWordBreaks); len(bad) > 0 {
				t.Errorf("%s breaks words: %v", step, bad)
			}
			text := c.bodyText()
			for _, want := range []string{"En desarrollo", "De Estudio de Integraciones Comerciales del Pacífico SpA",
				"Sitio web", "Política de privacidad", "Términos de servicio"} {
				if !strings.Contains(text, want) {
					t.Errorf("%s lacks %q:\n%s", step, want, text)
				}
			}
			if src := eval[string](c, `(document.querySelector('img.app-logo') || {}).getAttribute?.('src') || ''`); !strings.HasPrefix(src, "/apps/"+app.ClientID+"/logo/") {
				t.Errorf("%s: the logo's address %q", step, src)
			}
			// The logo loads, from enlace's own origin.
			if _, err := chromedp.Run(c.ctx, chromedp.Poll[bool](`document.querySelector('img.app-logo').complete && document.querySelector('img.app-logo').naturalWidth > 0`)); err != nil {
				t.Errorf("%s: the logo did not load: %v", step, err)
			}
			if w := eval[int](c, `document.querySelector('img.app-logo').naturalWidth`); w != 96 {
				t.Errorf("%s: the logo did not load (natural width %d)", step, w)
			}
			if h := eval[float64](c, `document.querySelector('img.app-logo').getBoundingClientRect().height`); h < 40 || h > 56 {
				t.Errorf("%s: the logo is %v px high", step, h)
			}
		}
		check("consent-identity")
		c.do("authorize", chromedp.Click(chromedp.CSS(`button[name="decision"][value="approve"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#app-callback`)))
		c.do("open /connections", chromedp.Navigate(e.url+"/connections"), chromedp.WaitVisible(chromedp.CSS(`.app-group`)))
		check("connections-identity")
	}
}

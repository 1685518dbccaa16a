package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// Browser tests of the portal's webhook pages (issue 16): in Chromium, a
// developer sets their app's endpoint, reads its signing secret, sends a
// ping that a real receiver verifies, and reads the deliveries; the
// webhook section, the deliveries page and the removal's confirmation,
// of an active endpoint and of one disabled for failing, are checked in
// both languages with the portal's layout checks (checkPortalPage).

func checkWebhookPortal(t *testing.T, width int64, mobile bool) {
	e := webhookEnv(t, func(c *config.Config) { c.Webhooks.DisableAfter = time.Hour })
	ctx := context.Background()
	dev, err := e.st.CreateDeveloper(ctx, "dev@bodegas.example", "Dev Bodegas", devPassword)
	if err != nil {
		t.Fatal(err)
	}
	newApp := func(name string) *store.App {
		a, _, err := e.st.CreateApp(ctx, store.AppSpec{Name: name, Owner: dev.ID, RedirectURIs: []string{"https://bodegas.example/oauth/callback"},
			Scopes: []string{"read:products", "read:stocks"}, By: store.ActorDeveloper(dev.ID)}, e.cfg.Scopes.Names())
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	app, broken := newApp("Sincronizador de Bodegas"), newApp("Etiquetas Rápidas")

	// The broken app's endpoint answers 500 until it is disabled.
	down := newReceiver(t)
	down.respond = func(string, int) int { return http.StatusInternalServerError }
	down.setSecrets(e.setWebhook(broken.ClientID, down.url()+"/v1/receivers/etiquetas-rapidas/webhooks/enlace-oauth-lifecycle"))
	first, err := e.st.SendPing(ctx, broken.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.waitDelivery(broken.ClientID, first.ID, store.DeliveryFailed, 4)
	e.clock.Add(2 * time.Hour)
	second, err := e.st.SendPing(ctx, broken.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the broken endpoint disabled", func() bool { return !e.getApp(broken.ClientID).Webhook.Active() })
	e.waitDelivery(broken.ClientID, second.ID, store.DeliveryFailed, 2)

	r := newReceiver(t)
	c := newChromeFor(t, "es-CL,es;q=0.9", 3*browserTimeout)
	var emulate []chromedp.EmulateViewportOption
	if mobile {
		emulate = append(emulate, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	c.do("set the width", chromedp.EmulateViewport(width, 900, emulate...))
	c.do("open the portal", chromedp.Navigate(e.url+"/developers"))
	c.login(dev.Email, devPassword, `#apps`)
	if w := eval[int](c, `window.innerWidth`); w != int(width) {
		t.Fatalf("window width %d, want %d", w, width)
	}

	base := "/developers/apps/" + app.ClientID
	c.do("open the app", chromedp.Navigate(e.url+base), chromedp.WaitVisible(chromedp.CSS(`#webhook-form`)))
	checkPortalPage(t, c, width, "webhook-none")
	c.do("set the endpoint",
		chromedp.SendKeys(chromedp.CSS(`#webhook-url-input`), r.url()),
		chromedp.Click(chromedp.CSS(`#webhook-save`)),
		chromedp.WaitVisible(chromedp.CSS(`#shown-once`)))
	if txt := c.bodyText(); !strings.Contains(txt, "Secreto de firma del webhook") || !strings.Contains(txt, "no lo volveremos a mostrar") {
		t.Fatalf("the signing secret's page:\n%s", txt)
	}
	checkPortalPage(t, c, width, "webhook-secret")
	secret := eval[string](c, `document.querySelector('#shown-once').textContent`)
	if !strings.HasPrefix(secret, store.WebhookSecretPrefix) {
		t.Fatalf("the page's signing secret %q…", secret[:6])
	}
	r.setSecrets(secret)
	c.do("go back to the app", chromedp.Click(chromedp.CSS(`#continue`)), chromedp.WaitVisible(chromedp.CSS(`#webhook-state`)))
	if txt := c.bodyText(); strings.Contains(txt, secret) || !strings.Contains(txt, "Activo") {
		t.Fatalf("the app page after setting the endpoint:\n%s", txt)
	}
	checkPortalPage(t, c, width, "webhook-active")

	c.do("send a ping", chromedp.Click(chromedp.CSS(`#webhook-ping button`)), chromedp.WaitVisible(chromedp.CSS(`#deliveries`)))
	ping := r.wait(store.WebhookPing, nil)
	e.waitDelivery(app.ClientID, ping.id, store.DeliveryDelivered, 1)
	c.do("reload the deliveries", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#delivery-`+ping.id)))
	if txt := c.bodyText(); !strings.Contains(txt, "Entregada") || !strings.Contains(txt, "HTTP 204") {
		t.Fatalf("the deliveries page:\n%s", txt)
	}
	// Dates are in the browser's zone, by localtime.js.
	if n := eval[int](c, `document.querySelectorAll('#deliveries time[data-localized]').length`); n != 1 {
		t.Fatalf("%d dates shown in local time", n)
	}
	checkPortalPage(t, c, width, "deliveries")
	c.do("resend the ping", chromedp.Click(chromedp.CSS(`#delivery-`+ping.id+` form.resend button`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	e.waitDelivery(app.ClientID, ping.id, store.DeliveryDelivered, 2)

	bbase := "/developers/apps/" + broken.ClientID
	for _, lang := range []string{"es", "en"} {
		for _, pg := range []struct{ name, path, wait string }{
			{"app", base, `#webhook-state`}, {"deliveries", base + "/deliveries", `#deliveries`},
			{"remove", base + "/webhook/remove", `.confirm`},
			{"disabled-app", bbase, `#webhook-disabled`}, {"disabled-deliveries", bbase + "/deliveries", `#deliveries`},
		} {
			c.do("open "+pg.path, chromedp.Navigate(e.url+pg.path+"?lang="+lang), chromedp.WaitVisible(chromedp.CSS(pg.wait)))
			if got := eval[string](c, `document.documentElement.lang`); got != lang {
				t.Fatalf("%s: page language %q", pg.path, got)
			}
			checkPortalPage(t, c, width, lang+"-"+pg.name)
		}
	}
	if r.refused != 0 || down.refused != 0 {
		t.Fatalf("deliveries that did not verify: %d, %d", r.refused, down.refused)
	}
}

// TestBrowserWebhookPortalDesktop: the webhook pages at 1280 px.
func TestBrowserWebhookPortalDesktop(t *testing.T) {
	t.Parallel()
	checkWebhookPortal(t, 1280, false)
}

// TestBrowserWebhookPortalPhone: the webhook pages on a 375 px phone.
func TestBrowserWebhookPortalPhone(t *testing.T) {
	t.Parallel()
	checkWebhookPortal(t, 375, true)
}

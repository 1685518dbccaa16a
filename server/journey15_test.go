package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/safefetch"
	"github.com/enlace-oauth/enlace/store"
)

// journeyTimeout bounds the Chromium of TestDeveloperJourney, which walks
// far more pages than one flow.
const journeyTimeout = 4 * time.Minute

// person opens a tab in c's Chromium with a browser context of its own
// (its own cookies and storage): another person's browser, without
// starting another Chromium.
func (c *chrome) person(acceptLanguage string) *chrome {
	c.t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	c.t.Cleanup(cancel)
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": acceptLanguage},
	}); err != nil {
		c.t.Fatalf("open a tab: %v", err)
	}
	return &chrome{t: c.t, ctx: ctx}
}

// text is the text of the first element matching a CSS selector, "" when
// there is none.
func (c *chrome) text(selector string) string {
	c.t.Helper()
	return eval[string](c, `(document.querySelector(`+jsString(selector)+`) || {}).textContent || ''`)
}

// has reports whether an element matches a CSS selector.
func (c *chrome) has(selector string) bool {
	c.t.Helper()
	return eval[bool](c, `!!document.querySelector(`+jsString(selector)+`)`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// noCallback fails the test if the app was called back.
func noCallback(t *testing.T, app *appServer, when string) {
	t.Helper()
	select {
	case q := <-app.callbacks:
		t.Fatalf("%s, the app was called back: %v", when, q)
	default:
	}
}

// TestDeveloperJourney walks issue 15's evidence in order, in Chromium
// against a real redis-server: an admin invites a developer, who signs up
// in the portal and creates an app with a logo; a test merchant connects
// it (the consent page says it is in development, its logo comes from
// enlace's origin) and golang.org/x/oauth2 exchanges the code; a stranger
// is refused, also while the app is in review; an admin approves it on the
// admin pages and the stranger connects, under the verified mark; a
// redirect URI added in the portal works under the same client id, and one
// removed is refused at /apps/authorize and its outstanding code at the
// token endpoint; a secret rotated in the portal overlaps, and once retired
// fails with invalid_client while the new one works; RFC 7591 and RFC 7592
// over plain net/http, written from the RFCs' examples, with an initial
// access token made in the portal; last, the admin's audit trail of the
// app names each step, and the developer, in Spanish.
func TestDeveloperJourney(t *testing.T) {
	t.Parallel()
	logos := newLogoServer(t)
	logoAddr := netip.MustParseAddrPort(logos.Listener.Addr().String())
	e := startEnvWith(t, nil, nil, func(o *server.Options) {
		o.Fetch = safefetch.Options{
			Allow:   func(a netip.AddrPort) bool { return a == logoAddr },
			RootCAs: logos.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
		}
	})
	ctx := context.Background()
	const devEmail, adminEmail, adminPassword = "dev@bodegas.example", "ops@enlace.test", "admin pass"
	shopper := e.merchant // ana: the developer's test merchant
	stranger, err := e.st.CreateMerchant(ctx, "luis@almacen.cl", "Almacén de Luis", password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateAdmin(ctx, adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	home, moved := newAppServer(t), newAppServer(t) // the app's first callback host, and the one it moves to
	logoFile := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logoFile, pngOf(t, 64, 64), 0o600); err != nil {
		t.Fatal(err)
	}

	const lang = "es-CL,es;q=0.9"
	admin := newChromeFor(t, lang, journeyTimeout)
	dev, shop, other := admin.person(lang), admin.person(lang), admin.person(lang)

	// authorize opens conf's authorization URL in c, logs in as email when
	// the login page comes, and stops at the page after it: the consent
	// page or a refusal.
	authorize := func(c *chrome, email string, conf *oauth2.Config, verifier string) {
		t.Helper()
		u := conf.AuthCodeURL("st-journey", oauth2.S256ChallengeOption(verifier))
		c.do("open the authorize URL", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(`#consent, #email, p.alert[role="alert"]`)))
		if c.has(`#email`) {
			c.login(email, password, `#consent, p.alert[role="alert"]`)
		}
	}
	// approve clicks Autorizar and returns the code the app got.
	approve := func(c *chrome, app *appServer) string {
		t.Helper()
		c.do("authorize", chromedp.Click(chromedp.CSS(`button[name="decision"][value="approve"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#app-callback`)))
		q := app.callback(t, c.ctx)
		if q.Get("state") != "st-journey" || q.Get("iss") != e.cfg.Issuer || q.Get("code") == "" {
			t.Fatalf("the callback: %v", q)
		}
		return q.Get("code")
	}
	// connect runs the whole flow for email in c and returns the code.
	connect := func(c *chrome, email string, conf *oauth2.Config, app *appServer) (code, verifier string) {
		t.Helper()
		verifier = oauth2.GenerateVerifier()
		authorize(c, email, conf, verifier)
		if !c.has(`#consent`) {
			c.screenshot("no-consent")
			t.Fatalf("no consent page for %s:\n%s", email, c.bodyText())
		}
		return approve(c, app), verifier
	}
	// exchange swaps a code with golang.org/x/oauth2 and checks the token
	// at /api/d/info.
	exchange := func(conf *oauth2.Config, code, verifier string, merchant *store.Merchant) {
		t.Helper()
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange with %s…: %v", conf.ClientSecret[:6], err)
		}
		info := e.info(tok.AccessToken)
		if info.status != http.StatusOK || info.json["OauthClientId"] != conf.ClientID || info.json["MerchantId"] != merchant.ID {
			t.Fatalf("the token of %s: %d %s", merchant.Email, info.status, info.raw)
		}
	}
	// refusedExchange checks that x/oauth2's exchange fails with code.
	refusedExchange := func(conf *oauth2.Config, code, verifier string, status int, errCode string) {
		t.Helper()
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != errCode || re.Response.StatusCode != status {
			t.Fatalf("want %d %s, got %v", status, errCode, err) // a success's tokens are not printed
		}
	}

	// An admin invites the developer, on the admin pages.
	admin.do("open the admin login", chromedp.Navigate(e.url+"/admin/login"), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	admin.login(adminEmail, adminPassword, `nav.admin-nav`)
	admin.do("invite the developer", chromedp.Navigate(e.url+"/admin/developers"),
		chromedp.WaitVisible(chromedp.CSS(`#invite-email`)),
		chromedp.SendKeys(chromedp.CSS(`#invite-email`), devEmail),
		chromedp.Click(chromedp.CSS(`form.invite button`)),
		chromedp.WaitVisible(chromedp.CSS(`code.invite-link`)))
	invite, err := url.Parse(admin.text(`code.invite-link`))
	if err != nil || invite.Scheme+"://"+invite.Host != e.url || invite.Path != "/developers/signup" || invite.Query().Get("invite") == "" {
		t.Fatalf("the invitation link %v: %v", invite, err)
	}

	// The developer signs up with it, in the portal.
	dev.do("open the invitation", chromedp.Navigate(invite.String()), chromedp.WaitVisible(chromedp.CSS(`#signup`)))
	if txt := dev.bodyText(); !strings.Contains(txt, "Te invitaron como "+devEmail) {
		t.Fatalf("the sign-up page:\n%s", txt)
	}
	dev.do("sign up",
		chromedp.SendKeys(chromedp.CSS(`#name`), "Dev Bodegas"),
		chromedp.SendKeys(chromedp.CSS(`#password`), devPassword),
		chromedp.Click(chromedp.CSS(`#signup button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-app`)))
	d, err := e.st.FindDeveloper(ctx, devEmail)
	if err != nil || d.Name != "Dev Bodegas" {
		t.Fatalf("the developer who signed up: %+v %v", d, err)
	}

	// …creates an app…
	dev.do("create the app",
		chromedp.Click(chromedp.CSS(`#new-app`)), chromedp.WaitVisible(chromedp.CSS(`#app-form`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Sincronizador de Bodegas"),
		chromedp.SendKeys(chromedp.CSS(`#description`), "Sincroniza el inventario de tus bodegas con tu tienda."),
		chromedp.SendKeys(chromedp.CSS(`#publisher`), "Bodegas SpA"),
		chromedp.SendKeys(chromedp.CSS(`#homepage`), "https://bodegas.example"),
		chromedp.SendKeys(chromedp.CSS(`#redirect_uris`), home.url+"/callback"),
		chromedp.Click(chromedp.CSS(`input[name="scopes"][value="read:products"]`)),
		chromedp.Click(chromedp.CSS(`input[name="scopes"][value="read:checkouts"]`)),
		chromedp.Click(chromedp.CSS(`#app-form button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#shown-once`)))
	secret := dev.text(`#shown-once`)
	clientID := dev.text(`dl.facts code.value`)
	app, err := e.st.GetApp(ctx, clientID)
	if err != nil || app.Owner != d.ID || app.Status != store.StatusDevelopment || !app.SecretMatches(secret, time.Now()) ||
		!slices.Equal(app.RedirectURIs, []string{home.url + "/callback"}) || !slices.Equal(app.Scopes, []string{"read:products", "read:checkouts"}) {
		t.Fatalf("the app made in the portal: %+v %v", app, err)
	}

	// …with a logo…
	dev.do("upload the logo", chromedp.Click(chromedp.CSS(`#continue`)), chromedp.WaitVisible(chromedp.CSS(`#logo-form`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#logo`), []string{logoFile}),
		chromedp.Click(chromedp.CSS(`#logo-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`img.app-logo`)))
	if app = e.getApp(clientID); app.Profile.Logo == "" {
		t.Fatal("no logo recorded")
	}

	// …and makes ana a test merchant.
	dev.do("add a test merchant",
		chromedp.SendKeys(chromedp.CSS(`#test-email`), shopper.Email),
		chromedp.Click(chromedp.CSS(`#add-test-merchant button`)),
		chromedp.WaitVisible(chromedp.CSS(`ul#test-merchants`)))
	if app = e.getApp(clientID); !slices.Equal(app.TestMerchants, []string{shopper.ID}) {
		t.Fatalf("test merchants: %v", app.TestMerchants)
	}

	// The test merchant connects it: the consent page says the app is in
	// development, for test merchants only, and shows the logo, loaded from
	// enlace's own origin; x/oauth2 exchanges the code.
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: home.url + "/callback",
		Scopes: []string{"read:products", "read:checkouts"},
		Endpoint: oauth2.Endpoint{AuthURL: e.url + "/apps/authorize", TokenURL: e.url + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader}}
	verifier := oauth2.GenerateVerifier()
	authorize(shop, shopper.Email, conf, verifier)
	if !shop.has(`#consent`) {
		t.Fatalf("the test merchant got no consent page:\n%s", shop.bodyText())
	}
	txt := shop.bodyText()
	for _, want := range []string{"Conectar Sincronizador de Bodegas", "En desarrollo",
		"solo la pueden conectar sus comercios de prueba", "De Bodegas SpA"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the consent page lacks %q:\n%s", want, txt)
		}
	}
	if shop.has(`.mark-verified`) {
		t.Error("an app in development carries the verified mark")
	}
	if _, err := chromedp.Run(shop.ctx, chromedp.Poll[bool](`document.querySelector('img.app-logo').complete && document.querySelector('img.app-logo').naturalWidth > 0`)); err != nil {
		t.Fatalf("the logo did not load: %v", err)
	}
	logo := eval[map[string]any](shop, `(() => { const i = document.querySelector('img.app-logo');
		return {src: i.getAttribute('src'), origin: new URL(i.currentSrc).origin, page: location.origin, width: i.naturalWidth}; })()`)
	if !strings.HasPrefix(logo["src"].(string), "/apps/"+clientID+"/logo/"+app.Profile.Logo) || logo["origin"] != logo["page"] ||
		logo["width"] != float64(64) {
		t.Fatalf("the logo on the consent page: %v", logo)
	}
	if foreign := eval[[]string](shop, foreignLoads); len(foreign) > 0 {
		t.Fatalf("the consent page loaded from other origins: %v", foreign)
	}
	shop.screenshot("consent-development")
	exchange(conf, approve(shop, home), verifier, shopper)

	// A stranger cannot: the refusal page, no callback, no connection.
	strangerRefused := func(when string) {
		t.Helper()
		authorize(other, stranger.Email, conf, oauth2.GenerateVerifier())
		if other.has(`#consent`) {
			t.Fatalf("%s, a stranger got the consent page", when)
		}
		if alert := other.text(`p.alert[role="alert"]`); !strings.Contains(alert, "Esta aplicación aún no fue publicada") ||
			!strings.HasPrefix(other.location(), e.url+"/") {
			t.Fatalf("%s, the stranger's page (%s): %q", when, other.location(), alert)
		}
		noCallback(t, home, when)
		if cs, err := e.st.ListConnections(ctx, store.ConnectionFilter{MerchantID: stranger.ID}, store.Page{}); err != nil || len(cs.Connections) != 0 {
			t.Fatalf("%s, the stranger's connections: %v %v", when, cs, err)
		}
	}
	strangerRefused("in development")
	other.screenshot("stranger-refused")

	// The developer submits it for review; a stranger still cannot.
	dev.do("submit for review", chromedp.Click(chromedp.CSS(`#submit-review`)),
		chromedp.WaitVisible(chromedp.CSS(`#app-status.status-review`)))
	if app = e.getApp(clientID); app.Status != store.StatusReview {
		t.Fatalf("after submitting: %s", app.Status)
	}
	strangerRefused("in review")

	// An admin approves it on the admin pages, through the confirmation.
	approveLink := `a[href="/admin/apps/` + clientID + `/approve"]`
	admin.do("open the apps", chromedp.Navigate(e.url+"/admin"), chromedp.WaitVisible(chromedp.CSS(approveLink)))
	if row := admin.text(`tr[id="app-` + clientID + `"]`); !strings.Contains(row, "En revisión") || !strings.Contains(row, devEmail) {
		t.Fatalf("the app's row on the admin page: %q", row)
	}
	confirm := `form[action="/admin/apps/` + clientID + `/approve"] button.primary`
	admin.do("open the approval", chromedp.Click(chromedp.CSS(approveLink)), chromedp.WaitVisible(chromedp.CSS(confirm)))
	if txt := admin.bodyText(); !strings.Contains(txt, "¿Aprobar Sincronizador de Bodegas?") || !strings.Contains(txt, devEmail) {
		t.Fatalf("the approval page:\n%s", txt)
	}
	admin.do("approve", chromedp.Click(chromedp.CSS(confirm)), chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if notice := admin.text(`p.notice`); notice != "La aplicación quedó publicada." {
		t.Fatalf("after approving: %q", notice)
	}
	if app = e.getApp(clientID); app.Status != store.StatusPublished || !app.Verified() {
		t.Fatalf("after the approval: %s", app.Status)
	}

	// Now the stranger can, under the verified mark.
	code, v := func() (string, string) {
		verifier := oauth2.GenerateVerifier()
		authorize(other, stranger.Email, conf, verifier)
		if !other.has(`#consent .scope`) || !other.has(`.mark-verified`) {
			t.Fatalf("the stranger's page after the approval:\n%s", other.bodyText())
		}
		if txt := other.bodyText(); !strings.Contains(txt, "Verificada") || strings.Contains(txt, "En desarrollo") {
			t.Fatalf("the consent page of a published app:\n%s", txt)
		}
		other.screenshot("consent-verified")
		return approve(other, home), verifier
	}()
	exchange(conf, code, v, stranger)

	// The developer adds a redirect URI in the portal: the same client id.
	editRedirects := func(uris ...string) {
		t.Helper()
		dev.do("edit the redirect URIs", chromedp.Navigate(e.url+"/developers/apps/"+clientID),
			chromedp.WaitVisible(chromedp.CSS(`#edit`)), chromedp.Click(chromedp.CSS(`#edit`)),
			chromedp.WaitVisible(chromedp.CSS(`#redirect_uris`)),
			chromedp.SetValue(chromedp.CSS(`#redirect_uris`), strings.Join(uris, "\n")),
			chromedp.Click(chromedp.CSS(`#app-form button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`#client-id`)))
		if got := dev.text(`#client-id`); got != clientID {
			t.Fatalf("after the edit the app page shows client id %q, not %q", got, clientID)
		}
		if a := e.getApp(clientID); !slices.Equal(a.RedirectURIs, uris) || a.ClientID != clientID || !a.SecretMatches(secret, time.Now()) {
			t.Fatalf("after the edit: %v", a.RedirectURIs)
		}
	}
	editRedirects(home.url+"/callback", moved.url+"/callback")
	// A code for the first URI, left for after its removal.
	pending, pendingVerifier := connect(shop, shopper.Email, conf, home)
	// A flow with the new URI works.
	movedConf := *conf
	movedConf.RedirectURL = moved.url + "/callback"
	code, v = connect(shop, shopper.Email, &movedConf, moved)
	exchange(&movedConf, code, v, shopper)

	// The first URI is removed: refused at /apps/authorize (an error page,
	// no redirect), and its outstanding code at the token endpoint.
	editRedirects(moved.url + "/callback")
	removed := conf.AuthCodeURL("st-journey", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
	if p := e.browser().get(removed); p.status != http.StatusBadRequest || p.location != "" {
		t.Fatalf("a removed redirect URI at the authorization endpoint: %d %q", p.status, p.location)
	}
	shop.do("open the removed redirect URI", chromedp.Navigate(removed), chromedp.WaitVisible(chromedp.CSS(`p.alert[role="alert"]`)))
	if loc := shop.location(); !strings.HasPrefix(loc, e.url+"/") || shop.has(`#consent`) {
		t.Fatalf("a removed redirect URI led the browser to %s", loc)
	}
	noCallback(t, home, "for a removed redirect URI")
	refusedExchange(conf, pending, pendingVerifier, http.StatusBadRequest, "invalid_grant")

	// The developer rotates the secret in the portal: shown once; the old
	// and the new one both authenticate at the token endpoint.
	dev.do("rotate the secret", chromedp.Navigate(e.url+"/developers/apps/"+clientID),
		chromedp.WaitVisible(chromedp.CSS(`#rotate`)),
		chromedp.Click(chromedp.CSS(`#rotate button`)),
		chromedp.WaitVisible(chromedp.CSS(`#shown-once`)))
	fresh := dev.text(`#shown-once`)
	if fresh == "" || fresh == secret || !strings.Contains(dev.bodyText(), "no lo volveremos a mostrar") {
		t.Fatalf("the rotation's page:\n%s", dev.bodyText())
	}
	dev.do("back to the app", chromedp.Click(chromedp.CSS(`#continue`)), chromedp.WaitVisible(chromedp.CSS(`#previous-secret`)))
	if strings.Contains(dev.bodyText(), fresh) {
		t.Fatal("the app page shows the new secret again")
	}
	freshConf := movedConf
	freshConf.ClientSecret = fresh
	for _, c := range []*oauth2.Config{&movedConf, &freshConf} {
		code, v := connect(shop, shopper.Email, c, moved)
		exchange(c, code, v, shopper)
	}

	// The old one is retired in the portal: it fails with invalid_client,
	// the new one works (with the very code the old one could not use).
	dev.do("retire the old secret", chromedp.Click(chromedp.CSS(`form[action$="/retire-secret"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if notice := dev.text(`p.notice`); notice != "El secreto anterior dejó de funcionar." || dev.has(`#previous-secret`) {
		t.Fatalf("after retiring (%q), the app page still says the previous secret works", notice)
	}
	code, v = connect(shop, shopper.Email, &movedConf, moved)
	refusedExchange(&movedConf, code, v, http.StatusUnauthorized, "invalid_client")
	exchange(&freshConf, code, v, shopper)

	// RFC 7591: an initial access token from the portal, shown once…
	dev.do("make an initial access token", chromedp.Navigate(e.url+"/developers"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/developers/tokens"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/developers/tokens"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#shown-once`)))
	iat := dev.text(`#shown-once`)
	journeyRFC7591(t, e, logos, d, iat, dev)

	// The admin's audit trail of the app tells the journey in Spanish,
	// naming the developer, whose page it links to.
	admin.do("open the app's audit trail", chromedp.Navigate(e.url+"/admin/audit?app="+clientID),
		chromedp.WaitVisible(chromedp.CSS(`tr.event-app`)))
	// Each event as "who | detail", newest first.
	events := eval[[]string](admin, `Array.from(document.querySelectorAll('tr.event-app')).map(r =>
		r.cells[2].querySelector('.name').innerText.trim() + ' | ' + r.cells[6].innerText.trim())`)
	who, rotated := "Desarrollador · "+devEmail+" | ", "Secreto rotado; el anterior funciona hasta el "
	want := []string{who + "Secreto anterior desactivado", who + rotated, who + "Actualizada: URI de redirección",
		who + "Actualizada: URI de redirección", "Administrador · " + adminEmail + " | Revisión: aprobada y publicada",
		who + "Enviada a revisión", who + "Actualizada: comercios de prueba", who + "Actualizada: logo",
		who + "Aplicación registrada"}
	if len(events) != len(want) {
		t.Fatalf("the app's audit trail:\n%s", strings.Join(events, "\n"))
	}
	for i, ev := range events {
		if ev != want[i] && !(want[i] == who+rotated && strings.HasPrefix(ev, want[i]) && strings.HasSuffix(ev, " UTC")) {
			t.Errorf("event %d is %q, want %q", i, ev, want[i])
		}
	}
	admin.screenshot("audit")
	devLink := `tr.event-app a[href="/admin/developers?id=` + d.ID + `"]`
	admin.do("open the developer", chromedp.Click(chromedp.CSS(devLink)), chromedp.WaitVisible(chromedp.CSS(`tr[id="developer-`+d.ID+`"]`)))
	if row := admin.text(`tr[id="developer-` + d.ID + `"]`); !strings.Contains(row, "Dev Bodegas") || !strings.Contains(row, devEmail) {
		t.Errorf("the developer's row: %q", row)
	}
}

// journeyRFC7591 is the journey's last part: RFC 7591 registration and
// RFC 7592 management over plain net/http, the requests as the RFCs'
// examples write them, the answers checked against the RFCs' field lists.
// dev is the developer's browser, on the portal.
func journeyRFC7591(t *testing.T, e *testEnv, logos *logoServer, d *store.Developer, iat string, dev *chrome) {
	ctx := context.Background()
	call := func(method, uri, token string, body any) response {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, uri, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		return e.send(req)
	}
	// RFC 7591 §3.1's example (its own members, which enlace ignores, as
	// §2 says, included), with what enlace requires (scope) and the logo
	// on the test's logo server.
	request := map[string]any{
		"redirect_uris":               []string{"https://client.example.org/callback", "https://client.example.org/callback2"},
		"client_name":                 "My Example Client",
		"client_name#ja-Jpan-JP":      "クライアント名",
		"token_endpoint_auth_method":  "client_secret_basic",
		"logo_uri":                    logos.URL + "/logo.png",
		"jwks_uri":                    "https://client.example.org/my_public_keys.jwks",
		"example_extension_parameter": "example_value",
		"scope":                       "read:products read:checkouts",
		"client_uri":                  "https://client.example.org/",
		"policy_uri":                  "https://client.example.org/privacy",
		"tos_uri":                     "https://client.example.org/terms",
		"contacts":                    []string{"ve7jtb@example.org"},
		"grant_types":                 []string{"authorization_code", "refresh_token"},
		"response_types":              []string{"code"},
	}
	registered := []string{"redirect_uris", "client_name", "token_endpoint_auth_method", "logo_uri", "scope",
		"client_uri", "policy_uri", "tos_uri", "contacts", "grant_types", "response_types"}
	ignored := []string{"client_name#ja-Jpan-JP", "jwks_uri", "example_extension_parameter"}
	// echoes checks that an answer carries the metadata as sent.
	echoes := func(what string, r response, sent map[string]any, fields []string) {
		t.Helper()
		for _, f := range fields {
			want, _ := json.Marshal(sent[f])
			got, _ := json.Marshal(r.json[f])
			if string(got) != string(want) {
				t.Errorf("%s: %s is %s, sent %s", what, f, got, want)
			}
		}
	}
	noStore := func(what string, r response) {
		t.Helper()
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") ||
			r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
			t.Errorf("%s: Content-Type %q, Cache-Control %q, Pragma %q (RFC 7591 §3.2.1)", what, ct,
				r.header.Get("Cache-Control"), r.header.Get("Pragma"))
		}
	}

	before := e.clock.Now().Unix()
	res := call(http.MethodPost, e.url+"/oauth/register", iat, request)
	after := e.clock.Now().Unix()
	if res.status != http.StatusCreated {
		t.Fatalf("register: %d %s", res.status, res.raw)
	}
	noStore("register", res)
	// RFC 7591 §3.2.1: client_id (REQUIRED); client_secret, issued here;
	// client_id_issued_at, seconds since the epoch; client_secret_expires_at
	// (REQUIRED with a secret; 0: it does not expire). RFC 7592 §3:
	// registration_access_token and registration_client_uri (REQUIRED).
	str := func(f string) string {
		t.Helper()
		s, ok := res.json[f].(string)
		if !ok || s == "" {
			t.Fatalf("the registration answer lacks %s: %s", f, res.raw)
		}
		return s
	}
	clientID, secret, rat, regURI := str("client_id"), str("client_secret"), str("registration_access_token"), str("registration_client_uri")
	if at, ok := res.json["client_id_issued_at"].(float64); !ok || int64(at) < before || int64(at) > after {
		t.Errorf("client_id_issued_at %v, not between %d and %d", res.json["client_id_issued_at"], before, after)
	}
	if exp, ok := res.json["client_secret_expires_at"].(float64); !ok || exp != 0 {
		t.Errorf("client_secret_expires_at %v (RFC 7591 §3.2.1: required with a secret)", res.json["client_secret_expires_at"])
	}
	if u, err := url.Parse(regURI); err != nil || !u.IsAbs() || !strings.HasPrefix(regURI, e.cfg.Issuer+"/") {
		t.Errorf("registration_client_uri %q is not an absolute URL of enlace's", regURI)
	}
	// "plus the metadata echoed": everything registered, as sent; nothing
	// that was ignored.
	echoes("register", res, request, registered)
	for _, f := range ignored {
		if _, ok := res.json[f]; ok {
			t.Errorf("the answer claims %s was registered: %s", f, res.raw)
		}
	}
	// The registered app is the developer's, in development, and the
	// portal lists it.
	a, err := e.st.GetApp(ctx, clientID)
	if err != nil || a.Owner != d.ID || a.Status != store.StatusDevelopment || !a.SecretMatches(secret, time.Now()) || a.Profile.Logo == "" {
		t.Fatalf("the registered app: %+v %v", a, err)
	}
	appRow := `tr[id="app-` + clientID + `"]`
	dev.do("see it in the portal", chromedp.Navigate(e.url+"/developers"), chromedp.WaitVisible(chromedp.CSS(appRow)))
	if row := dev.text(appRow); !strings.Contains(row, "My Example Client") || !strings.Contains(row, "En desarrollo") {
		t.Errorf("the registered app's row in the portal: %q", row)
	}

	// RFC 7592 §2.1: read, with the registration access token.
	read := call(http.MethodGet, regURI, rat, nil)
	if read.status != http.StatusOK || read.json["client_id"] != clientID || read.json["registration_client_uri"] != regURI ||
		read.json["registration_access_token"] != rat || read.json["client_secret_expires_at"] != float64(0) ||
		read.json["client_id_issued_at"] != res.json["client_id_issued_at"] {
		t.Fatalf("read: %d %s", read.status, read.raw)
	}
	noStore("read", read)
	echoes("read", read, request, registered)

	// RFC 7592 §2.2: update with the full metadata — the read answer, less
	// the four fields the client MUST NOT send, with the current secret
	// (allowed), a new name and one redirect URI fewer.
	update := map[string]any{}
	for k, v := range read.json {
		update[k] = v
	}
	for _, f := range []string{"registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"} {
		delete(update, f)
	}
	update["client_secret"] = secret
	update["client_name"] = "My Renamed Client"
	update["redirect_uris"] = []string{"https://client.example.org/callback2"}
	put := call(http.MethodPut, regURI, rat, update)
	if put.status != http.StatusOK || put.json["client_id"] != clientID || put.json["registration_client_uri"] != regURI {
		t.Fatalf("update: %d %s", put.status, put.raw)
	}
	noStore("update", put)
	echoes("update", put, update, registered)
	if reread := call(http.MethodGet, regURI, rat, nil); reread.status != http.StatusOK {
		t.Fatalf("read after the update: %d %s", reread.status, reread.raw)
	} else {
		echoes("read after the update", reread, update, registered)
	}
	if a := e.getApp(clientID); a.Name != "My Renamed Client" || !slices.Equal(a.RedirectURIs, []string{"https://client.example.org/callback2"}) {
		t.Fatalf("the app after the update: %q %v", a.Name, a.RedirectURIs)
	}

	// A second app's registration access token opens nothing of the first.
	second := call(http.MethodPost, e.url+"/oauth/register", iat, map[string]any{
		"redirect_uris": []string{"https://other.example.org/cb"}, "client_name": "Other Client", "scope": "read:products"})
	if second.status != http.StatusCreated {
		t.Fatalf("the second registration: %d %s", second.status, second.raw)
	}
	secondRat, _ := second.json["registration_access_token"].(string)
	if r := call(http.MethodGet, second.json["registration_client_uri"].(string), secondRat, nil); r.status != http.StatusOK {
		t.Fatalf("the second app's own registration: %d %s", r.status, r.raw)
	}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		var body any
		if m == http.MethodPut {
			body = update
		}
		r := call(m, regURI, secondRat, body)
		assertOAuthError(t, r, http.StatusUnauthorized, "invalid_token")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s with another app's token: challenge %q", m, r.header.Get("WWW-Authenticate"))
		}
	}
	if a := e.getApp(clientID); a.Name != "My Renamed Client" {
		t.Fatalf("another app's token changed the first: %q", a.Name)
	}

	// RFC 7592 §2.3: delete — 204 without a body, then the registration
	// is gone (401 on read) and the portal no longer lists the app.
	if del := call(http.MethodDelete, regURI, rat, nil); del.status != http.StatusNoContent || del.raw != "" {
		t.Fatalf("delete: %d %q", del.status, del.raw)
	}
	assertOAuthError(t, call(http.MethodGet, regURI, rat, nil), http.StatusUnauthorized, "invalid_token")
	if _, err := e.st.GetApp(ctx, clientID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the deleted app: %v", err)
	}
	dev.do("the portal after the deletion", chromedp.Navigate(e.url+"/developers"), chromedp.WaitVisible(chromedp.CSS(`#new-app`)))
	if dev.has(appRow) {
		t.Error("the portal still lists the deleted app")
	}
}

package server_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestDevelopmentAppsAndIdentity (issue 15): an app in development is
// connected only by its test merchants — a stranger gets a page saying so,
// and a forged approval creates nothing — and the consent page and the
// connections page show the app's identity: logo, publisher, the
// development or verified mark, its links. Once published, anyone may
// connect it, and it carries the verified mark.
func TestDevelopmentAppsAndIdentity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	dev, err := e.st.CreateDeveloper(ctx, "dev@studio.example", "Dev Studio", "a developer pw")
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Sync", RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:products"}, Owner: dev.ID, Profile: store.Profile{Publisher: "Studio SpA",
			Homepage: "https://studio.example", PrivacyPolicy: "https://studio.example/privacy"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	img.Set(1, 1, color.Black)
	var logo bytes.Buffer
	if err := png.Encode(&logo, img); err != nil {
		t.Fatal(err)
	}
	if app, err = e.st.SetAppLogo(ctx, app.ClientID, logo.Bytes(), store.ActorDeveloper(dev.ID)); err != nil {
		t.Fatal(err)
	}
	authorize := "/apps/authorize?" + authorizeQuery(app.ClientID, appRedirect).Encode()

	// A stranger: told the app is in development, with a way back that
	// says access_denied; a forged approval connects nothing.
	b := e.browser()
	p := b.get(authorize)
	login := b.get(p.location)
	next, _ := url.Parse(p.location)
	p = b.post("/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {e.merchant.Email}, "password": {password},
		"next": {next.Query().Get("next")}})
	p = b.get(p.location)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "aún no fue publicada") || strings.Contains(p.body, `name="granted"`) ||
		!strings.Contains(p.body, "error=access_denied") {
		t.Fatalf("a stranger on a development app: %d\n%s", p.status, p.body)
	}
	before := redistest.Snapshot(t, e.rdb)
	home := b.get("/connections")
	forged := b.post(authorize, url.Values{"csrf_token": {csrfOf(t, home)}, "granted": {"read:products"}, "decision": {"approve"}})
	if forged.status != http.StatusForbidden || forged.location != "" {
		t.Fatalf("a forged approval by a stranger: %d %s", forged.status, forged.location)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	// A test merchant sees the identity, with the development mark.
	if _, err := e.st.UpdateApp(ctx, app.ClientID, store.AppUpdate{AddTestMerchants: []string{e.merchant.ID}},
		e.cfg.Scopes.Names(), store.ActorDeveloper(dev.ID)); err != nil {
		t.Fatal(err)
	}
	p = b.get(authorize)
	for _, want := range []string{`class="app-logo" src="/apps/` + app.ClientID + `/logo/` + app.Profile.Logo + `"`,
		"De Studio SpA", "En desarrollo", `href="https://studio.example"`, `href="https://studio.example/privacy"`,
		`name="granted"`} {
		if p.status != http.StatusOK || !strings.Contains(p.body, want) {
			t.Fatalf("a test merchant's consent page lacks %s: %d\n%s", want, p.status, p.body)
		}
	}
	if strings.Contains(p.body, "Verificada") {
		t.Fatal("a development app carries the verified mark")
	}
	back := b.approve(authorize, p, "read:products")
	if back.Query().Get("code") == "" {
		t.Fatalf("a test merchant's approval: %s", back)
	}
	conns := b.get("/connections")
	if !strings.Contains(conns.body, "De Studio SpA") || !strings.Contains(conns.body, "/apps/"+app.ClientID+"/logo/") {
		t.Fatalf("/connections without the app's identity:\n%s", conns.body)
	}

	// Published: anyone, with the verified mark.
	if err := e.st.SubmitApp(ctx, app.ClientID, store.ActorDeveloper(dev.ID)); err != nil {
		t.Fatal(err)
	}
	if err := e.st.ReviewApp(ctx, app.ClientID, true, "", store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateApp(ctx, app.ClientID, store.AppUpdate{RemoveTestMerchants: []string{e.merchant.ID}},
		e.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	p = b.get(authorize)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Verificada") || strings.Contains(p.body, "En desarrollo") {
		t.Fatalf("a published app's consent page: %d\n%s", p.status, p.body)
	}
	if back := b.approve(authorize, p, "read:products"); back.Query().Get("code") == "" {
		t.Fatalf("approving a published app: %s", back)
	}
}

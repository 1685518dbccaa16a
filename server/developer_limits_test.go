package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// TestDeveloperLimits: open developer sign-ups count against the
// merchants' per-address registration limit, and a developer's new apps
// against developers.apps_per_day, in the portal and at /oauth/register
// together; what is over a limit is refused with Retry-After and writes
// no account and no app.
func TestDeveloperLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, func(c *config.Config) {
		c.Developers.Signup = config.SignupOpen
		c.Registration.PerAddress = 2
		c.Developers.AppsPerDay = 2
	})
	signup := func(email string) page {
		b := e.browser()
		csrf := csrfOf(t, b.get("/developers/signup"))
		return b.post("/developers/signup", url.Values{"csrf_token": {csrf}, "email": {email}, "name": {"Dev"}, "password": {devPassword}})
	}
	for _, email := range []string{"uno@example.com", "dos@example.com"} {
		if p := signup(email); p.status != http.StatusSeeOther {
			t.Fatalf("sign-up %s: %d\n%s", email, p.status, p.body)
		}
	}
	p := signup("tres@example.com")
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Demasiadas cuentas nuevas") || retryAfter(t, p.header) <= 0 {
		t.Fatalf("the third sign-up from one address: %d %v\n%s", p.status, p.header, p.body)
	}
	if _, err := e.st.FindDeveloper(ctx, "tres@example.com"); err == nil {
		t.Fatal("a refused sign-up opened an account")
	}
	// An invitation is a limit of its own: it still opens an account.
	invite, err := e.st.InviteDeveloper(ctx, "cuatro@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	csrf := csrfOf(t, b.get("/developers/signup?invite="+url.QueryEscape(invite)))
	if p := b.post("/developers/signup", url.Values{"csrf_token": {csrf}, "invite": {invite}, "name": {"Cuatro"}, "password": {devPassword}}); p.status != http.StatusSeeOther {
		t.Fatalf("an invited sign-up over the address limit: %d\n%s", p.status, p.body)
	}

	// Apps: one in the portal, one at /oauth/register, then neither.
	dev, d := e.developer("apps@example.com")
	e.createDevApp(dev, appForm(dev.devCSRF()))
	iat, _, err := e.st.CreateInitialAccessToken(ctx, d.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	register := func() response {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/oauth/register", strings.NewReader(
			`{"client_name":"Por API","redirect_uris":["https://api.example/cb"],"scope":"read:products"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+iat)
		return e.send(req)
	}
	if r := register(); r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	r := register()
	if r.status != http.StatusTooManyRequests || r.json["error"] != "temporarily_unavailable" || retryAfter(t, r.header) <= 0 {
		t.Fatalf("the third app at /oauth/register: %d %v %s", r.status, r.header, r.raw)
	}
	p = dev.post("/developers/apps", appForm(dev.devCSRF()))
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Ya creaste 2 aplicaciones") {
		t.Fatalf("the third app in the portal: %d\n%s", p.status, p.body)
	}
	apps, err := e.st.DeveloperApps(ctx, d.ID, store.Page{})
	if err != nil || len(apps.Apps) != 2 {
		t.Fatalf("the developer's apps: %v %+v", err, apps)
	}
	// Another developer has a day of their own.
	other, _ := e.developer("otra@example.com")
	e.createDevApp(other, appForm(other.devCSRF()))
}

func retryAfter(t *testing.T, h http.Header) int {
	t.Helper()
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q: %v", h.Get("Retry-After"), err)
	}
	return n
}

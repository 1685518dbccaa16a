package server_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// The webhook's pages (issue 16) over plain HTTP, on a real redis-server,
// with a real receiver that verifies every delivery with the Standard
// Webhooks library: the portal's webhook section and deliveries page, the
// admin's, and every refusal, each writing nothing.

// deliveryRowRe finds the rows of a deliveries table: id, and the row.
var deliveryRowRe = regexp.MustCompile(`(?s)<tr id="delivery-([^"]+)" class="delivery">(.*?)</tr>`)

// deliveryRows returns the rows of a deliveries page, by delivery id, in
// their order.
func deliveryRows(p page) (ids []string, rows map[string]string) {
	rows = map[string]string{}
	for _, m := range deliveryRowRe.FindAllStringSubmatch(p.body, -1) {
		ids = append(ids, m[1])
		rows[m[1]] = html.UnescapeString(m[2])
	}
	return ids, rows
}

// cells returns the text of a row's cells, tags left out.
func cells(row string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(row, -1) {
		out = append(out, strings.Join(strings.Fields(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], " ")), " "))
	}
	return out
}

// portalApp is a developer logged in to the portal with one app of theirs.
func (e *testEnv) portalApp(email string) (*browser, *store.App, string) {
	e.t.Helper()
	b, _ := e.developer(email)
	csrf := b.devCSRF()
	a, _ := e.createDevApp(b, appForm(csrf))
	return b, a, csrf
}

// waitDelivery waits until the app's delivery id is in status with at
// least attempts attempts, and returns it.
func (e *testEnv) waitDelivery(clientID, id string, status store.DeliveryStatus, attempts int) *store.Delivery {
	e.t.Helper()
	var d *store.Delivery
	eventually(e.t, "delivery "+id+" "+string(status), func() bool {
		var err error
		d, err = e.st.GetDelivery(context.Background(), clientID, id)
		return err == nil && d.Status == status && d.Attempts >= attempts
	})
	return d
}

// TestWebhookPortal: a developer sets their app's endpoint in the portal
// and sees its signing secret once; the receiver gets a ping that the
// Standard Webhooks library verifies under it, listed on the deliveries
// page (event, status, attempts, answer, latency, created); a resend is a
// second attempt with the same webhook-id; a rotation's new secret is
// shown once and both secrets sign meanwhile; saving the same URL writes
// nothing; a new URL keeps the secret; removing asks first. The
// deliveries page pages by 50.
func TestWebhookPortal(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	ctx := context.Background()
	r := newReceiver(t)
	b, a, csrf := e.portalApp("dev@hooks.example")
	base := "/developers/apps/" + a.ClientID

	page := b.get(base)
	for _, want := range []string{`id="webhook"`, `action="` + base + `/webhook"`, `name="url"`, `href="` + base + `/deliveries"`} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("the app page lacks %s:\n%s", want, page.body)
		}
	}
	if strings.Contains(page.body, `id="webhook-ping"`) || strings.Contains(page.body, `id="webhook-rotate"`) {
		t.Fatal("the app page offers a ping or a rotation without an endpoint")
	}
	if p := b.get(base + "/deliveries"); p.status != http.StatusOK || !strings.Contains(p.body, "Todavía no hay entregas") {
		t.Fatalf("the empty deliveries page: %d\n%s", p.status, p.body)
	}

	// The first endpoint: its secret, once.
	p := b.post(base+"/webhook", url.Values{"csrf_token": {csrf}, "url": {"  " + r.url() + " "}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Secreto de firma del webhook") || !strings.Contains(p.body, `href="`+base+`#webhook" id="continue"`) {
		t.Fatalf("set the webhook: %d\n%s", p.status, p.body)
	}
	secret := shownOnce(t, p)
	if !strings.HasPrefix(secret, store.WebhookSecretPrefix) {
		t.Fatalf("the signing secret %q… is not whsec_", secret[:6])
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Fatal("the secret's page may be cached")
	}
	r.setSecrets(secret)
	got := e.getApp(a.ClientID)
	if got.Webhook.URL != r.url() || !got.Webhook.Active() {
		t.Fatalf("the webhook after setting it: %+v", got.Webhook)
	}
	page = b.get(base)
	if strings.Contains(page.body, secret) || !strings.Contains(page.body, `id="webhook-state">Activo<`) ||
		!strings.Contains(page.body, `id="webhook-url">`+r.url()+`<`) {
		t.Fatalf("the app page after setting the webhook:\n%s", page.body)
	}
	// Saved again as it is: nothing to write, and no new secret.
	before := redistest.Snapshot(t, e.rdb)
	if p := b.post(base+"/webhook", url.Values{"csrf_token": {csrf}, "url": {r.url()}}); p.status != http.StatusSeeOther ||
		p.location != base+"?notice=webhook_saved#webhook" {
		t.Fatalf("the same URL again: %d %s\n%s", p.status, p.location, p.body)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	// A ping: queued, delivered, verified, listed.
	p = b.post(base+"/webhook/ping", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusSeeOther || p.location != base+"/deliveries?notice=ping_sent" {
		t.Fatalf("ping: %d %s\n%s", p.status, p.location, p.body)
	}
	ping := r.wait(store.WebhookPing, nil)
	if ping.data["client_id"] != a.ClientID {
		t.Fatalf("the ping's data: %v", ping.data)
	}
	e.waitDelivery(a.ClientID, ping.id, store.DeliveryDelivered, 1)
	list := b.get(p.location)
	ids, rows := deliveryRows(list)
	if list.status != http.StatusOK || len(ids) != 1 || ids[0] != ping.id || !strings.Contains(list.body, "Enviamos un ping") {
		t.Fatalf("the deliveries page after a ping: %d %v\n%s", list.status, ids, list.body)
	}
	c := cells(rows[ping.id])
	if len(c) != 8 || !strings.HasPrefix(c[0], "ping "+ping.id) || c[1] != "Entregada" || c[2] != "1" || c[3] != "HTTP 204" ||
		!strings.HasSuffix(c[4], " ms") || c[5] != "—" || !strings.Contains(c[6], "UTC") || c[7] != "Reenviar" {
		t.Fatalf("the ping's row: %q", c)
	}
	if !regexp.MustCompile(`<time class="date" datetime="[^"]+Z" data-local>`).MatchString(rows[ping.id]) ||
		!strings.Contains(list.body, "/static/localtime.") {
		t.Fatalf("the row's date is not local time:\n%s", rows[ping.id])
	}

	// Resent: a second attempt, the same webhook-id.
	p = b.post(base+"/deliveries/"+ping.id+"/resend", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusSeeOther || p.location != base+"/deliveries?notice=resent" {
		t.Fatalf("resend: %d %s\n%s", p.status, p.location, p.body)
	}
	e.waitDelivery(a.ClientID, ping.id, store.DeliveryDelivered, 2)
	n := 0
	for _, d := range r.all() {
		if d.id == ping.id {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("the receiver got the ping %d times", n)
	}
	_, rows = deliveryRows(b.get(p.location))
	if c := cells(rows[ping.id]); c[1] != "Entregada" || c[2] != "2" {
		t.Fatalf("the resent ping's row: %q", c)
	}

	// Rotation: shown once, says until when the old one signs, and both
	// sign meanwhile.
	e.refused(b, base+"/webhook/rotate-secret", url.Values{"csrf_token": {csrf}, "overlap": {"0"}}, http.StatusBadRequest, "de 1 hora a 7 días")
	p = b.post(base+"/webhook/rotate-secret", url.Values{"csrf_token": {csrf}, "overlap": {"24"}})
	if p.status != http.StatusOK {
		t.Fatalf("rotate: %d\n%s", p.status, p.body)
	}
	rotated := shownOnce(t, p)
	got = e.getApp(a.ClientID)
	if rotated == secret || !strings.HasPrefix(rotated, store.WebhookSecretPrefix) || !got.Webhook.Rotating(time.Now()) ||
		!strings.Contains(p.body, "Hasta el "+got.Webhook.PrevUntil.UTC().Format("2006-01-02 15:04 UTC")) {
		t.Fatalf("after the rotation: %+v\n%s", got.Webhook, p.body)
	}
	if page := b.get(base); !strings.Contains(page.body, `id="webhook-previous"`) || strings.Contains(page.body, rotated) {
		t.Fatalf("the app page during the rotation:\n%s", page.body)
	}
	r.setSecrets(secret, rotated)
	if p := b.post(base+"/webhook/ping", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("ping: %d", p.status)
	}
	eventually(t, "a ping signed twice", func() bool {
		for _, d := range r.all() {
			if d.typ == store.WebhookPing && len(strings.Fields(d.header.Get("webhook-signature"))) == 2 {
				return true
			}
		}
		return false
	})

	// Another URL: no new secret.
	r.setSecrets(rotated)
	p = b.post(base+"/webhook", url.Values{"csrf_token": {csrf}, "url": {r.url() + "/v2"}})
	if p.status != http.StatusSeeOther || p.location != base+"?notice=webhook_saved#webhook" {
		t.Fatalf("replace the URL: %d %s\n%s", p.status, p.location, p.body)
	}
	if got := e.getApp(a.ClientID); got.Webhook.URL != r.url()+"/v2" {
		t.Fatalf("the replaced URL: %q", got.Webhook.URL)
	}

	// 51 more deliveries: the page shows 50 and links to the rest.
	for range 51 {
		if _, err := e.st.SendPing(ctx, a.ClientID, store.DeliveryOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every ping delivered", func() bool {
		b, err := e.st.Backlog(ctx)
		return err == nil && b.Undelivered == 0
	})
	first := b.get(base + "/deliveries")
	ids, _ = deliveryRows(first)
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(first.body)
	if len(ids) != 50 || next == nil || !strings.Contains(first.body, "53 entregas guardadas") {
		t.Fatalf("the first page: %d rows, next %v\n%s", len(ids), next, first.body)
	}
	second := b.get(html.UnescapeString(next[1]))
	rest, _ := deliveryRows(second)
	if second.status != http.StatusOK || len(rest) != 3 || strings.Contains(second.body, `rel="next"`) || rest[2] != ping.id {
		t.Fatalf("the second page: %d %v\n%s", second.status, rest, second.body)
	}
	if p := b.get(base + "/deliveries?cursor=nope"); p.status != http.StatusBadRequest {
		t.Fatalf("a bad cursor: %d", p.status)
	}

	// Removal asks first; then no endpoint, and its secrets are gone.
	conf := b.get(base + "/webhook/remove")
	if conf.status != http.StatusOK || !strings.Contains(html.UnescapeString(conf.body), "¿Quitar el webhook de Sync Bodegas?") ||
		!strings.Contains(conf.body, r.url()+"/v2") || !strings.Contains(conf.body, `name="confirmed" value="yes"`) {
		t.Fatalf("the removal's confirmation: %d\n%s", conf.status, conf.body)
	}
	if p := b.post(base+"/webhook/remove", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther || p.location != base+"/webhook/remove" {
		t.Fatalf("an unconfirmed removal: %d %s", p.status, p.location)
	}
	if !e.getApp(a.ClientID).Webhook.Configured() {
		t.Fatal("an unconfirmed post removed the webhook")
	}
	if p := b.post(base+"/webhook/remove", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}}); p.status != http.StatusSeeOther ||
		p.location != base+"?notice=webhook_removed#webhook" {
		t.Fatalf("remove: %d %s", p.status, p.location)
	}
	if got := e.getApp(a.ClientID); got.Webhook.Configured() {
		t.Fatalf("after the removal: %+v", got.Webhook)
	}
	if p := b.get(base + "/deliveries"); !strings.Contains(p.body, `id="webhook-none"`) || len(deliveryRowRe.FindAllString(p.body, -1)) != 50 {
		t.Fatalf("the deliveries page after the removal:\n%s", p.body)
	}
	// A new endpoint gets a new secret.
	p = b.post(base+"/webhook", url.Values{"csrf_token": {csrf}, "url": {r.url()}})
	if again := shownOnce(t, p); again == secret || again == rotated {
		t.Fatal("a new endpoint has an old secret")
	}
	for _, s := range []string{secret, rotated} {
		if strings.Contains(e.logs.String(), s) {
			t.Fatal("a signing secret is in the log")
		}
	}
	if r.refused != 0 {
		t.Fatalf("%d deliveries did not verify", r.refused)
	}
}

// postLang posts a form with the given Accept-Language.
func (b *browser) postLang(path, lang string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", lang)
	return b.do(req)
}

// TestWebhookPortalRefusals: with the production rules, a URL that is not
// https, names or resolves to a loopback, private, link-local or metadata
// address, is too long or malformed is refused on the app page, in the
// page's language, and writes nothing; so are a ping, a rotation and a
// removal without an endpoint, a resend of an unknown delivery (or
// another app's), a post without the CSRF token, and every webhook page
// and action of another developer's app.
func TestWebhookPortalRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.Webhooks.RetrySchedule = []time.Duration{10 * time.Millisecond}
		c.Webhooks.PollInterval = 20 * time.Millisecond
	})
	ctx := context.Background()
	b, a, csrf := e.portalApp("dev@hooks.example")
	base := "/developers/apps/" + a.ClientID
	for _, tc := range []struct{ url, want string }{
		{"http://hooks.example.com/enlace", "debe ser una dirección https completa"},
		{"https://127.0.0.1/hook", "no es pública"},
		{"https://10.0.0.1/hook", "no es pública"},
		{"https://169.254.169.254/latest/meta-data/", "no es pública"},
		{"https://[::1]/hook", "no es pública"},
		{"https://localhost:8443/hook", "no es pública"},
		{"https://hooks.example.com/" + strings.Repeat("a", store.MaxWebhookURL), "demasiado larga"},
		{"https://user:pw@hooks.example.com/enlace", "sin usuario ni contraseña"},
		{"https://hooks.example.com/enlace#frag", "sin fragmento"},
		{"hooks.example.com/enlace", "debe ser una dirección https"},
		{"", "Escribe la URL"},
	} {
		e.refused(b, base+"/webhook", url.Values{"csrf_token": {csrf}, "url": {tc.url}}, http.StatusBadRequest, tc.want)
	}
	// The refused URL stays in the form, marked invalid.
	p := b.post(base+"/webhook", url.Values{"csrf_token": {csrf}, "url": {"https://10.0.0.1/hook"}})
	if !strings.Contains(p.body, `value="https://10.0.0.1/hook" aria-describedby="webhook-url-hint page-error" aria-invalid="true"`) {
		t.Fatalf("the refused form:\n%s", p.body)
	}
	// In English too.
	before := redistest.Snapshot(t, e.rdb)
	p = b.postLang(base+"/webhook", "en", url.Values{"csrf_token": {csrf}, "url": {"https://169.254.169.254/"}})
	if p.status != http.StatusBadRequest || !strings.Contains(p.body, "points to an address that is not public") || !strings.Contains(p.body, `lang="en"`) {
		t.Fatalf("an English refusal: %d\n%s", p.status, p.body)
	}
	p = b.postLang(base+"/webhook/ping", "en", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "The app has no webhook") {
		t.Fatalf("an English ping refusal: %d\n%s", p.status, p.body)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	e.refused(b, base+"/webhook", url.Values{"url": {"https://hooks.example.com/enlace"}}, http.StatusForbidden, "")
	e.refused(b, base+"/webhook/ping", url.Values{"csrf_token": {csrf}}, http.StatusConflict, "no tiene un webhook")
	e.refused(b, base+"/webhook/rotate-secret", url.Values{"csrf_token": {csrf}, "overlap": {"24"}}, http.StatusConflict, "no tiene un webhook")
	e.refused(b, base+"/webhook/remove", url.Values{"csrf_token": {csrf}, "confirmed": {"yes"}}, http.StatusConflict, "no tiene un webhook")
	if p := b.get(base + "/webhook/remove"); p.status != http.StatusSeeOther {
		t.Fatalf("the removal page without an endpoint: %d", p.status)
	}
	e.refused(b, base+"/deliveries/evt_nope-1/resend", url.Values{"csrf_token": {csrf}}, http.StatusNotFound, "No hay ninguna entrega")
	e.refused(b, base+"/deliveries/bogus/resend", url.Values{"csrf_token": {csrf}}, http.StatusNotFound, "No hay ninguna entrega")

	// Another app's delivery is unknown here. (Its endpoint is on
	// loopback, which the deliverer refuses at once: it fails after its
	// two attempts, and nothing moves.)
	e.setWebhook(e.app.ClientID, "https://127.0.0.1:1/other")
	other, err := e.st.SendPing(ctx, e.app.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.waitDelivery(e.app.ClientID, other.ID, store.DeliveryFailed, 2)
	e.refused(b, base+"/deliveries/"+other.ID+"/resend", url.Values{"csrf_token": {csrf}}, http.StatusNotFound, "No hay ninguna entrega")
	if p := b.get(base + "/deliveries"); strings.Contains(p.body, other.ID) {
		t.Fatal("the deliveries page lists another app's delivery")
	}

	// Without encryption.key nothing can be sealed: refused, nothing written.
	noKey := newEnv(t, func(c *config.Config) { c.Encryption.Key = "" })
	nb, na, ncsrf := noKey.portalApp("dev@hooks.example")
	noKey.refused(nb, "/developers/apps/"+na.ClientID+"/webhook", url.Values{"csrf_token": {ncsrf}, "url": {"https://93.184.215.14/hook"}},
		http.StatusServiceUnavailable, "falta su clave de cifrado")

	// Another developer: every page and action is a 404, writing nothing.
	e.setWebhook(a.ClientID, "https://127.0.0.1:1/mine")
	mine, err := e.st.SendPing(ctx, a.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.waitDelivery(a.ClientID, mine.ID, store.DeliveryFailed, 2)
	stranger, _ := e.developer("otro@hooks.example")
	scsrf := stranger.devCSRF()
	for _, id := range []string{a.ClientID, e.app.ClientID, "no-such-app"} {
		sbase := "/developers/apps/" + id
		for _, path := range []string{sbase + "/deliveries", sbase + "/webhook/remove"} {
			if p := stranger.get(path); p.status != http.StatusNotFound {
				t.Fatalf("GET %s by another developer: %d", path, p.status)
			}
		}
		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{sbase + "/webhook", url.Values{"csrf_token": {scsrf}, "url": {"https://hooks.example.com/theirs"}}},
			{sbase + "/webhook/remove", url.Values{"csrf_token": {scsrf}, "confirmed": {"yes"}}},
			{sbase + "/webhook/rotate-secret", url.Values{"csrf_token": {scsrf}, "overlap": {"24"}}},
			{sbase + "/webhook/ping", url.Values{"csrf_token": {scsrf}}},
			{sbase + "/deliveries/" + mine.ID + "/resend", url.Values{"csrf_token": {scsrf}}},
		} {
			e.refused(stranger, tc.path, tc.form, http.StatusNotFound, "")
		}
	}
	if got := e.getApp(a.ClientID); got.Webhook.URL != "https://127.0.0.1:1/mine" {
		t.Fatalf("the app's webhook changed: %+v", got.Webhook)
	}
}

// TestWebhookPortalDisabled: an endpoint failing longer than
// webhooks.disable_after is shown failing, then disabled, with an alert
// that says deliveries stopped and that saving the URL re-enables it; a
// ping and a resend are refused meanwhile, writing nothing; saved again,
// it is active, and the failed delivery resent is delivered.
func TestWebhookPortalDisabled(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t, func(c *config.Config) { c.Webhooks.DisableAfter = time.Hour })
	ctx := context.Background()
	r := newReceiver(t)
	down := true
	r.respond = func(string, int) int {
		if down {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	b, a, csrf := e.portalApp("dev@hooks.example")
	base := "/developers/apps/" + a.ClientID
	r.setSecrets(shownOnce(t, b.post(base+"/webhook", url.Values{"csrf_token": {csrf}, "url": {r.url()}})))
	if p := b.post(base+"/webhook/ping", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("ping: %d", p.status)
	}
	ping := r.wait(store.WebhookPing, nil)
	e.waitDelivery(a.ClientID, ping.id, store.DeliveryFailed, 4)
	page := b.get(base)
	if !strings.Contains(page.body, `id="webhook-state">Con fallas<`) || !strings.Contains(page.body, "desde el <time") ||
		strings.Contains(page.body, `id="webhook-disabled"`) {
		t.Fatalf("the failing endpoint's page:\n%s", page.body)
	}
	_, rows := deliveryRows(b.get(base + "/deliveries"))
	if c := cells(rows[ping.id]); c[1] != "Fallida" || c[2] != "4" || c[3] != "HTTP 500" || c[5] != "—" {
		t.Fatalf("the failed ping's row: %q", c)
	}

	// Failing for longer than an hour: disabled.
	e.clock.Add(2 * time.Hour)
	second, err := e.st.SendPing(ctx, a.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the endpoint disabled", func() bool { return !e.getApp(a.ClientID).Webhook.Active() })
	e.waitDelivery(a.ClientID, second.ID, store.DeliveryFailed, 1)
	page = b.get(base)
	text := html.UnescapeString(page.body)
	for _, want := range []string{`id="webhook-state">Deshabilitado<`, `id="webhook-disabled"`, "Las entregas están detenidas.",
		`id="webhook-stopped">Las entregas del webhook están detenidas: su endpoint falló demasiado tiempo. <a href="#webhook">`,
		"falló durante más de 1 hora", "guarda la URL de nuevo", `id="webhook-save">Guardar y reactivar<`} {
		if !strings.Contains(text, want) {
			t.Fatalf("the disabled endpoint's page lacks %q:\n%s", want, page.body)
		}
	}
	if p := b.get(base + "?lang=en"); !strings.Contains(p.body, "Deliveries have stopped.") || !strings.Contains(p.body, "more than 1 hour") {
		t.Fatalf("the disabled endpoint's page in English:\n%s", p.body)
	}
	if p := b.get(base + "/deliveries?lang=es"); !strings.Contains(p.body, `id="webhook-disabled"`) {
		t.Fatalf("the deliveries page of a disabled endpoint:\n%s", p.body)
	}
	e.refused(b, base+"/webhook/ping", url.Values{"csrf_token": {csrf}}, http.StatusConflict, "está deshabilitado")
	e.refused(b, base+"/deliveries/"+ping.id+"/resend", url.Values{"csrf_token": {csrf}}, http.StatusConflict, "no está activo")

	// Saved again: active, and the failed ping resent is delivered.
	down = false
	if p := b.post(base+"/webhook", url.Values{"csrf_token": {csrf}, "url": {r.url()}}); p.status != http.StatusSeeOther {
		t.Fatalf("save again: %d\n%s", p.status, p.body)
	}
	if w := e.getApp(a.ClientID).Webhook; !w.Active() || !w.FailingSince.IsZero() {
		t.Fatalf("after saving again: %+v", w)
	}
	if p := b.get(base); !strings.Contains(p.body, `id="webhook-state">Activo<`) || strings.Contains(p.body, `id="webhook-disabled"`) ||
		strings.Contains(p.body, `id="webhook-stopped"`) {
		t.Fatalf("the re-enabled endpoint's page:\n%s", p.body)
	}
	if p := b.post(base+"/deliveries/"+ping.id+"/resend", url.Values{"csrf_token": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("resend: %d\n%s", p.status, p.body)
	}
	e.waitDelivery(a.ClientID, ping.id, store.DeliveryDelivered, 5)
}

// TestAdminWebhookPages: the admin apps page shows each app's webhook
// state and links to its deliveries; the deliveries page shows the
// endpoint and the portal's columns, and a resend is a second attempt
// with the same webhook-id; an unknown delivery, an unknown app, a post
// without the CSRF token and a visitor without an admin session are
// refused, writing nothing.
func TestAdminWebhookPages(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	ctx := context.Background()
	r := newReceiver(t)
	id := e.app.ClientID
	r.setSecrets(e.setWebhook(id, r.url()))
	ping, err := e.st.SendPing(ctx, id, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.wait(store.WebhookPing, nil)
	e.waitDelivery(id, ping.ID, store.DeliveryDelivered, 1)
	other, _ := e.newApp("Sin Webhook", appRedirect)

	adm := e.adminBrowser()
	list := adm.get("/admin")
	for _, want := range []string{`<span class="webhook-state webhook-active" title="` + r.url() + `">Activo</span>`,
		`href="/admin/apps/` + id + `/deliveries"`, `href="/admin/apps/` + other.ClientID + `/deliveries" title="Entregas del webhook">Webhook</a></small>`} {
		if !strings.Contains(list.body, want) {
			t.Fatalf("the apps page lacks %s:\n%s", want, list.body)
		}
	}
	path := "/admin/apps/" + id + "/deliveries"
	page := adm.get(path)
	ids, rows := deliveryRows(page)
	if page.status != http.StatusOK || len(ids) != 1 || ids[0] != ping.ID || !strings.Contains(page.body, `id="webhook-url">`+r.url()+`<`) ||
		!strings.Contains(page.body, `id="webhook-state">Activo<`) || !strings.Contains(page.body, "Entregas del webhook de Sincronizador") {
		t.Fatalf("the admin deliveries page: %d %v\n%s", page.status, ids, page.body)
	}
	if c := cells(rows[ping.ID]); len(c) != 8 || c[1] != "Entregada" || c[2] != "1" || c[3] != "HTTP 204" || c[7] != "Reenviar" {
		t.Fatalf("the row: %q", c)
	}
	if p := adm.get(path + "?lang=en"); !strings.Contains(p.body, "Webhook deliveries of Sincronizador") || !strings.Contains(p.body, ">Delivered<") {
		t.Fatalf("in English:\n%s", p.body)
	}
	if p := adm.get("/admin/apps/" + other.ClientID + "/deliveries?lang=es"); p.status != http.StatusOK ||
		!strings.Contains(p.body, `id="webhook-state">Sin webhook<`) || !strings.Contains(p.body, "Todavía no hay entregas") {
		t.Fatalf("an app without a webhook: %d\n%s", p.status, p.body)
	}
	csrf := csrfOf(t, page)

	p := adm.post(path+"/"+ping.ID+"/resend", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusSeeOther || p.location != path+"?notice=resent" {
		t.Fatalf("resend: %d %s\n%s", p.status, p.location, p.body)
	}
	e.waitDelivery(id, ping.ID, store.DeliveryDelivered, 2)
	n := 0
	for _, d := range r.all() {
		if d.id == ping.ID {
			n++
		}
	}
	if n != 2 || r.refused != 0 {
		t.Fatalf("the receiver got the ping %d times (%d refused)", n, r.refused)
	}
	page = adm.get(p.location)
	if _, rows := deliveryRows(page); cells(rows[ping.ID])[2] != "2" || !strings.Contains(page.body, "La entrega quedó en cola") {
		t.Fatalf("after the resend:\n%s", page.body)
	}

	e.refused(adm, path+"/evt_nope-1/resend", url.Values{"csrf_token": {csrf}}, http.StatusNotFound, "No hay ninguna entrega")
	e.refused(adm, path+"/"+ping.ID+"/resend", url.Values{}, http.StatusForbidden, "")
	e.refused(adm, "/admin/apps/nope/deliveries/"+ping.ID+"/resend", url.Values{"csrf_token": {csrf}}, http.StatusNotFound, "")
	e.refused(adm, "/admin/apps/"+other.ClientID+"/deliveries/"+ping.ID+"/resend", url.Values{"csrf_token": {csrf}}, http.StatusNotFound, "No hay ninguna entrega")
	if p := adm.get("/admin/apps/nope/deliveries"); p.status != http.StatusNotFound {
		t.Fatalf("an unknown app's deliveries: %d", p.status)
	}
	if p := adm.get(path + "?cursor=nope"); p.status != http.StatusBadRequest {
		t.Fatalf("a bad cursor: %d", p.status)
	}
	// A developer's or a merchant's session is no admin's.
	dev, _ := e.developer("dev@hooks.example")
	if p := dev.get(path); p.status != http.StatusSeeOther || p.location != "/admin/login" {
		t.Fatalf("the deliveries page without an admin session: %d %s", p.status, p.location)
	}
	e.refused(dev, path+"/"+ping.ID+"/resend", url.Values{"csrf_token": {dev.devCSRF()}}, http.StatusSeeOther, "")
	// A removed endpoint delivers nothing: a resend is refused.
	if err := e.st.RemoveWebhook(ctx, id, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	e.refused(adm, path+"/"+ping.ID+"/resend", url.Values{"csrf_token": {csrf}}, http.StatusConflict, "no está activo")
}

// blockingReceiver is an endpoint that holds each delivery until the
// test lets it go: an attempt in flight.
type blockingReceiver struct {
	srv     *httptest.Server
	arrived chan string
	release chan struct{}
}

func newBlockingReceiver(t *testing.T) *blockingReceiver {
	t.Helper()
	b := &blockingReceiver{arrived: make(chan string, 16), release: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b.arrived <- req.Header.Get("webhook-id")
		<-b.release
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(b.srv.Close)
	t.Cleanup(func() { close(b.release) })
	return b
}

// TestWebhookResendInFlight: while an attempt is in flight its row offers
// no resend, and a resend is refused (409) by the portal, the admin page
// and the admin API, writing nothing.
func TestWebhookResendInFlight(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t, func(c *config.Config) { c.Webhooks.Timeout = 30 * time.Second })
	ctx := context.Background()
	blk := newBlockingReceiver(t)
	b, a, csrf := e.portalApp("dev@hooks.example")
	e.setWebhook(a.ClientID, blk.srv.URL+"/hook")
	ping, err := e.st.SendPing(ctx, a.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-blk.arrived:
		if got != ping.ID {
			t.Fatalf("the receiver got %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the ping did not arrive")
	}
	e.waitDelivery(a.ClientID, ping.ID, store.DeliveryDelivering, 0)
	base := "/developers/apps/" + a.ClientID
	page := b.get(base + "/deliveries")
	_, rows := deliveryRows(page)
	if c := cells(rows[ping.ID]); c[1] != "Enviando" || c[5] != "En curso" || strings.Contains(rows[ping.ID], "/resend") {
		t.Fatalf("the row in flight: %q", c)
	}
	e.refused(b, base+"/deliveries/"+ping.ID+"/resend", url.Values{"csrf_token": {csrf}}, http.StatusConflict, "se está enviando en este momento")
	adm := e.adminBrowser()
	path := "/admin/apps/" + a.ClientID + "/deliveries"
	e.refused(adm, path+"/"+ping.ID+"/resend", url.Values{"csrf_token": {csrfOf(t, adm.get(path))}}, http.StatusConflict, "se está enviando")
	key, _, err := e.st.CreateAdminKey(ctx, "ops", 0)
	if err != nil {
		t.Fatal(err)
	}
	before := redistest.Snapshot(t, e.rdb)
	res := e.adminAPI(http.MethodPost, "/apps/"+a.ClientID+"/deliveries/"+ping.ID+"/resend", key)
	if res.status != http.StatusConflict || res.json["error"] != "invalid_request" {
		t.Fatalf("the API's resend in flight: %d %s", res.status, res.raw)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
}

// adminAPI calls the admin API with key.
func (e *testEnv) adminAPI(method, path, key string) response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+"/admin/api"+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return e.send(req)
}

// TestWebhookPingLimit: an app's pings are bounded (store.PingsPerHour),
// in the portal and the CLI alike; the one over the bound is refused with
// 429 on the page and queues nothing.
func TestWebhookPingLimit(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	ctx := context.Background()
	b, a, csrf := e.portalApp("pings@hooks.example")
	r := newReceiver(t)
	r.setSecrets(e.setWebhook(a.ClientID, r.url()))
	for range store.PingsPerHour {
		if _, err := e.st.SendPing(ctx, a.ClientID, store.DeliveryOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.SendPing(ctx, a.ClientID, store.DeliveryOptions{}); !errors.Is(err, store.ErrTooManyPings) {
		t.Fatalf("one ping too many: %v", err)
	}
	p := b.post("/developers/apps/"+a.ClientID+"/webhook/ping", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Ya enviaste 60 pings") {
		t.Fatalf("the portal's ping over the limit: %d\n%s", p.status, p.body)
	}
	eventually(t, "the pings delivered", func() bool { return len(r.all()) == store.PingsPerHour })
	if page, err := e.st.Deliveries(ctx, a.ClientID, "", 100); err != nil || page.Total != store.PingsPerHour {
		t.Fatalf("deliveries: %v %+v", err, page)
	}
}

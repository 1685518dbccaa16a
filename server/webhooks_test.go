package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// Tests of the webhooks (issue 16) against a real redis-server and a real
// HTTP receiver that verifies every delivery with the Standard Webhooks
// Go library.

// delivery is one POST the receiver got.
type delivery struct {
	id, typ string
	data    map[string]any
	body    map[string]any
	header  http.Header
}

// receiver is an app's webhook endpoint. It verifies each delivery with
// the Standard Webhooks library under each of secrets (every one must
// verify) and answers what respond says for the n-th arrival of an id (0
// first); 204 when respond is nil.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	// secrets each verify every delivery.
	secrets []string
	respond func(id string, n int) int
	got     []delivery
	// refused counts deliveries that did not verify.
	refused int
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, s := range r.secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err == nil {
				err = wh.Verify(body, req.Header)
			}
			if err != nil {
				r.refused++
				t.Errorf("a delivery does not verify under %s…: %v (headers %v)", s[:10], err, req.Header)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		var d delivery
		if err := json.Unmarshal(body, &d.body); err != nil {
			t.Errorf("a delivery is not JSON: %q", body)
		}
		d.id, d.header = req.Header.Get("webhook-id"), req.Header.Clone()
		d.typ, _ = d.body["type"].(string)
		d.data, _ = d.body["data"].(map[string]any)
		n := 0
		for _, g := range r.got {
			if g.id == d.id {
				n++
			}
		}
		r.got = append(r.got, d)
		status := http.StatusNoContent
		if r.respond != nil {
			status = r.respond(d.id, n)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hooks/enlace" }

func (r *receiver) setSecrets(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = s
}

// all returns what arrived so far.
func (r *receiver) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// wait waits for a delivery of typ whose data matches match (nil: any)
// and returns it.
func (r *receiver) wait(typ string, match func(data map[string]any) bool) delivery {
	r.t.Helper()
	var found delivery
	eventually(r.t, "a "+typ+" delivery", func() bool {
		for _, d := range r.all() {
			if d.typ == typ && (match == nil || match(d.data)) {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// webhookEnv is a test server whose webhooks may reach loopback, with a
// retry schedule of milliseconds.
func webhookEnv(t *testing.T, opts ...func(*config.Config)) *testEnv {
	t.Helper()
	return newEnv(t, append([]func(*config.Config){func(c *config.Config) {
		c.Webhooks.AllowPrivateTargets = true
		c.Webhooks.RetrySchedule = []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}
		c.Webhooks.PollInterval = 20 * time.Millisecond
	}}, opts...)...)
}

func (e *testEnv) setWebhook(clientID, url string) string {
	e.t.Helper()
	secret, _, err := e.st.SetWebhook(context.Background(), clientID, url, true, store.ActorCLI)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func connectionOf(t *testing.T, access string) string {
	t.Helper()
	id, ok := store.ParseCredential(store.KindAccess, access)
	if !ok {
		t.Fatalf("an access token that does not parse")
	}
	return id
}

// TestWebhookEvents: every event type arrives, signed and verifiable with
// the Standard Webhooks library, with the contract's headers and body:
// connection.created for an approval and a first-party sign-in,
// connection.revoked with each reason, app.status_changed, ping; during a
// secret rotation each delivery verifies under the old and the new secret.
func TestWebhookEvents(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	ctx := context.Background()
	r := newReceiver(t)
	secret := e.setWebhook(e.app.ClientID, r.url())
	if !strings.HasPrefix(secret, store.WebhookSecretPrefix) {
		t.Fatalf("the signing secret %q is not in the whsec_ form", secret[:8])
	}
	r.setSecrets(secret)
	// A second setting of the endpoint keeps the secret.
	if again, _, err := e.st.SetWebhook(ctx, e.app.ClientID, r.url(), true, store.ActorCLI); err != nil || again != "" {
		t.Fatalf("setting the endpoint again: %q %v", again, err)
	}
	byConn := func(id string) func(map[string]any) bool {
		return func(d map[string]any) bool { return d["connection_id"] == id }
	}

	// connection.created, then connection.revoked by the merchant.
	pair := e.pair("read:products", "read:checkouts")
	conn := connectionOf(t, pair.json["access_token"].(string))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(e.logs.String())
		}
	})
	created := r.wait(store.WebhookConnectionCreated, byConn(conn))
	want := map[string]any{"connection_id": conn, "merchant_id": e.merchant.ID, "client_id": e.app.ClientID,
		"scopes": []any{"read:products", "read:checkouts"}}
	if !mapsEqual(created.data, want) {
		t.Fatalf("connection.created data: %v, want %v", created.data, want)
	}
	checkEnvelope(t, created)
	if err := e.st.RevokeConnection(ctx, conn, store.ActorMerchant(e.merchant.ID)); err != nil {
		t.Fatal(err)
	}
	revoked := r.wait(store.WebhookConnectionRevoked, byConn(conn))
	want["reason"] = "merchant"
	if !mapsEqual(revoked.data, want) {
		t.Fatalf("connection.revoked data: %v, want %v", revoked.data, want)
	}
	if revoked.id == created.id {
		t.Fatal("two events share a webhook-id")
	}

	// The other reasons.
	reason := func(conn, want string) {
		t.Helper()
		d := r.wait(store.WebhookConnectionRevoked, byConn(conn))
		if d.data["reason"] != want {
			t.Fatalf("connection %s revoked with reason %v, want %s", conn, d.data["reason"], want)
		}
	}
	c := connectionOf(t, e.pair().json["access_token"].(string))
	if err := e.st.RevokeConnection(ctx, c, store.ActorAdmin("a1")); err != nil {
		t.Fatal(err)
	}
	reason(c, "admin")
	p := e.pair()
	c = connectionOf(t, p.json["access_token"].(string))
	if res := e.form("/oauth/revoke", url.Values{"token": {p.json["refresh_token"].(string)}}, e.app.ClientID, e.secret); res.status != http.StatusOK {
		t.Fatalf("RFC 7009 revocation: %d %s", res.status, res.raw)
	}
	reason(c, "app")
	code := e.code(nil)
	if res := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}}, e.app.ClientID, e.secret); res.status != http.StatusOK {
		t.Fatal(res.raw)
	} else {
		c = connectionOf(t, res.json["access_token"].(string))
	}
	if res := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}}, e.app.ClientID, e.secret); res.status != http.StatusBadRequest {
		t.Fatal(res.raw)
	}
	reason(c, "code_reuse")
	p = e.pair()
	c = connectionOf(t, p.json["access_token"].(string))
	rt := p.json["refresh_token"].(string)
	if _, ok := e.refreshOK(rt); !ok {
		t.Fatal("refresh")
	}
	e.clock.Add(time.Minute) // past the retry window: the old token is a replay now
	if _, ok := e.refreshOK(rt); ok {
		t.Fatal("a replayed refresh token worked")
	}
	reason(c, "refresh_reuse")

	// A first-party sign-in is a connection.created too.
	fp, fpSecret := e.firstPartyApp()
	r.setSecrets(e.setWebhook(fp.ClientID, r.url()))
	res := e.signIn(fp, fpSecret, "ana@tienda.cl", password, "read:products")
	if res.status != http.StatusOK {
		t.Fatalf("sign-in: %d %s", res.status, res.raw)
	}
	signin := r.wait(store.WebhookConnectionCreated, func(d map[string]any) bool { return d["client_id"] == fp.ClientID })
	if signin.data["merchant_id"] != e.merchant.ID {
		t.Fatalf("the sign-in's connection.created: %v", signin.data)
	}
	r.setSecrets(secret)

	// Rotation: both secrets sign, so a receiver holding either verifies.
	newSecret, a, err := e.st.RotateWebhookSecret(ctx, e.app.ClientID, time.Hour, store.ActorCLI)
	if err != nil || newSecret == secret || !a.Webhook.Rotating(time.Now()) {
		t.Fatalf("rotate: %v", err)
	}
	r.setSecrets(secret, newSecret)
	ping, err := e.st.SendPing(ctx, e.app.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := r.wait(store.WebhookPing, nil)
	if d.id != ping.ID || d.data["client_id"] != e.app.ClientID || len(strings.Fields(d.header.Get("webhook-signature"))) != 2 {
		t.Fatalf("ping: %s %v %q", d.id, d.data, d.header.Get("webhook-signature"))
	}

	// app.status_changed: suspended, back, and deleted, with the app-wide
	// revocation of its connections (reason app_deleted).
	last := connectionOf(t, e.pair().json["access_token"].(string))
	r.setSecrets(newSecret)
	if err := e.st.SetAppDisabled(ctx, e.app.ClientID, true, store.ActorAdmin("a1")); err != nil {
		t.Fatal(err)
	}
	s := r.wait(store.WebhookAppStatusChanged, func(d map[string]any) bool { return d["status"] == "suspended" })
	if s.data["previous_status"] != "published" || s.data["client_id"] != e.app.ClientID {
		t.Fatalf("suspended: %v", s.data)
	}
	if err := e.st.SetAppDisabled(ctx, e.app.ClientID, false, store.ActorAdmin("a1")); err != nil {
		t.Fatal(err)
	}
	r.wait(store.WebhookAppStatusChanged, func(d map[string]any) bool {
		return d["status"] == "published" && d["previous_status"] == "suspended"
	})
	// An app-wide revocation reaches each connection, in the background.
	if _, err := e.st.RevokeAllConnections(ctx, e.app.ClientID, store.ActorAdmin("a1")); err != nil {
		t.Fatal(err)
	}
	reason(last, "app_revoked")
	last = connectionOf(t, e.pair().json["access_token"].(string))
	if _, err := e.st.DeleteApp(ctx, e.app.ClientID, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	r.wait(store.WebhookAppStatusChanged, func(d map[string]any) bool { return d["status"] == "deleted" })
	reason(last, "app_deleted")

	// A developer's app through its review: each step is a status change.
	dev, err := e.st.CreateDeveloper(ctx, "dev@hooks.example", "Dev", "a developer pw")
	if err != nil {
		t.Fatal(err)
	}
	da, _, err := e.st.CreateApp(ctx, store.AppSpec{Name: "Dev app", Owner: dev.ID, RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:products"}}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	r.setSecrets(e.setWebhook(da.ClientID, r.url()))
	byApp := func(status, previous string) func(map[string]any) bool {
		return func(d map[string]any) bool {
			return d["client_id"] == da.ClientID && d["status"] == status && d["previous_status"] == previous
		}
	}
	steps := []struct {
		do               func() error
		status, previous string
		reason           any
	}{
		{func() error { return e.st.SubmitApp(ctx, da.ClientID, store.ActorDeveloper(dev.ID)) }, "review", "development", nil},
		{func() error {
			return e.st.ReviewApp(ctx, da.ClientID, false, "no privacy policy", store.ActorAdmin("a1"))
		}, "development", "review", "no privacy policy"},
		{func() error { return e.st.SubmitApp(ctx, da.ClientID, store.ActorDeveloper(dev.ID)) }, "review", "development", nil},
		{func() error { return e.st.ReviewApp(ctx, da.ClientID, true, "", store.ActorAdmin("a1")) }, "published", "review", nil},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		n := 0
		eventually(t, "the status change to "+s.status, func() bool {
			n = 0
			for _, d := range r.all() {
				if d.typ == store.WebhookAppStatusChanged && byApp(s.status, s.previous)(d.data) {
					n++
					if d.data["reason"] != s.reason {
						t.Fatalf("step %d: reason %v, want %v", i, d.data["reason"], s.reason)
					}
				}
			}
			return n >= 1+map[bool]int{true: 1}[i == 2]
		})
	}
	if r.refused != 0 {
		t.Fatalf("%d deliveries did not verify", r.refused)
	}
}

// checkEnvelope checks a delivery's headers and body against the
// contract: webhook-id, webhook-timestamp and webhook-signature (v1,…),
// JSON, and {type, timestamp (ISO 8601), data}.
func checkEnvelope(t *testing.T, d delivery) {
	t.Helper()
	if d.header.Get("Content-Type") != "application/json" || !strings.HasPrefix(d.header.Get("webhook-signature"), "v1,") ||
		d.header.Get("webhook-timestamp") == "" || !strings.HasPrefix(d.id, "evt_") {
		t.Fatalf("headers: %v", d.header)
	}
	ts, _ := d.body["timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || len(d.body) != 3 {
		t.Fatalf("body: %v", d.body)
	}
}

func mapsEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestWebhookRetries: a receiver answering 500 three times and then 200
// gets the same webhook-id four times, and the delivery ends delivered,
// with its attempts in its log; one that never succeeds ends failed after
// the schedule, and a resend delivers it with the same id. An endpoint
// failing for webhooks.disable_after is disabled.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t, func(c *config.Config) { c.Webhooks.DisableAfter = time.Hour })
	ctx := context.Background()
	r := newReceiver(t)
	r.setSecrets(e.setWebhook(e.app.ClientID, r.url()))
	var failing atomic.Bool
	failing.Store(true)
	r.respond = func(id string, n int) int {
		if strings.HasPrefix(id, "ping_") && failing.Load() {
			return http.StatusServiceUnavailable
		}
		if n < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	conn := connectionOf(t, e.pair().json["access_token"].(string))
	var id string
	eventually(t, "four attempts", func() bool {
		n := 0
		for _, d := range r.all() {
			if d.typ == store.WebhookConnectionCreated && d.data["connection_id"] == conn {
				n++
				id = d.id
			}
		}
		return n == 4
	})
	var dl *store.Delivery
	eventually(t, "the delivery delivered", func() bool {
		var err error
		dl, err = e.st.GetDelivery(ctx, e.app.ClientID, id)
		return err == nil && dl.Status == store.DeliveryDelivered
	})
	statuses := []int{}
	for _, a := range dl.Log {
		statuses = append(statuses, a.Status)
	}
	if dl.Attempts != 4 || !slices.Equal(statuses, []int{200, 500, 500, 500}) || dl.DeliveredAt.IsZero() {
		t.Fatalf("the delivery: %d attempts, %v", dl.Attempts, statuses)
	}
	for _, d := range r.all() {
		if d.data["connection_id"] == conn && d.id != id {
			t.Fatalf("a retry has another webhook-id: %s, %s", d.id, id)
		}
	}
	a := e.getApp(e.app.ClientID)
	if !a.Webhook.FailingSince.IsZero() {
		t.Fatalf("a delivered endpoint is failing since %v", a.Webhook.FailingSince)
	}

	// A ping answered 503 every time fails after 1 + 3 attempts.
	ping, err := e.st.SendPing(ctx, e.app.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ping failed", func() bool {
		d, err := e.st.GetDelivery(ctx, e.app.ClientID, ping.ID)
		return err == nil && d.Status == store.DeliveryFailed && d.Attempts == 4
	})
	if a := e.getApp(e.app.ClientID); a.Webhook.FailingSince.IsZero() || !a.Webhook.Active() {
		t.Fatalf("after a failed delivery the endpoint is %+v", a.Webhook)
	}
	// Sent again: the same id, a fresh schedule, delivered once the
	// receiver is back.
	failing.Store(false)
	if err := e.st.ResendDelivery(ctx, e.app.ClientID, ping.ID, store.DeliveryOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the resent ping delivered", func() bool {
		d, err := e.st.GetDelivery(ctx, e.app.ClientID, ping.ID)
		return err == nil && d.Status == store.DeliveryDelivered && d.Attempts == 5
	})
	if err := e.st.ResendDelivery(ctx, e.app.ClientID, "evt_nope", store.DeliveryOptions{}); err == nil {
		t.Fatal("resent a delivery that does not exist")
	}
	// The metrics count the attempts by outcome (just after the attempt
	// is recorded), and the backlog is empty.
	var m string
	eventually(t, "the metrics of nine attempts", func() bool {
		m = e.get("/metrics").raw
		return metricSum(m, "enlace_webhook_attempt_duration_seconds_count") == 9
	})
	for outcome, want := range map[string]float64{"delivered": 2, "retried": 6, "failed": 1} {
		if got := metricSum(m, "enlace_webhook_attempts_total", `outcome="`+outcome+`"`); got != want {
			t.Errorf("attempts %s: %v, want %v", outcome, got, want)
		}
	}
	if metricSum(m, "enlace_webhook_queue_depth") != 0 ||
		!strings.Contains(m, "enlace_webhook_oldest_undelivered_seconds 0") || !strings.Contains(m, "enlace_webhook_outbox_length 0") {
		t.Errorf("webhook metrics:\n%s", m)
	}

	// Failing for longer than disable_after disables the endpoint: what
	// comes then is not delivered.
	failing.Store(true)
	failed, err := e.st.SendPing(ctx, e.app.ClientID, store.DeliveryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Every attempt of it made (so none is left to run across the clock's
	// jump): the endpoint is failing.
	e.waitDelivery(e.app.ClientID, failed.ID, store.DeliveryFailed, 4)
	if e.getApp(e.app.ClientID).Webhook.FailingSince.IsZero() {
		t.Fatal("a failed delivery left the endpoint healthy")
	}
	e.clock.Add(2 * time.Hour)
	if !e.getApp(e.app.ClientID).Webhook.Active() {
		t.Fatal("disabled before failing for an hour")
	}
	if _, err = e.st.SendPing(ctx, e.app.ClientID, store.DeliveryOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the endpoint disabled", func() bool { return !e.getApp(e.app.ClientID).Webhook.Active() })
	events, _, err := e.st.ListAudit(ctx, store.AuditFilter{ClientID: e.app.ClientID}, "", 1)
	if err != nil || len(events) != 1 || events[0].Actor != store.ActorDeliverer || events[0].Detail != "webhook disabled after failing too long" {
		t.Fatalf("the disabling's audit event: %+v %v", events, err)
	}
	if _, err := e.st.SendPing(ctx, e.app.ClientID, store.DeliveryOptions{}); err == nil {
		t.Fatal("a ping to a disabled endpoint was queued")
	}
	// What was on its way is not attempted any more (refused: the
	// endpoint is disabled). Setting the endpoint again enables it.
	eventually(t, "the pending deliveries ended", func() bool {
		b, err := e.st.Backlog(ctx)
		return err == nil && b.Undelivered == 0
	})
	e.setWebhook(e.app.ClientID, r.url())
	if a := e.getApp(e.app.ClientID); !a.Webhook.Active() || !a.Webhook.FailingSince.IsZero() {
		t.Fatalf("after setting it again: %+v", a.Webhook)
	}
}

// TestWebhookTwoInstances: two servers deliver from one Redis, and every
// event arrives exactly once.
func TestWebhookTwoInstances(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	second := e.secondInstance()
	ctx := context.Background()
	r := newReceiver(t)
	r.setSecrets(e.setWebhook(e.app.ClientID, r.url()))
	const n = 150
	for range n {
		if _, _, err := second.Approve(ctx, store.Grant{ClientID: e.app.ClientID, MerchantID: e.merchant.ID,
			RedirectURI: appRedirect, Scopes: []string{"read:products"}}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every event delivered", func() bool { return len(r.all()) >= n })
	seen := map[string]int{}
	for _, d := range r.all() {
		seen[d.id]++
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("%s delivered %d times", id, k)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events, want %d", len(seen), n)
	}
	// The receiver has them all; their results are recorded just after.
	eventually(t, "an empty backlog", func() bool {
		b, err := e.st.Backlog(ctx)
		return err == nil && b.Undelivered == 0 && b.Outbox == 0
	})
	page, err := e.st.Deliveries(ctx, e.app.ClientID, "", 100)
	if err != nil || len(page.Deliveries) != 100 || page.Next == "" || page.Total != n {
		t.Fatalf("first page: %v %d next %q total %d", err, len(page.Deliveries), page.Next, page.Total)
	}
	rest, err := e.st.Deliveries(ctx, e.app.ClientID, page.Next, 100)
	if err != nil || len(rest.Deliveries) != n-100 || rest.Next != "" {
		t.Fatalf("second page: %v %d next %q", err, len(rest.Deliveries), rest.Next)
	}
	listed := map[string]bool{}
	for _, d := range append(page.Deliveries, rest.Deliveries...) {
		if listed[d.ID] || seen[d.ID] != 1 || d.Status != store.DeliveryDelivered {
			t.Fatalf("listing: %s twice or unknown or %s", d.ID, d.Status)
		}
		listed[d.ID] = true
	}
}

// register posts an RFC 7591 registration with metadata md under a new
// developer's initial access token.
func (e *testEnv) register7591(md map[string]any) response {
	e.t.Helper()
	ctx := context.Background()
	dev, err := e.st.CreateDeveloper(ctx, store.NewID()[:8]+"@dev.example", "Dev", "a developer pw")
	if err != nil {
		e.t.Fatal(err)
	}
	iat, _, err := e.st.CreateInitialAccessToken(ctx, dev.ID, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.json7591(http.MethodPost, e.url+"/oauth/register", iat, md)
}

func (e *testEnv) json7591(method, u, token string, md map[string]any) response {
	e.t.Helper()
	b, _ := json.Marshal(md)
	req, _ := http.NewRequest(method, u, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return e.send(req)
}

// TestWebhookTargets: an endpoint must be https on a public address: a
// URL naming or resolving to a loopback, private, link-local or metadata
// address is refused at registration (RFC 7591 here; the CLI and the
// portal share the check) with nothing written, and an endpoint that got
// past it (a name that resolves elsewhere later) is refused at dial time,
// by the address actually dialled.
func TestWebhookTargets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Webhooks.PollInterval = 20 * time.Millisecond })
	md := func(hook string) map[string]any {
		return map[string]any{"client_name": "Hooks", "redirect_uris": []string{"https://hooks.example/cb"},
			"scope": "read:products", "webhook_url": hook}
	}
	before := map[string]bool{}
	for _, k := range e.rdb.Keys(context.Background(), "app:*").Val() {
		before[k] = true
	}
	for _, hook := range []string{"https://127.0.0.1/hook", "https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data",
		"https://[::1]/hook", "https://localhost:8443/hook", "http://hooks.example/hook", "https://user:pw@hooks.example/hook",
		"https://hooks.example/hook#frag", "hooks.example/hook", "https://" + strings.Repeat("a", 2100) + ".example/"} {
		r := e.register7591(md(hook))
		if r.status != http.StatusBadRequest || r.json["error"] != "invalid_client_metadata" ||
			!strings.Contains(r.json["error_description"].(string), "webhook_url") {
			t.Errorf("%.60s: %d %s", hook, r.status, r.raw)
		}
	}
	for _, k := range e.rdb.Keys(context.Background(), "app:*").Val() {
		if !before[k] {
			t.Fatalf("a refused registration wrote %s", k)
		}
	}
	// An RFC 7592 update is held to the same rules.
	reg := e.register7591(md(""))
	if reg.status != http.StatusCreated {
		t.Fatalf("register: %s", reg.raw)
	}
	put := md("https://169.254.169.254/latest/meta-data")
	put["client_id"] = reg.json["client_id"]
	if r := e.json7591(http.MethodPut, reg.json["registration_client_uri"].(string), reg.json["registration_access_token"].(string), put); r.status != http.StatusBadRequest ||
		e.getApp(reg.json["client_id"].(string)).Webhook.Configured() {
		t.Fatalf("a metadata webhook_url in an update: %d %s", r.status, r.raw)
	}

	// Past the check (written straight to the store), refused at dial.
	var hit atomic.Int64
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hit.Add(1) }))
	t.Cleanup(tls.Close)
	_, port, _ := strings.Cut(tls.Listener.Addr().String(), ":")
	ctx := context.Background()
	for _, hook := range []string{"https://localhost:" + port + "/hook", "https://127.0.0.1:" + port + "/hook",
		"https://[::1]:" + port + "/hook", "https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data"} {
		e.setWebhookRaw(e.app.ClientID, hook)
		ping, err := e.st.SendPing(ctx, e.app.ClientID, store.DeliveryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var d *store.Delivery
		eventually(t, "the first attempt to "+hook, func() bool {
			d, err = e.st.GetDelivery(ctx, e.app.ClientID, ping.ID)
			return err == nil && d.Attempts > 0
		})
		if d.Log[0].Status != 0 || !strings.Contains(d.Log[0].Error, "is not a public address") {
			t.Errorf("an attempt to %s: %+v", hook, d.Log[0])
		}
	}
	if hit.Load() != 0 {
		t.Fatalf("the loopback receiver was reached %d times", hit.Load())
	}
}

// setWebhookRaw sets an endpoint without the registration's address
// check, as a name that resolved to a public address then would be.
func (e *testEnv) setWebhookRaw(clientID, url string) {
	e.t.Helper()
	if _, _, err := e.st.SetWebhook(context.Background(), clientID, url, false, store.ActorCLI); err != nil {
		e.t.Fatal(err)
	}
}

// TestWebhookRegistrationMetadata: webhook_url in RFC 7591/7592
// metadata sets the endpoint (the answer that made it carries the
// webhook_secret, once), a PUT changes it (same secret) or, without it,
// removes it.
func TestWebhookRegistrationMetadata(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	rcv := newReceiver(t)
	md := map[string]any{"client_name": "Hooks", "redirect_uris": []string{"https://hooks.example/cb"},
		"scope": "read:products", "webhook_url": rcv.url()}
	r := e.register7591(md)
	secret, _ := r.json["webhook_secret"].(string)
	if r.status != http.StatusCreated || r.json["webhook_url"] != rcv.url() || !strings.HasPrefix(secret, store.WebhookSecretPrefix) {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	id, uri, rat := r.json["client_id"].(string), r.json["registration_client_uri"].(string), r.json["registration_access_token"].(string)
	rcv.setSecrets(secret)
	if _, err := e.st.SendPing(context.Background(), id, store.DeliveryOptions{}); err != nil {
		t.Fatal(err)
	}
	rcv.wait(store.WebhookPing, nil)

	got := e.json7591(http.MethodGet, uri, rat, nil)
	if got.json["webhook_url"] != rcv.url() || got.json["webhook_secret"] != nil {
		t.Fatalf("read: %s", got.raw)
	}
	md["client_id"] = id
	md["webhook_url"] = rcv.url() + "/v2"
	put := e.json7591(http.MethodPut, uri, rat, md)
	if put.status != http.StatusOK || put.json["webhook_url"] != rcv.url()+"/v2" || put.json["webhook_secret"] != nil {
		t.Fatalf("update: %d %s", put.status, put.raw)
	}
	delete(md, "webhook_url")
	if put := e.json7591(http.MethodPut, uri, rat, md); put.status != http.StatusOK || put.json["webhook_url"] != nil || e.getApp(id).Webhook.Configured() {
		t.Fatalf("an update without webhook_url: %d %s", put.status, put.raw)
	}
}

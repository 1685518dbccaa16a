package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestAdminAPIDeliveries: GET apps/{id}/deliveries lists an app's
// deliveries newest first as {"deliveries", "next_cursor", "total"}, paged
// by cursor and limit; POST …/deliveries/{delivery_id}/resend answers 202
// and the receiver gets the delivery again with the same webhook-id,
// verified with the Standard Webhooks library; GET apps/{id} carries the
// webhook. Every refusal (no key, a bad limit or cursor, an unknown app
// or delivery, an endpoint that delivers nothing) writes nothing.
func TestAdminAPIDeliveries(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	ctx := context.Background()
	key, _, err := e.st.CreateAdminKey(ctx, "ops", 0)
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t)
	id := e.app.ClientID
	r.setSecrets(e.setWebhook(id, r.url()))
	var pings []string
	for range 3 {
		p, err := e.st.SendPing(ctx, id, store.DeliveryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pings = append(pings, p.ID)
		e.waitDelivery(id, p.ID, store.DeliveryDelivered, 1)
	}

	res := e.adminAPI(http.MethodGet, "/apps/"+id+"/deliveries", key)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") ||
		res.json["total"] != 3.0 || res.json["next_cursor"] != nil {
		t.Fatalf("deliveries: %d %s", res.status, res.raw)
	}
	var body struct {
		Deliveries []struct {
			ID, Type, Status string
			Attempts         int
			CreatedAt        *string `json:"created_at"`
			NextAttemptAt    *string `json:"next_attempt_at"`
			DeliveredAt      *string `json:"delivered_at"`
			Log              []struct {
				Status    int   `json:"status"`
				LatencyMS int64 `json:"latency_ms"`
			}
			Payload map[string]any
		}
	}
	if err := json.Unmarshal([]byte(res.raw), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Deliveries) != 3 {
		t.Fatalf("%d deliveries", len(body.Deliveries))
	}
	for i, d := range body.Deliveries {
		if d.ID != pings[2-i] || d.Type != store.WebhookPing || d.Status != "delivered" || d.Attempts != 1 || d.CreatedAt == nil ||
			d.DeliveredAt == nil || d.NextAttemptAt != nil || len(d.Log) != 1 || d.Log[0].Status != 204 || d.Payload["type"] != store.WebhookPing {
			t.Fatalf("delivery %d: %+v", i, d)
		}
	}
	// Paged by two.
	res = e.adminAPI(http.MethodGet, "/apps/"+id+"/deliveries?limit=2", key)
	next, _ := res.json["next_cursor"].(string)
	if res.status != http.StatusOK || len(res.json["deliveries"].([]any)) != 2 || next == "" {
		t.Fatalf("the first page of two: %d %s", res.status, res.raw)
	}
	res = e.adminAPI(http.MethodGet, "/apps/"+id+"/deliveries?limit=2&cursor="+next, key)
	if rest := res.json["deliveries"].([]any); res.status != http.StatusOK || len(rest) != 1 || rest[0].(map[string]any)["id"] != pings[0] ||
		res.json["next_cursor"] != nil {
		t.Fatalf("the second page: %d %s", res.status, res.raw)
	}
	// The app carries its webhook.
	res = e.adminAPI(http.MethodGet, "/apps/"+id, key)
	if w, _ := res.json["webhook"].(map[string]any); res.status != http.StatusOK || w["url"] != r.url() || w["state"] != "active" {
		t.Fatalf("the app's webhook: %d %s", res.status, res.raw)
	}

	// Resent: 202 with the delivery, then a second attempt.
	res = e.adminAPI(http.MethodPost, "/apps/"+id+"/deliveries/"+pings[1]+"/resend", key)
	if res.status != http.StatusAccepted || res.json["id"] != pings[1] || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		t.Fatalf("resend: %d %s", res.status, res.raw)
	}
	e.waitDelivery(id, pings[1], store.DeliveryDelivered, 2)
	n := 0
	for _, d := range r.all() {
		if d.id == pings[1] {
			n++
		}
	}
	if n != 2 || r.refused != 0 {
		t.Fatalf("the receiver got the resent ping %d times (%d refused)", n, r.refused)
	}

	other, _ := e.newApp("Otra", appRedirect)
	before := redistest.Snapshot(t, e.rdb)
	for _, c := range []struct {
		name, method, path, key string
		status                  int
	}{
		{"list without a key", http.MethodGet, "/apps/" + id + "/deliveries", "", http.StatusUnauthorized},
		{"resend without a key", http.MethodPost, "/apps/" + id + "/deliveries/" + pings[0] + "/resend", "", http.StatusUnauthorized},
		{"resend with a wrong key", http.MethodPost, "/apps/" + id + "/deliveries/" + pings[0] + "/resend", "ek-" + store.NewSecret(), http.StatusUnauthorized},
		{"limit 0", http.MethodGet, "/apps/" + id + "/deliveries?limit=0", key, http.StatusBadRequest},
		{"limit 201", http.MethodGet, "/apps/" + id + "/deliveries?limit=201", key, http.StatusBadRequest},
		{"an offset", http.MethodGet, "/apps/" + id + "/deliveries?offset=2", key, http.StatusBadRequest},
		{"a bad cursor", http.MethodGet, "/apps/" + id + "/deliveries?cursor=nope", key, http.StatusBadRequest},
		{"an unknown app's list", http.MethodGet, "/apps/nope/deliveries", key, http.StatusNotFound},
		{"an unknown app's resend", http.MethodPost, "/apps/nope/deliveries/" + pings[0] + "/resend", key, http.StatusNotFound},
		{"an unknown delivery", http.MethodPost, "/apps/" + id + "/deliveries/evt_nope-1/resend", key, http.StatusNotFound},
		{"a malformed delivery id", http.MethodPost, "/apps/" + id + "/deliveries/bogus/resend", key, http.StatusNotFound},
		{"another app's delivery", http.MethodPost, "/apps/" + other.ClientID + "/deliveries/" + pings[0] + "/resend", key, http.StatusNotFound},
		{"resend by GET", http.MethodGet, "/apps/" + id + "/deliveries/" + pings[0] + "/resend", key, http.StatusMethodNotAllowed},
	} {
		res := e.adminAPI(c.method, c.path, c.key)
		if res.status != c.status || res.json["error"] == nil || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: want %d with an error, got %d %s", c.name, c.status, res.status, res.raw)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	// An endpoint that delivers nothing: 409.
	if err := e.st.RemoveWebhook(ctx, id, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	before = redistest.Snapshot(t, e.rdb)
	res = e.adminAPI(http.MethodPost, "/apps/"+id+"/deliveries/"+pings[0]+"/resend", key)
	if res.status != http.StatusConflict || res.json["error"] != "invalid_request" {
		t.Fatalf("a resend without an endpoint: %d %s", res.status, res.raw)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	if res := e.adminAPI(http.MethodGet, "/apps/"+id, key); res.json["webhook"] != nil {
		t.Fatalf("a removed webhook in the app: %s", res.raw)
	}
	// The deliveries stay listed after the endpoint is gone.
	if res := e.adminAPI(http.MethodGet, "/apps/"+id+"/deliveries", key); res.status != http.StatusOK || res.json["total"] != 3.0 {
		t.Fatalf("deliveries after the removal: %d %s", res.status, res.raw)
	}
}

package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// webhookKey is the tests' encryption.key.
var webhookKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// TestWebhookKillDelivers: enlace is killed with SIGKILL while it is
// delivering a revocation's webhook, and another revocation happens while
// no enlace runs; once enlace runs again, both are delivered, the first
// with the webhook-id of its interrupted attempt, verified with the
// Standard Webhooks library. The endpoint is set with `enlace app update
// --webhook-url`, whose --json answer carries the signing secret.
func TestWebhookKillDelivers(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	rs := redistest.Start(t)
	env := []string{"ENLACE_ENCRYPTION_KEY=" + webhookKey, "ENLACE_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true",
		"ENLACE_WEBHOOKS_TIMEOUT=1s", "ENLACE_WEBHOOKS_TAKEOVER_AFTER=2s", "ENLACE_WEBHOOKS_POLL_INTERVAL=50ms",
		"ENLACE_WEBHOOKS_RETRY_SCHEDULE=100ms,200ms"}
	environ := append([]string{"ENLACE_REDIS_ADDR=" + rs.Addr}, env...)
	app := opsSetupEnv(t, environ)

	// The receiver holds the first attempt of each revocation until the
	// test lets it go (by then its instance is dead).
	var (
		mu       sync.Mutex
		secret   string
		arrivals = map[string]int{}
		types    = map[string]string{}
	)
	hold, holding := make(chan struct{}), make(chan string, 4)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			mu.Unlock()
			t.Errorf("a delivery does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		id := r.Header.Get("webhook-id")
		arrivals[id]++
		reason, _ := ev.Data["reason"].(string)
		types[id] = strings.TrimSpace(ev.Type + " " + reason)
		first := arrivals[id] == 1 && ev.Type == store.WebhookConnectionRevoked
		mu.Unlock()
		if first {
			holding <- id
			<-hold
			return // its instance is gone: nobody reads this answer
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	t.Cleanup(func() {
		select {
		case <-hold:
		default:
			close(hold)
		}
	})

	r := runCmd(t, environ, "", "app", "update", app.ClientID, "--webhook-url", rcv.URL+"/hooks", "--json")
	var answer struct {
		WebhookURL    string `json:"webhook_url"`
		WebhookSecret string `json:"webhook_secret"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &answer) != nil || !strings.HasPrefix(answer.WebhookSecret, store.WebhookSecretPrefix) ||
		answer.WebhookURL != rcv.URL+"/hooks" {
		t.Fatalf("app update --webhook-url: %d %s %s", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	secret = answer.WebhookSecret
	mu.Unlock()

	ctx := context.Background()
	key, _ := base64.StdEncoding.DecodeString(webhookKey)
	st := store.New(rs.Client(t), store.Options{EncryptionKey: key})
	m, err := st.CreateMerchant(ctx, "kill@tienda.cl", "Tienda", "una clave larga")
	if err != nil {
		t.Fatal(err)
	}
	connect := func() string {
		c, _, err := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: m.ID, RedirectURI: opsRedirect,
			Scopes: []string{"read:products"}})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	first, second := connect(), connect()

	p := opsStart(t, bin, rs.Addr, env...)
	if err := st.RevokeConnection(ctx, first, store.ActorMerchant(m.ID)); err != nil {
		t.Fatal(err)
	}
	var held string
	select {
	case held = <-holding:
	case <-time.After(15 * time.Second):
		t.Fatal("the revocation's delivery never came")
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	close(hold)
	// While no enlace runs.
	if err := st.RevokeConnection(ctx, second, store.ActorAdmin("ops")); err != nil {
		t.Fatal(err)
	}

	opsStart(t, bin, rs.Addr, env...)
	opsPoll(t, 20*time.Second, "both revocations delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for id, typ := range types {
			if strings.HasPrefix(typ, store.WebhookConnectionRevoked) && (id != held || arrivals[id] >= 2) {
				n++
			}
		}
		return n == 2
	})
	// The receiver has answered; the instance records the answer just
	// after.
	opsPoll(t, 10*time.Second, "the interrupted delivery recorded delivered", func() bool {
		d, err := st.GetDelivery(ctx, app.ClientID, held)
		return err == nil && d.Status == store.DeliveryDelivered
	})
	mu.Lock()
	defer mu.Unlock()
	if types[held] != "connection.revoked merchant" {
		t.Fatalf("the interrupted delivery was %q", types[held])
	}
	reasons := []string{}
	for _, typ := range types {
		reasons = append(reasons, typ)
	}
	t.Logf("delivered after SIGKILL: %v (the interrupted one %d times)", reasons, arrivals[held])
}

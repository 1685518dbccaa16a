package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/server/safefetch"
	"github.com/enlace-oauth/enlace/server/webhooks"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// BenchmarkDeliver: events per second one deliverer (16 attempts in
// flight) takes from the outbox to a receiver on loopback that answers
// 204 at once, each event signed, its delivery queued, claimed and
// recorded. The events are written before the timer starts.
func BenchmarkDeliver(b *testing.B) {
	rdb := redistest.Start(b).Client(b)
	ctx := context.Background()
	st := store.New(rdb, store.Options{EncryptionKey: []byte("0123456789abcdef0123456789abcdef")})
	scopes := []string{"read:products"}
	app, _, err := st.CreateApp(ctx, store.AppSpec{Name: "Bench", RedirectURIs: []string{"https://app.example.com/cb"},
		Scopes: scopes}, scopes)
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(rcv.Close)
	if _, _, err := st.SetWebhook(ctx, app.ClientID, rcv.URL, true, store.ActorCLI); err != nil {
		b.Fatal(err)
	}
	m, err := st.CreateMerchant(ctx, "bench@example.com", "Bench", "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, _, err := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: m.ID,
			RedirectURI: "https://app.example.com/cb", Scopes: scopes}); err != nil {
			b.Fatal(err)
		}
	}
	d := webhooks.New(st, webhooks.Options{Timeout: 5 * time.Second, Schedule: []time.Duration{time.Second},
		DisableAfter: time.Hour, Concurrency: 16, PollInterval: 5 * time.Millisecond, TakeoverAfter: time.Minute,
		Retention: time.Hour, Fetch: safefetch.Options{AllowPrivate: true}})
	runCtx, cancel := context.WithCancel(ctx)
	b.ResetTimer()
	start := time.Now()
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

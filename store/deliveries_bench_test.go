package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// BenchmarkDeliveriesPage reads one page (50) of an app's deliveries, the
// first and one deep in the list, at several list sizes: a page is a
// range from the cursor, so its cost should not grow with the list.
func BenchmarkDeliveriesPage(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("deliveries=%d", n), func(b *testing.B) {
			rdb := redistest.Start(b).Client(b)
			ctx := context.Background()
			st := store.New(rdb, store.Options{EncryptionKey: testKey})
			app, _, err := st.CreateApp(ctx, store.AppSpec{Name: "Bench", RedirectURIs: []string{"https://app.example.com/cb"},
				Scopes: catalogue}, catalogue)
			if err != nil {
				b.Fatal(err)
			}
			m, err := st.CreateMerchant(ctx, "bench@example.com", "Bench", "correct horse")
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := st.SetWebhook(ctx, app.ClientID, "https://hooks.example/h", false, store.ActorCLI); err != nil {
				b.Fatal(err)
			}
			if err := st.JoinOutbox(ctx); err != nil {
				b.Fatal(err)
			}
			g := store.Grant{ClientID: app.ClientID, MerchantID: m.ID, RedirectURI: "https://app.example.com/cb", Scopes: catalogue}
			for i := 0; i < n; i++ {
				if _, _, err := st.Approve(ctx, g); err != nil {
					b.Fatal(err)
				}
				if i%1000 == 999 || i == n-1 {
					for {
						tr, err := st.TransferOutbox(ctx, "bench", store.AllShards, false, store.DeliveryOptions{})
						if err != nil {
							b.Fatal(err)
						}
						if tr.Queued == 0 {
							break
						}
					}
				}
			}
			// A cursor deep in the list: the last entry of page n/100.
			deep := ""
			for range n / 100 / 50 {
				p, err := st.Deliveries(ctx, app.ClientID, deep, 50)
				if err != nil {
					b.Fatal(err)
				}
				deep = p.Next
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				cursor := ""
				if i%2 == 1 {
					cursor = deep
				}
				p, err := st.Deliveries(ctx, app.ClientID, cursor, 50)
				if err != nil || len(p.Deliveries) != 50 || p.Total != int64(n) {
					b.Fatalf("page: %v %d %d", err, len(p.Deliveries), p.Total)
				}
			}
		})
	}
}

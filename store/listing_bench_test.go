package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// The listings grow with the data, so they are measured at several sizes:
// a page must cost the same at every size. (enlace-bench scale measures
// the same through the admin API up to a million connections.)

// listingFixture is a store with apps connections (one app holds half of
// them, the rest are spread over 49 more), filled through Approve.
type listingFixture struct {
	st   *store.Store
	apps []*store.App
	big  *store.App
}

var listingSizes = []int{1000, 10000, 100000}

func newListingFixture(b *testing.B, size int) *listingFixture {
	b.Helper()
	ctx := context.Background()
	st := store.New(redistest.Start(b).Client(b), store.Options{})
	f := &listingFixture{st: st}
	for i := range 50 {
		a, _, err := st.CreateApp(ctx, store.AppSpec{Name: fmt.Sprintf("App %d", i),
			RedirectURIs: []string{"https://app.example.com/cb"}, Scopes: catalogue}, catalogue)
		if err != nil {
			b.Fatal(err)
		}
		f.apps = append(f.apps, a)
	}
	f.big = f.apps[0]
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < size; i += 16 {
				app := f.big
				if i%2 == 1 {
					app = f.apps[1+i%49]
				}
				_, _, err := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: fmt.Sprintf("m-%d", i/4),
					RedirectURI: "https://app.example.com/cb", Scopes: []string{"read:products"}})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return f
}

func BenchmarkListings(b *testing.B) {
	ctx := context.Background()
	for _, size := range listingSizes {
		f := newListingFixture(b, size)
		deep := func(filter store.ConnectionFilter) string {
			p := store.Page{}
			for range 5 { // 250 in: the last page of the big app at the smallest size
				page, err := f.st.ListConnections(ctx, filter, p)
				if err != nil || page.Next == "" {
					b.Fatalf("walking to a deep page: %v", err)
				}
				p.Cursor = page.Next
			}
			return p.Cursor
		}
		for _, c := range []struct {
			name   string
			filter store.ConnectionFilter
			page   store.Page
		}{
			{"all/first", store.ConnectionFilter{}, store.Page{}},
			{"all/deep", store.ConnectionFilter{}, store.Page{Cursor: deep(store.ConnectionFilter{})}},
			{"all/offset1000", store.ConnectionFilter{}, store.Page{Offset: 1000}},
			{"app/first", store.ConnectionFilter{ClientID: f.big.ClientID}, store.Page{}},
			{"app/deep", store.ConnectionFilter{ClientID: f.big.ClientID}, store.Page{Cursor: deep(store.ConnectionFilter{ClientID: f.big.ClientID})}},
			{"merchant", store.ConnectionFilter{MerchantID: "m-0"}, store.Page{}},
		} {
			b.Run(fmt.Sprintf("%s/connections=%d", c.name, size), func(b *testing.B) {
				for b.Loop() {
					if _, err := f.st.ListConnections(ctx, c.filter, c.page); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("apps-with-counts/connections=%d", size), func(b *testing.B) {
			for b.Loop() {
				page, err := f.st.ListApps(ctx, store.Page{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.st.CountConnections(ctx, page.Apps); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("revoke-all/connections=%d", size), func(b *testing.B) {
			for b.Loop() {
				if _, err := f.st.RevokeAllConnections(ctx, f.big.ClientID, "admin:bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

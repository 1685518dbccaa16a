package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestSignIn: a first-party sign-in is a connection like any other, live
// at once, whose access tokens, first and refreshed, keep the sign-in's
// short lifetime while the refresh token keeps the usual one-use rules.
func TestSignIn(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		const short = 15 * time.Minute
		iss, err := f.st.SignIn(ctx, store.SignInGrant{ClientID: f.app.ClientID, MerchantID: f.merchant.ID,
			Scopes: []string{"read:products", "read:products", "read:checkouts"}, AccessLifetime: short})
		if err != nil {
			t.Fatal(err)
		}
		if got := iss.AccessExpiresAt.Sub(iss.IssuedAt); got != short {
			t.Errorf("first access token lives %v, want %v", got, short)
		}
		if got := iss.RefreshExpiresAt.Sub(iss.IssuedAt); got != store.DefaultLifetimes.Refresh {
			t.Errorf("refresh token lives %v, want %v", got, store.DefaultLifetimes.Refresh)
		}
		if len(iss.Scopes) != 2 || iss.MerchantID != f.merchant.ID {
			t.Errorf("issued %+v", iss)
		}
		info, err := f.st.LookupAccess(ctx, iss.AccessToken)
		if err != nil || info.ConnectionID != iss.ConnectionID || !info.ExpiresAt.Equal(iss.AccessExpiresAt) {
			t.Fatalf("lookup: %+v %v", info, err)
		}
		page, err := f.st.ListConnections(ctx, store.ConnectionFilter{MerchantID: f.merchant.ID}, store.Page{})
		if err != nil || len(page.Connections) != 1 || page.Connections[0].ID != iss.ConnectionID || page.Connections[0].Status != store.StatusActive {
			t.Fatalf("listed: %+v %v", page, err)
		}

		f.clock.Add(10 * time.Minute)
		next, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID})
		if err != nil {
			t.Fatal(err)
		}
		if got := next.AccessExpiresAt.Sub(next.IssuedAt); got != short {
			t.Errorf("refreshed access token lives %v, want %v", got, short)
		}
		// A retry gets the same answer, the short expiry included.
		again, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID})
		if err != nil || again.AccessToken != next.AccessToken || !again.AccessExpiresAt.Equal(next.AccessExpiresAt) {
			t.Fatalf("retry: %+v %v, want %+v", again, err, next)
		}
		f.clock.Add(short + time.Millisecond)
		if _, err := f.st.LookupAccess(ctx, next.AccessToken); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an access token past its short lifetime: %v", err)
		}

		// An authorization-code connection of the same app keeps the
		// default lifetime on refresh.
		_, code := f.approve(t, "")
		first := f.exchange(t, code)
		second, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: first.RefreshToken, ClientID: f.app.ClientID})
		if err != nil || second.AccessExpiresAt.Sub(second.IssuedAt) != store.DefaultLifetimes.Access {
			t.Fatalf("a code connection's refresh: %+v %v", second, err)
		}

		if err := f.st.RevokeConnection(ctx, iss.ConnectionID, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: next.RefreshToken, ClientID: f.app.ClientID}); err == nil {
			t.Fatal("a revoked sign-in refreshed")
		}
		if _, err := f.st.SignIn(ctx, store.SignInGrant{ClientID: f.app.ClientID, MerchantID: f.merchant.ID}); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a sign-in without scopes: %v", err)
		}
	})
}

// TestRegisterMerchant: a sign-up keeps the person's names, can log in at
// once, and a taken email or a missing name writes nothing.
func TestRegisterMerchant(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		m, err := f.st.RegisterMerchant(ctx, store.Registration{FirstName: " Lucía ", LastName: "Pérez",
			Email: "Lucia@Tienda.cl", Password: "una clave larga"})
		if err != nil {
			t.Fatal(err)
		}
		if m.FirstName != "Lucía" || m.LastName != "Pérez" || m.Name != "Lucía Pérez" || m.Email != "lucia@tienda.cl" {
			t.Errorf("registered %+v", m)
		}
		got, err := f.st.AuthenticateMerchant(ctx, "lucia@tienda.cl", "una clave larga")
		if err != nil || got.ID != m.ID || got.FirstName != "Lucía" || got.LastName != "Pérez" {
			t.Fatalf("log in: %+v %v", got, err)
		}
		before := redistest.Snapshot(t, rdb)
		for _, r := range []store.Registration{
			{FirstName: "Otra", LastName: "Persona", Email: "LUCIA@tienda.cl", Password: "otra clave larga"},
			{FirstName: "", LastName: "Persona", Email: "nueva@tienda.cl", Password: "otra clave larga"},
			{FirstName: "Otra", LastName: " ", Email: "nueva@tienda.cl", Password: "otra clave larga"},
			{FirstName: "Otra", LastName: "Persona", Email: "no es un correo", Password: "otra clave larga"},
		} {
			if _, err := f.st.RegisterMerchant(ctx, r); !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%+v: %v", r, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
	})
}

// TestFirstPartyApps: a first-party app may do without redirect URIs, and
// cannot be public (it takes passwords).
func TestFirstPartyApps(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		app, secret, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Tienda web", Scopes: []string{"read:products"},
			FirstParty: true}, catalogue)
		if err != nil || secret == "" || !app.FirstParty {
			t.Fatalf("create: %+v %v", app, err)
		}
		got, err := f.st.GetApp(ctx, app.ClientID)
		if err != nil || !got.FirstParty || len(got.RedirectURIs) != 0 {
			t.Fatalf("stored: %+v %v", got, err)
		}
		if f.app.FirstParty {
			t.Fatal("an ordinary app came out first-party")
		}
		before := redistest.Snapshot(t, rdb)
		if _, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Móvil", Scopes: []string{"read:products"},
			FirstParty: true, Public: true}, catalogue); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a public first-party app: %v", err)
		}
		if _, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Otra", Scopes: []string{"read:products"}}, catalogue); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a third-party app without redirect URIs: %v", err)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
	})
}

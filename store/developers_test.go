package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestDevelopers: developer accounts, invitations and RFC 7591 initial
// access tokens, with bad input refused and nothing written.
func TestDevelopers(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		d, err := f.st.CreateDeveloper(ctx, "Dev@Example.com", "Dev Studio", "a developer pw")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.st.AuthenticateDeveloper(ctx, "dev@example.com", "a developer pw"); err != nil || got.ID != d.ID {
			t.Fatalf("developer login: %+v %v", got, err)
		}
		// The account spaces do not mix: a developer is no merchant.
		if _, err := f.st.AuthenticateMerchant(ctx, "dev@example.com", "a developer pw"); !errors.Is(err, store.ErrBadCredentials) {
			t.Fatalf("a developer logs in as a merchant: %v", err)
		}
		if _, err := f.st.CreateDeveloper(ctx, "ana@example.com", "Ana dev", "a developer pw"); err != nil {
			t.Fatalf("a merchant's email as a developer's: %v", err)
		}

		before := redistest.Snapshot(t, rdb)
		for name, err := range map[string]error{
			"duplicate": func() error {
				_, err := f.st.CreateDeveloper(ctx, "DEV@example.com", "X", "a developer pw")
				return err
			}(),
			"short pw":  func() error { _, err := f.st.CreateDeveloper(ctx, "x@example.com", "X", "short"); return err }(),
			"no name":   func() error { _, err := f.st.CreateDeveloper(ctx, "x@example.com", " ", "a developer pw"); return err }(),
			"bad email": func() error { _, err := f.st.InviteDeveloper(ctx, "nope"); return err }(),
			"bad ttl": func() error {
				_, _, err := f.st.CreateInitialAccessToken(ctx, d.ID, -time.Hour)
				return err
			}(),
			"unknown developer": func() error {
				_, _, err := f.st.CreateInitialAccessToken(ctx, "no-such-developer", 0)
				return err
			}(),
		} {
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		inv, err := f.st.InviteDeveloper(ctx, "New@Example.com")
		if err != nil {
			t.Fatal(err)
		}
		if email, err := f.st.InvitedEmail(ctx, inv); err != nil || email != "new@example.com" {
			t.Fatalf("invited email: %q %v", email, err)
		}
		if _, err := f.st.AcceptInvitation(ctx, inv, "New", "short"); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a short password on an invitation: %v", err)
		}
		nd, err := f.st.AcceptInvitation(ctx, inv, "New Dev", "a developer pw")
		if err != nil || nd.Email != "new@example.com" {
			t.Fatalf("accept invitation: %+v %v", nd, err)
		}
		if _, err := f.st.AcceptInvitation(ctx, inv, "Again", "a developer pw"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an invitation used twice: %v", err)
		}

		tok, ia, err := f.st.CreateInitialAccessToken(ctx, d.ID, time.Hour)
		if err != nil || !strings.HasPrefix(tok, "iat-") || ia.DeveloperID != d.ID {
			t.Fatalf("initial access token: %q %+v %v", tok, ia, err)
		}
		if got, err := f.st.InitialAccessToken(ctx, tok); err != nil || got.DeveloperID != d.ID {
			t.Fatalf("read initial access token: %+v %v", got, err)
		}
		for _, bad := range []string{tok + "x", "iat-", strings.TrimPrefix(tok, "iat-")} {
			if _, err := f.st.InitialAccessToken(ctx, bad); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("token %q: %v", bad, err)
			}
		}
		f.clock.Add(time.Hour)
		if _, err := f.st.InitialAccessToken(ctx, tok); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an expired initial access token: %v", err)
		}
		for k, v := range redistest.Snapshot(t, rdb) {
			if strings.Contains(k+v, tok) || strings.Contains(k+v, inv) || strings.Contains(k+v, "a developer pw") {
				t.Fatalf("redis key %s holds a plaintext credential", k)
			}
		}
	})
}

// TestAppLifecycle: a developer's app starts in development, where only
// its test merchants may connect it; it is submitted, sent back with a
// reason, submitted again and published. Steps from the wrong status are
// refused and change nothing.
func TestAppLifecycle(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		d, err := f.st.CreateDeveloper(ctx, "dev@example.com", "Dev", "a developer pw")
		if err != nil {
			t.Fatal(err)
		}
		app, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Dev app", RedirectURIs: []string{"https://dev.example.com/cb"},
			Scopes: catalogue, Owner: d.ID, Profile: store.Profile{Publisher: "Dev Studio", Homepage: "https://dev.example.com"}}, catalogue)
		if err != nil {
			t.Fatal(err)
		}
		if app.Status != store.StatusDevelopment || app.Verified() || app.MayConnect(f.merchant.ID) {
			t.Fatalf("a new developer app: %+v", app)
		}
		if f.app.Status != store.StatusPublished || !f.app.MayConnect(f.merchant.ID) {
			t.Fatalf("an operator's app: %+v", f.app)
		}
		page, err := f.st.DeveloperApps(ctx, d.ID, store.Page{})
		if err != nil || len(page.Apps) != 1 || page.Apps[0].ClientID != app.ClientID || page.Apps[0].Profile.Publisher != "Dev Studio" {
			t.Fatalf("the developer's apps: %+v %v", page, err)
		}
		app, err = f.st.UpdateApp(ctx, app.ClientID, store.AppUpdate{AddTestMerchants: []string{f.merchant.ID}}, catalogue, store.ActorCLI)
		if err != nil || !app.MayConnect(f.merchant.ID) || app.MayConnect("someone-else") {
			t.Fatalf("with a test merchant: %+v %v", app, err)
		}

		before := redistest.Snapshot(t, rdb)
		if err := f.st.ReviewApp(ctx, app.ClientID, true, "", store.ActorCLI); !errors.Is(err, store.ErrWrongStatus) {
			t.Fatalf("approving an app not in review: %v", err)
		}
		if err := f.st.SubmitApp(ctx, "no-such-app", store.ActorCLI); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("submitting an unknown app: %v", err)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		if err := f.st.SubmitApp(ctx, app.ClientID, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		if err := f.st.SubmitApp(ctx, app.ClientID, store.ActorCLI); !errors.Is(err, store.ErrWrongStatus) {
			t.Fatalf("submitting twice: %v", err)
		}
		if err := f.st.ReviewApp(ctx, app.ClientID, false, " ", store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("a rejection without a reason: %v", err)
		}
		if err := f.st.ReviewApp(ctx, app.ClientID, false, "the privacy policy link is broken", store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		got, _ := f.st.GetApp(ctx, app.ClientID)
		if got.Status != store.StatusDevelopment || got.ReviewNote != "the privacy policy link is broken" {
			t.Fatalf("after a rejection: %+v", got)
		}
		if err := f.st.SubmitApp(ctx, app.ClientID, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		if err := f.st.ReviewApp(ctx, app.ClientID, true, "", store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		got, _ = f.st.GetApp(ctx, app.ClientID)
		if got.Status != store.StatusPublished || !got.Verified() || !got.MayConnect("anyone") || got.ReviewNote != "" {
			t.Fatalf("after approval: %+v", got)
		}
		events, _, err := f.st.ListAudit(ctx, store.AuditFilter{ClientID: app.ClientID}, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		var details []string
		for _, e := range events {
			details = append(details, e.Detail)
		}
		for _, want := range []string{"submitted for review", "review: rejected: the privacy policy link is broken", "review: approved"} {
			if !strings.Contains(strings.Join(details, "\n"), want) {
				t.Errorf("no audit event %q in %q", want, details)
			}
		}
		if err := f.st.SetAppDisabled(ctx, app.ClientID, true, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.st.GetApp(ctx, app.ClientID); got.MayConnect("anyone") {
			t.Fatal("a suspended app may be connected")
		}
	})
}

// TestAppEditingNeverWidens: redirect URIs are added and removed without
// a new client id, the profile is checked, and a scope the app gives up
// leaves a connection's grant at its next refresh.
func TestAppEditingNeverWidens(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		before := redistest.Snapshot(t, rdb)
		for name, u := range map[string]store.AppUpdate{
			"http homepage":        {Homepage: ptr("http://app.example.com")},
			"homepage with a user": {Homepage: ptr("https://u:p@app.example.com")},
			"relative terms":       {Terms: ptr("/terms")},
			"bad support email":    {SupportEmail: ptr("nope")},
			"long description":     {Description: ptr(strings.Repeat("x", 1001))},
			"remove unknown URI":   {RemoveRedirectURIs: []string{"https://other.example.com/cb"}},
			"remove the last URI":  {RemoveRedirectURIs: []string{"https://app.example.com/cb"}},
			"add a bad URI":        {AddRedirectURIs: []string{"http://app.example.com/cb2"}},
			"too many testers":     {TestMerchants: make([]string, 101)},
		} {
			if name == "too many testers" {
				for i := range u.TestMerchants {
					u.TestMerchants[i] = strings.Repeat("m", i+1)
				}
			}
			if _, err := f.st.UpdateApp(ctx, f.app.ClientID, u, catalogue, store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s: %v", name, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		conn, code := f.approve(t, "", "read:products", "read:checkouts")
		iss := f.exchange(t, code)
		app, err := f.st.UpdateApp(ctx, f.app.ClientID, store.AppUpdate{
			AddRedirectURIs: []string{"https://app.example.com/v2/cb"}, Scopes: []string{"read:products", "write:products"},
			Publisher: ptr("Shop Sync SpA"), PrivacyPolicy: ptr("https://app.example.com/privacy"),
		}, catalogue, store.ActorCLI)
		if err != nil || app.ClientID != f.app.ClientID || len(app.RedirectURIs) != 2 || app.Profile.PrivacyPolicy == "" {
			t.Fatalf("update: %+v %v", app, err)
		}
		app, err = f.st.UpdateApp(ctx, f.app.ClientID, store.AppUpdate{RemoveRedirectURIs: []string{"https://app.example.com/cb"}}, catalogue, store.ActorCLI)
		if err != nil || app.AllowsRedirect("https://app.example.com/cb") || !app.AllowsRedirect("https://app.example.com/v2/cb") {
			t.Fatalf("remove a redirect URI: %+v %v", app, err)
		}
		// The grant keeps read:checkouts until the next refresh, which
		// drops it; write:products, new to the app, is not added.
		got, err := f.st.GetConnection(ctx, conn.ID)
		if err != nil || strings.Join(got.Scopes, " ") != "read:products read:checkouts" {
			t.Fatalf("the grant before the refresh: %+v %v", got, err)
		}
		next, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID, AppScopes: app.Scopes})
		if err != nil || strings.Join(next.Scopes, " ") != "read:products" {
			t.Fatalf("refresh after the app gave up a scope: %+v %v", next, err)
		}
		if got, _ := f.st.GetConnection(ctx, conn.ID); strings.Join(got.Scopes, " ") != "read:products" {
			t.Fatalf("the grant after the refresh: %v", got.Scopes)
		}
		// An app left with none of the granted scopes refreshes nothing.
		if _, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: next.RefreshToken, ClientID: f.app.ClientID,
			AppScopes: []string{"write:products"}}); err == nil || !strings.Contains(err.Error(), "no longer registered") {
			t.Fatalf("refresh with no granted scope left: %v", err)
		}
	})
}

// TestSecretRotation: a new secret, the previous one working until its
// deadline or its retirement, and nothing but digests stored.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		now := f.clock.Now
		if _, _, err := f.st.RotateSecret(ctx, f.app.ClientID, 8*24*time.Hour, store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("an overlap over 7 days: %v", err)
		}
		if err := f.st.RetireSecret(ctx, f.app.ClientID, store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("retiring with nothing to retire: %v", err)
		}
		newSecret, app, err := f.st.RotateSecret(ctx, f.app.ClientID, 0, store.ActorCLI)
		if err != nil || newSecret == f.secret {
			t.Fatal(err)
		}
		if !app.SecretMatches(newSecret, now()) || !app.SecretMatches(f.secret, now()) || app.SecretMatches("wrong", now()) {
			t.Fatal("during the overlap both secrets work, and nothing else")
		}
		if d := app.PrevSecretUntil.Sub(now()); d < 23*time.Hour || d > 24*time.Hour {
			t.Fatalf("the default overlap: %v", d)
		}
		if app.SecretMatches(f.secret, now().Add(25*time.Hour)) || !app.SecretMatches(newSecret, now().Add(25*time.Hour)) {
			t.Fatal("after the deadline only the new secret works")
		}
		third, app, err := f.st.RotateSecret(ctx, f.app.ClientID, time.Hour, store.ActorCLI)
		if err != nil || app.SecretMatches(f.secret, now()) || !app.SecretMatches(newSecret, now()) || !app.SecretMatches(third, now()) {
			t.Fatalf("a second rotation ends the first one's overlap: %v", err)
		}
		if err := f.st.RetireSecret(ctx, f.app.ClientID, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		app, _ = f.st.GetApp(ctx, f.app.ClientID)
		if app.SecretMatches(newSecret, now()) || !app.SecretMatches(third, now()) {
			t.Fatal("after the retirement only the newest secret works")
		}
		for k, v := range redistest.Snapshot(t, rdb) {
			for _, s := range []string{f.secret, newSecret, third} {
				if strings.Contains(k+v, s) {
					t.Fatalf("redis key %s holds a plaintext secret", k)
				}
			}
		}
		pub, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Pub", RedirectURIs: []string{"https://p.example.com/cb"},
			Scopes: catalogue, Public: true}, catalogue)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.st.RotateSecret(ctx, pub.ClientID, 0, store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("rotating a public app's secret: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

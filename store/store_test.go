package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

var catalogue = []string{"read:products", "write:products", "read:checkouts"}

// clock is a settable time source for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	st       *store.Store
	rdb      redis.UniversalClient
	clock    *clock
	app      *store.App
	secret   string
	merchant *store.Merchant
}

func newFixture(t *testing.T, rdb redis.UniversalClient) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	st := store.New(rdb, store.Options{Now: clk.Now})
	app, secret, err := st.CreateApp(ctx, store.AppSpec{
		Name:         "Shop sync",
		RedirectURIs: []string{"https://app.example.com/cb"},
		Scopes:       catalogue,
	}, catalogue)
	if err != nil {
		t.Fatalf("create app: %v", err)
	}
	m, err := st.CreateMerchant(ctx, "Ana@Example.com", "Ana", "correct horse")
	if err != nil {
		t.Fatalf("create merchant: %v", err)
	}
	return &fixture{st: st, rdb: rdb, clock: clk, app: app, secret: secret, merchant: m}
}

func (f *fixture) approve(t *testing.T, challenge string, scopes ...string) (*store.Connection, string) {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"read:products", "read:checkouts"}
	}
	conn, code, err := f.st.Approve(context.Background(), store.Grant{
		ClientID: f.app.ClientID, MerchantID: f.merchant.ID,
		RedirectURI: "https://app.example.com/cb", Scopes: scopes, CodeChallenge: challenge,
	})
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	return conn, code
}

func (f *fixture) exchange(t *testing.T, code string) *store.Issued {
	t.Helper()
	iss, err := f.st.ExchangeCode(context.Background(), store.CodeExchange{Code: code, ClientID: f.app.ClientID})
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return iss
}

func rejected(t *testing.T, err error, code store.RefusalCode) {
	t.Helper()
	r, ok := store.AsRefusal(err)
	if !ok {
		t.Fatalf("want refusal %d, got %v", code, err)
	}
	if r.Code != code || r.Description == "" {
		t.Fatalf("want refusal %d, got %d (%s)", code, r.Code, r.Description)
	}
}

func TestCreateAppRefusesBadInput(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		st := store.New(rdb, store.Options{})
		ctx := context.Background()
		good := []string{"https://app.example.com/cb"}
		cases := map[string]store.AppSpec{
			"no name":            {Name: " ", RedirectURIs: good, Scopes: []string{"read:products"}},
			"unknown scope":      {Name: "A", RedirectURIs: good, Scopes: []string{"read:everything"}},
			"no scopes":          {Name: "A", RedirectURIs: good},
			"relative URI":       {Name: "A", RedirectURIs: []string{"/cb"}, Scopes: []string{"read:products"}},
			"scheme-less":        {Name: "A", RedirectURIs: []string{"app.example.com/cb"}, Scopes: []string{"read:products"}},
			"fragment":           {Name: "A", RedirectURIs: []string{"https://a.example.com/cb#x"}, Scopes: []string{"read:products"}},
			"no URIs":            {Name: "A", Scopes: []string{"read:products"}},
			"ftp":                {Name: "A", RedirectURIs: []string{"ftp://a.example.com/cb"}, Scopes: []string{"read:products"}},
			"http, not loopback": {Name: "A", RedirectURIs: []string{"http://a.example.com/cb"}, Scopes: []string{"read:products"}},
		}
		for name, spec := range cases {
			if _, _, err := st.CreateApp(ctx, spec, catalogue); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s: want ErrInvalid, got %v", name, err)
			}
		}
		if n := rdb.DBSize(ctx).Val(); n != 0 {
			t.Fatalf("refused apps wrote %d keys", n)
		}

		// A client id is never registered twice, not even a deleted app's:
		// its tombstone keeps the generation its tokens were issued under.
		spec := store.AppSpec{Name: "A", RedirectURIs: good, Scopes: []string{"read:products"}, ClientID: "fixed-id"}
		if _, _, err := st.CreateApp(ctx, spec, catalogue); err != nil {
			t.Fatal(err)
		}
		for _, step := range []string{"live", "deleted"} {
			before := redistest.Snapshot(t, rdb)
			spec.Name = "B"
			if _, _, err := st.CreateApp(ctx, spec, catalogue); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("%s: the same client id again: %v", step, err)
			}
			redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
			if _, err := st.DeleteApp(ctx, spec.ClientID, store.ActorCLI); step == "live" && err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestAppRoundTripAndSecretDigest(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		got, err := f.st.GetApp(context.Background(), f.app.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Shop sync" || len(got.RedirectURIs) != 1 || len(got.Scopes) != 3 {
			t.Fatalf("app did not round-trip: %+v", got)
		}
		if len(f.secret) < 43 {
			t.Fatalf("secret has fewer than 256 bits: %q", f.secret)
		}
		if !store.DigestEqual(f.secret, got.SecretDigest) || store.DigestEqual(f.secret+"x", got.SecretDigest) {
			t.Fatal("secret digest does not verify the secret alone")
		}
		if _, err := f.st.GetApp(context.Background(), "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown app: %v", err)
		}
		apps, err := f.st.ListApps(context.Background(), store.Page{})
		if err != nil || len(apps.Apps) != 1 || apps.Total != 1 || apps.Next != "" {
			t.Fatalf("list apps: %v %+v", err, apps)
		}
	})
}

// TestAppCreateIsNotAnnounced: a new app is in no cache, so creating one
// publishes nothing on AppChannel (a late announcement would make every
// instance drop the entry it had just loaded); a change is announced.
func TestAppCreateIsNotAnnounced(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		f := newFixture(t, rdb)
		ps := rdb.Subscribe(ctx, store.AppChannel)
		t.Cleanup(func() { _ = ps.Close() })
		if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
			t.Fatal(err)
		}
		created, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "New", RedirectURIs: []string{"https://n.example.com/cb"},
			Scopes: catalogue}, catalogue)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.SetAppDisabled(ctx, f.app.ClientID, true, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		// Messages arrive in the order Redis took them: the creation's
		// would come first.
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil || msg.Payload != f.app.ClientID {
			t.Fatalf("first announcement: %v %v, want the disabled app %s (created %s)", msg, err, f.app.ClientID, created.ClientID)
		}
	})
}

// TestAppOpenIDSettings: an app's ID token algorithm (RS256 unless it
// chose ES256) and its post-logout redirect URIs (exact strings, the
// rules of a redirect URI) round-trip through create, update and the
// records from before them; a bad value is refused and writes nothing.
func TestAppOpenIDSettings(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		if algs := store.IDTokenAlgs(); !slices.Equal(algs, []string{"RS256", "ES256"}) {
			t.Fatalf("IDTokenAlgs: %v", algs)
		}
		store.IDTokenAlgs()[0] = "none"
		if store.IDTokenAlgs()[0] != store.AlgRS256 {
			t.Fatal("IDTokenAlgs shares its slice")
		}

		// The defaults, and a record from before the settings.
		a, err := f.st.GetApp(ctx, f.app.ClientID)
		if err != nil || a.IDTokenAlg != "" || a.IDTokenSigningAlg() != store.AlgRS256 || len(a.PostLogoutRedirectURIs) != 0 ||
			a.AllowsPostLogoutRedirect("") || a.AllowsPostLogoutRedirect("https://app.example.com/cb") {
			t.Fatalf("a new app's defaults: %+v %v", a, err)
		}
		if err := rdb.HDel(ctx, store.AppKey(f.app.ClientID), "id_token_alg", "post_logout_redirect_uris").Err(); err != nil {
			t.Fatal(err)
		}
		if a, err := f.st.GetApp(ctx, f.app.ClientID); err != nil || a.IDTokenAlg != "" || a.IDTokenSigningAlg() != store.AlgRS256 ||
			a.PostLogoutRedirectURIs != nil {
			t.Fatalf("a record without the fields: %+v %v", a, err)
		}

		good := store.AppSpec{Name: "OIDC", RedirectURIs: []string{"https://rp.example.com/cb"}, Scopes: []string{"read:products"}}
		before := redistest.Snapshot(t, rdb)
		for name, change := range map[string]func(s *store.AppSpec){
			"HS256":           func(s *store.AppSpec) { s.IDTokenAlg = "HS256" },
			"none":            func(s *store.AppSpec) { s.IDTokenAlg = "none" },
			"lower case":      func(s *store.AppSpec) { s.IDTokenAlg = "es256" },
			"http, not local": func(s *store.AppSpec) { s.PostLogoutRedirectURIs = []string{"http://rp.example.com/bye"} },
			"relative":        func(s *store.AppSpec) { s.PostLogoutRedirectURIs = []string{"/bye"} },
			"fragment":        func(s *store.AppSpec) { s.PostLogoutRedirectURIs = []string{"https://rp.example.com/bye#x"} },
			"empty":           func(s *store.AppSpec) { s.PostLogoutRedirectURIs = []string{""} },
			"one bad of two": func(s *store.AppSpec) {
				s.PostLogoutRedirectURIs = []string{"https://rp.example.com/bye", "ftp://rp.example.com/"}
			},
			"more than allowed": func(s *store.AppSpec) { s.PostLogoutRedirectURIs = manyURIs(store.MaxPostLogoutRedirectURIs + 1) },
		} {
			spec := good
			change(&spec)
			_, _, err := f.st.CreateApp(ctx, spec, catalogue)
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("create, %s: want ErrInvalid, got %v", name, err)
			}
			if spec.IDTokenAlg != "" && (err == nil || !strings.Contains(err.Error(), "RS256 or ES256")) {
				t.Errorf("create, %s: the refusal does not name the allowed algorithms: %v", name, err)
			}
			if spec.PostLogoutRedirectURIs != nil && (err == nil || !strings.Contains(err.Error(), "post-logout redirect URI")) {
				t.Errorf("create, %s: the refusal does not name the field: %v", name, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		spec := good
		spec.IDTokenAlg = store.AlgES256
		spec.PostLogoutRedirectURIs = []string{"https://rp.example.com/bye", "http://localhost:8080/bye", "https://rp.example.com/bye"}
		spec.PostLogoutRedirectURIs = append(spec.PostLogoutRedirectURIs, manyURIs(store.MaxPostLogoutRedirectURIs-2)...)
		created, _, err := f.st.CreateApp(ctx, spec, catalogue)
		if err != nil {
			t.Fatal(err)
		}
		a, err = f.st.GetApp(ctx, created.ClientID)
		if err != nil || a.IDTokenAlg != store.AlgES256 || a.IDTokenSigningAlg() != store.AlgES256 ||
			len(a.PostLogoutRedirectURIs) != store.MaxPostLogoutRedirectURIs ||
			!slices.Equal(a.PostLogoutRedirectURIs[:2], []string{"https://rp.example.com/bye", "http://localhost:8080/bye"}) {
			t.Fatalf("round trip: %+v %v", a, err)
		}
		for uri, want := range map[string]bool{"https://rp.example.com/bye": true, "http://localhost:8080/bye": true,
			"https://rp.example.com/bye/": false, "https://RP.example.com/bye": false, "https://rp.example.com/bye?x=1": false,
			"https://rp.example.com": false, "": false} {
			if got := a.AllowsPostLogoutRedirect(uri); got != want {
				t.Errorf("AllowsPostLogoutRedirect(%q) = %v", uri, got)
			}
		}

		// Updates: each part named in the audit trail; a bad one writes
		// nothing.
		before = redistest.Snapshot(t, rdb)
		for name, u := range map[string]store.AppUpdate{
			"HS256":           {IDTokenAlg: ptr("HS256")},
			"bad URI":         {PostLogoutRedirectURIs: []string{"https://rp.example.com/bye#frag"}},
			"too many":        {PostLogoutRedirectURIs: manyURIs(store.MaxPostLogoutRedirectURIs + 1)},
			"good and bad":    {IDTokenAlg: ptr(store.AlgRS256), PostLogoutRedirectURIs: []string{"rp.example.com/bye"}},
			"bad and a name":  {Name: ptr("Renamed"), IDTokenAlg: ptr("PS256")},
			"http, not local": {PostLogoutRedirectURIs: []string{"http://rp.example.com/bye"}},
		} {
			if _, err := f.st.UpdateApp(ctx, a.ClientID, u, catalogue, store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("update, %s: want ErrInvalid, got %v", name, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
		a, err = f.st.UpdateApp(ctx, a.ClientID, store.AppUpdate{IDTokenAlg: ptr(store.AlgRS256),
			PostLogoutRedirectURIs: []string{"https://rp.example.com/logged-out"}}, catalogue, store.ActorCLI)
		if err != nil || a.IDTokenAlg != store.AlgRS256 || !slices.Equal(a.PostLogoutRedirectURIs, []string{"https://rp.example.com/logged-out"}) ||
			a.AllowsPostLogoutRedirect("https://rp.example.com/bye") {
			t.Fatalf("update: %+v %v", a, err)
		}
		events, _, err := f.st.ListAudit(ctx, store.AuditFilter{ClientID: a.ClientID}, "", 1)
		if err != nil || len(events) != 1 || events[0].Detail != "updated: ID token algorithm, post-logout redirect URIs" {
			t.Fatalf("the update's audit event: %+v %v", events, err)
		}
		if a, err = f.st.UpdateApp(ctx, a.ClientID, store.AppUpdate{PostLogoutRedirectURIs: []string{}}, catalogue, store.ActorCLI); err != nil ||
			len(a.PostLogoutRedirectURIs) != 0 || a.IDTokenAlg != store.AlgRS256 {
			t.Fatalf("clearing the post-logout redirect URIs: %+v %v", a, err)
		}

		// Changes compares the algorithm signed with: "" is RS256.
		if _, ok := a.Changes(store.AppSpec{Name: a.Name, RedirectURIs: a.RedirectURIs, Scopes: a.Scopes}); ok {
			t.Fatal("RS256 and the default are a change")
		}
		u, ok := a.Changes(store.AppSpec{Name: a.Name, RedirectURIs: a.RedirectURIs, Scopes: a.Scopes, IDTokenAlg: store.AlgES256,
			PostLogoutRedirectURIs: []string{"https://rp.example.com/bye"}})
		if !ok || u.IDTokenAlg == nil || *u.IDTokenAlg != store.AlgES256 || !slices.Equal(u.PostLogoutRedirectURIs, []string{"https://rp.example.com/bye"}) ||
			u.Name != nil || u.RedirectURIs != nil || u.Scopes != nil {
			t.Fatalf("Changes: %+v %v", u, ok)
		}
		if a, err = f.st.UpdateApp(ctx, a.ClientID, u, catalogue, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		// A spec without them (an RFC 7592 update that left them out) goes
		// back to the defaults.
		u, ok = a.Changes(store.AppSpec{Name: a.Name, RedirectURIs: a.RedirectURIs, Scopes: a.Scopes})
		if !ok || u.IDTokenAlg == nil || *u.IDTokenAlg != "" || u.PostLogoutRedirectURIs == nil || len(u.PostLogoutRedirectURIs) != 0 {
			t.Fatalf("Changes back to the defaults: %+v %v", u, ok)
		}
	})
}

// manyURIs is n distinct valid post-logout redirect URIs.
func manyURIs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("https://rp.example.com/bye/%d", i)
	}
	return out
}

func TestMerchants(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		before := redistest.Snapshot(t, rdb)
		if _, err := f.st.CreateMerchant(ctx, "ana@example.com", "Other", "long enough pw"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate email (case-insensitive): %v", err)
		}
		if _, err := f.st.CreateMerchant(ctx, "new@example.com", "New", ""); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("empty password: %v", err)
		}
		for _, pw := range []string{"seven77", strings.Repeat("x", store.MaxPasswordLength+1)} {
			if _, err := f.st.CreateMerchant(ctx, "new@example.com", "New", pw); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("a password of %d characters: %v", len(pw), err)
			}
			if _, err := f.st.CreateAdmin(ctx, "new@example.com", pw); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("an admin password of %d characters: %v", len(pw), err)
			}
		}
		if _, err := f.st.CreateMerchant(ctx, "not-an-email", "New", "pw"); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("bad email: %v", err)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		m, err := f.st.AuthenticateMerchant(ctx, " ANA@example.com", "correct horse")
		if err != nil || m.ID != f.merchant.ID {
			t.Fatalf("login: %v", err)
		}
		if _, err := f.st.AuthenticateMerchant(ctx, "ana@example.com", "wrong"); !errors.Is(err, store.ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := f.st.AuthenticateMerchant(ctx, "nobody@example.com", "correct horse"); !errors.Is(err, store.ErrBadCredentials) {
			t.Fatalf("unknown email: %v", err)
		}
		if strings.Contains(redistest.Snapshot(t, rdb)["merchant:"+f.merchant.ID], "correct horse") ||
			!strings.HasPrefix(f.merchant.PasswordHash, "$argon2id$") {
			t.Fatal("password not stored as an argon2id hash")
		}
		list, err := f.st.ListMerchants(ctx, store.Page{})
		if err != nil || len(list.Accounts) != 1 || list.Accounts[0].Email != "ana@example.com" {
			t.Fatalf("list merchants: %v %+v", err, list)
		}
	})
}

func TestCodeExchangeAndRefresh(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		conn, code := f.approve(t, "")
		iss := f.exchange(t, code)
		if iss.ConnectionID != conn.ID || iss.MerchantID != f.merchant.ID ||
			strings.Join(iss.Scopes, " ") != "read:products read:checkouts" {
			t.Fatalf("issued: %+v", iss)
		}
		if !strings.HasPrefix(iss.AccessToken, "at-"+conn.ID+".") || !strings.HasPrefix(iss.RefreshToken, "rt-"+conn.ID+".") {
			t.Fatalf("token format: %s %s", iss.AccessToken, iss.RefreshToken)
		}
		if d := iss.AccessExpiresAt.Sub(iss.IssuedAt); d != 6*time.Hour {
			t.Fatalf("access lifetime %v", d)
		}
		if d := iss.RefreshExpiresAt.Sub(iss.IssuedAt); d != 48*time.Hour {
			t.Fatalf("refresh lifetime %v", d)
		}
		info, err := f.st.LookupAccess(ctx, iss.AccessToken)
		if err != nil || info.ClientID != f.app.ClientID || info.MerchantID != f.merchant.ID {
			t.Fatalf("lookup: %v %+v", err, info)
		}

		// A second exchange fails, and revokes what the first one issued.
		_, err = f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)
		if _, err := f.st.LookupAccess(ctx, iss.AccessToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("code replay did not revoke the access token: %v", err)
		}
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)

		// A fresh connection: refresh rotates, and both old tokens die.
		_, code2 := f.approve(t, "")
		first := f.exchange(t, code2)
		second, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: first.RefreshToken, ClientID: f.app.ClientID})
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if _, err := f.st.LookupAccess(ctx, first.AccessToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("old access token still works after refresh")
		}
		if _, err := f.st.LookupAccess(ctx, second.AccessToken); err != nil {
			t.Fatalf("new access token: %v", err)
		}

		// Narrowing works; widening does not, and changes nothing.
		before := redistest.Snapshot(t, rdb)
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: second.RefreshToken, ClientID: f.app.ClientID,
			Scopes: []string{"read:products", "write:products"}})
		rejected(t, err, store.RefusedScope)
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
		third, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: second.RefreshToken, ClientID: f.app.ClientID,
			Scopes: []string{"read:checkouts"}})
		if err != nil || strings.Join(third.Scopes, " ") != "read:checkouts" {
			t.Fatalf("narrowing refresh: %v %v", err, third)
		}
		// The grant itself is unchanged: the next refresh may ask for all of it again.
		fourth, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: third.RefreshToken, ClientID: f.app.ClientID})
		if err != nil || len(fourth.Scopes) != 2 {
			t.Fatalf("refresh after narrowing: %v %v", err, fourth)
		}
	})
}

func TestRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		other, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Other", RedirectURIs: []string{"https://o.example.com/cb"},
			Scopes: catalogue}, catalogue)
		if err != nil {
			t.Fatal(err)
		}
		conn, code := f.approve(t, store.S256("a-verifier-that-is-long-enough-for-pkce-0123456789"))
		before := redistest.Snapshot(t, rdb)
		tampered := strings.Replace(code, conn.ID, store.NewID(), 1)
		for name, x := range map[string]store.CodeExchange{
			"other app":         {Code: code, ClientID: other.ClientID, CodeVerifier: "a-verifier-that-is-long-enough-for-pkce-0123456789"},
			"redirect mismatch": {Code: code, ClientID: f.app.ClientID, RedirectURI: "https://app.example.com/cb2", CodeVerifier: "a-verifier-that-is-long-enough-for-pkce-0123456789"},
			"missing verifier":  {Code: code, ClientID: f.app.ClientID},
			"wrong verifier":    {Code: code, ClientID: f.app.ClientID, CodeVerifier: "another-verifier-that-is-long-enough-0123456789"},
			"tampered conn id":  {Code: tampered, ClientID: f.app.ClientID},
			"garbage":           {Code: "ac-nonsense", ClientID: f.app.ClientID},
			"a refresh token":   {Code: "rt-" + strings.TrimPrefix(code, "ac-"), ClientID: f.app.ClientID},
		} {
			_, err := f.st.ExchangeCode(ctx, x)
			if _, ok := store.AsRefusal(err); !ok {
				t.Errorf("%s: want a refusal, got %v", name, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
		iss, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID,
			RedirectURI: "https://app.example.com/cb", CodeVerifier: "a-verifier-that-is-long-enough-for-pkce-0123456789"})
		if err != nil {
			t.Fatalf("the code should still work after the refusals: %v", err)
		}
		before = redistest.Snapshot(t, rdb)
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: other.ClientID})
		rejected(t, err, store.RefusedGrant)
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		// A verifier for a code issued without a challenge is refused too.
		_, code2 := f.approve(t, "")
		_, err = f.st.ExchangeCode(ctx, store.CodeExchange{Code: code2, ClientID: f.app.ClientID, CodeVerifier: "a-verifier-that-is-long-enough-for-pkce-0123456789"})
		rejected(t, err, store.RefusedGrant)
	})
}

func TestExpiries(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		_, code := f.approve(t, "")
		f.clock.Add(24*time.Hour + time.Millisecond)
		_, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)

		_, code = f.approve(t, "")
		iss := f.exchange(t, code)
		f.clock.Add(6*time.Hour + time.Millisecond)
		if _, err := f.st.LookupAccess(ctx, iss.AccessToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired access token still works: %v", err)
		}
		f.clock.Add(42 * time.Hour)
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)
	})
}

func TestRevokeConnection(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		connA, codeA := f.approve(t, "")
		_, codeB := f.approve(t, "")
		a, b := f.exchange(t, codeA), f.exchange(t, codeB)
		if err := f.st.RevokeConnection(ctx, connA.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.LookupAccess(ctx, a.AccessToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("revoked access token still works")
		}
		_, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: a.RefreshToken, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)
		if _, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: b.RefreshToken, ClientID: f.app.ClientID}); err != nil {
			t.Fatalf("the other connection to the same app must keep working: %v", err)
		}
		if err := f.st.RevokeConnection(ctx, store.NewID(), "test"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown connection: %v", err)
		}
	})
}

// TestConcurrentOneUse is the trap of go-oauth2's manager (read, then
// delete): 50 concurrent exchanges of one code, and 50 concurrent refreshes
// of one refresh token, must each yield exactly one token pair.
func TestConcurrentOneUse(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		_, code := f.approve(t, "")
		var wins atomic.Int32
		race(50, func() {
			_, err := f.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: f.app.ClientID})
			if err == nil {
				wins.Add(1)
			} else if _, ok := store.AsRefusal(err); !ok {
				t.Errorf("exchange: %v", err)
			}
		})
		if wins.Load() != 1 {
			t.Fatalf("%d of 50 concurrent exchanges succeeded", wins.Load())
		}

		_, code = f.approve(t, "")
		iss := f.exchange(t, code)

		// 50 concurrent refreshes: one rotates, and the other 49, inside
		// the retry window, get that same answer. Exactly one new pair.
		var mu sync.Mutex
		pairs := map[string]int{}
		race(50, func() {
			n, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID})
			if err != nil {
				t.Errorf("refresh: %v", err)
				return
			}
			mu.Lock()
			pairs[n.AccessToken+" "+n.RefreshToken+" "+n.TokenID]++
			mu.Unlock()
		})
		if len(pairs) != 1 {
			t.Fatalf("50 concurrent refreshes made %d different pairs", len(pairs))
		}
		for p, n := range pairs {
			if n != 50 {
				t.Fatalf("%d of 50 refreshes answered", n)
			}
			if _, err := f.st.LookupAccess(ctx, strings.Fields(p)[0]); err != nil {
				t.Fatalf("the one pair must be live: %v", err)
			}
		}
	})
}

// race runs fn n times at once, released together.
func race(n int, fn func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() { <-start; fn() })
	}
	close(start)
	wg.Wait()
}

// TestStoredFormAndTTLs: a dump of Redis yields no usable credential, and
// every key that can expire has a TTL.
func TestStoredFormAndTTLs(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		_, code := f.approve(t, "")
		_, pending := f.approve(t, "")
		iss := f.exchange(t, code)
		refreshed, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss.RefreshToken, ClientID: f.app.ClientID})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.LoginSucceeded(ctx, "merchant", "a@b.cl", "127.0.0.1", store.LoginLimits{PerAccount: 5, PerAddress: 5, Period: time.Minute}); err != nil {
			t.Fatal(err)
		}
		if err := f.st.SaveSession(ctx, "session-id-secret", []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
		dump := redistest.Snapshot(t, rdb)
		all := ""
		for k, v := range dump {
			all += k + " " + v + "\n"
		}
		for _, secret := range []string{code, pending, iss.AccessToken, iss.RefreshToken, refreshed.AccessToken,
			refreshed.RefreshToken, f.secret, "session-id-secret", "correct horse"} {
			if strings.Contains(all, secret) {
				t.Fatalf("a credential is stored in plaintext: %.12s…", secret)
			}
			random := secret[strings.LastIndex(secret, ".")+1:]
			if len(random) > 20 && strings.Contains(all, random) {
				t.Fatalf("a credential's random part is stored in plaintext")
			}
		}
		for k := range dump {
			ttl := rdb.PTTL(ctx, k).Val()
			// Only records that live until deleted, and the lists of them,
			// may lack a TTL; everything else must expire.
			permanent := false
			for _, p := range []string{"app:", "apps", "merchant:", "merchant-email:", "merchants", "admin",
				"audit:", "conns:", "merchant-conns:", "app-conns:", "app-counts:", "app-revocation:", "app-revocations:",
				"outbox:"} {
				permanent = permanent || k == p || (strings.HasSuffix(p, ":") && strings.HasPrefix(k, p))
			}
			if !permanent && ttl <= 0 {
				t.Errorf("key %s has no TTL", k)
			}
		}
	})
}

// TestRefreshReuse: within the retry window the just-used refresh token
// gets the identical answer; after it, presenting it revokes the
// connection; the stored answer is useless to a reader of Redis.
func TestRefreshReuse(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		_, code := f.approve(t, "")
		first := f.exchange(t, code)
		second, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: first.RefreshToken, ClientID: f.app.ClientID})
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Add(9 * time.Second)
		again, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: first.RefreshToken, ClientID: f.app.ClientID})
		if err != nil {
			t.Fatalf("retry within the window: %v", err)
		}
		if again.AccessToken != second.AccessToken || again.RefreshToken != second.RefreshToken ||
			again.TokenID != second.TokenID || !again.AccessExpiresAt.Equal(second.AccessExpiresAt) ||
			strings.Join(again.Scopes, " ") != strings.Join(second.Scopes, " ") || again.MerchantID != second.MerchantID {
			t.Fatalf("the retry got a different answer:\n%+v\n%+v", again, second)
		}
		// Another client presenting it gets nothing and changes nothing.
		before := redistest.Snapshot(t, rdb)
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: first.RefreshToken, ClientID: "someone-else"})
		rejected(t, err, store.RefusedGrant)
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		// Nothing in Redis holds the new pair in a usable form.
		dump := ""
		for k, v := range redistest.Snapshot(t, rdb) {
			dump += k + v
		}
		for _, secret := range []string{second.AccessToken, second.RefreshToken, second.AccessToken[strings.Index(second.AccessToken, ".")+1:]} {
			if strings.Contains(dump, secret) {
				t.Fatal("the retry answer is readable in Redis")
			}
		}

		// After the window, the old token is a replay: the connection dies.
		f.clock.Add(2 * time.Second)
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: first.RefreshToken, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)
		if _, err := f.st.LookupAccess(ctx, second.AccessToken); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("a replayed refresh token must revoke its connection")
		}
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: second.RefreshToken, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)

		// An older token than the previous one is refused too.
		_, code = f.approve(t, "")
		a := f.exchange(t, code)
		b, _ := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: a.RefreshToken, ClientID: f.app.ClientID})
		f.clock.Add(time.Minute)
		if _, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: b.RefreshToken, ClientID: f.app.ClientID}); err != nil {
			t.Fatal(err)
		}
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: a.RefreshToken, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)
		if _, err := f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: b.RefreshToken, ClientID: f.app.ClientID}); err == nil {
			t.Fatal("replaying an older refresh token must revoke the connection")
		}
		info, err := f.st.GetConnection(ctx, b.ConnectionID)
		if err != nil || info.Status != store.StatusRevoked || info.RevokedBy != "refresh-reuse" {
			t.Fatalf("connection after an old token's replay: %v %+v", err, info)
		}

		// A forged refresh token for a connection (right connection id,
		// made-up random part) is unknown; it does not end the connection.
		_, code = f.approve(t, "")
		live := f.exchange(t, code)
		forged := store.NewCredential(store.KindRefresh, live.ConnectionID)
		before = redistest.Snapshot(t, rdb)
		_, err = f.st.Refresh(ctx, store.RefreshRequest{RefreshToken: forged, ClientID: f.app.ClientID})
		rejected(t, err, store.RefusedGrant)
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
	})
}

// TestLookAlikeAccounts: emails and names that would read like another's
// are refused, and nothing is written; ordinary names of any script pass.
func TestLookAlikeAccounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := store.New(redistest.Start(t).Client(t), store.Options{})
	for _, email := range []string{"ana@tienda.cl\u200b", "\u0430na@tienda.cl", "ana@tienda.cl\u202e", "ana\u0085@tienda.cl",
		"an a@tienda.cl", "ana@tiénda.cl"} {
		if _, err := st.CreateMerchant(ctx, email, "Ana", "long enough pw"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("email %q: %v", email, err)
		}
	}
	for _, name := range []string{"Ana\u200b", "An\u202ea", "\u0410na", "Tienda\u0007", "Ana\ue000"} {
		if _, err := st.RegisterMerchant(ctx, store.Registration{FirstName: name, LastName: "Pérez",
			Email: "x" + strconv.Itoa(len(name)) + "@tienda.cl", Password: "long enough pw"}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("name %q: %v", name, err)
		}
	}
	for i, name := range []string{"José Pérez", "李小龍", "Анна", "O'Brien-Núñez"} {
		if _, err := st.CreateMerchant(ctx, fmt.Sprintf("ok%d@tienda.cl", i), name, "long enough pw"); err != nil {
			t.Errorf("name %q refused: %v", name, err)
		}
	}
	if page, _ := st.ListMerchants(ctx, store.Page{}); page.Total != 4 {
		t.Fatalf("%d merchants, want the 4 valid ones", page.Total)
	}
}

// TestAccountEmails: the emails behind a page of merchant and admin ids, in
// one round trip, on every backend (a cluster spreads the keys over slots);
// unknown ids are left out, and a merchant id never finds an admin.
func TestAccountEmails(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		other, err := f.st.CreateMerchant(ctx, "luis@example.com", "Luis", "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		adm, err := f.st.CreateAdmin(ctx, "ops@example.com", "correct horse")
		if err != nil {
			t.Fatal(err)
		}
		ms, as, err := f.st.AccountEmails(ctx, []string{f.merchant.ID, other.ID, store.NewID(), adm.ID}, []string{adm.ID, f.merchant.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 || ms[f.merchant.ID] != "ana@example.com" || ms[other.ID] != "luis@example.com" {
			t.Fatalf("merchant emails: %v", ms)
		}
		if len(as) != 1 || as[adm.ID] != "ops@example.com" {
			t.Fatalf("admin emails: %v", as)
		}
		if ms, as, err := f.st.AccountEmails(ctx, nil, nil); err != nil || len(ms)+len(as) != 0 {
			t.Fatalf("no ids: %v %v %v", ms, as, err)
		}
	})
}

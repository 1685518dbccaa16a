package resource_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

const redirect = "https://app.example.com/callback"

var catalogue = []string{"read:products", "write:products", "read:checkouts"}

// clock lets a test move past an access token's expiry.
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

// env is a real redis-server of the test's own, a store over it, a running
// app cache, and one app and one merchant.
type env struct {
	t        *testing.T
	redis    *redistest.Server
	st       *store.Store
	clock    *clock
	v        *resource.Verifier
	app      *store.App
	merchant *store.Merchant
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := redistest.Start(t)
	clk := &clock{t: time.Now()}
	st := store.New(srv.Client(t), store.Options{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	apps := store.NewAppCache(st, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	go func() { defer close(done); apps.Run(ctx, ready) }()
	// Run returns on a cancelled context only once its blocking read ends,
	// which stopping the server forces; without that this would hang.
	t.Cleanup(func() { cancel(); srv.Stop(); <-done })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the app cache did not subscribe within 10 s")
	}
	app, _, err := st.CreateApp(context.Background(), store.AppSpec{
		Name: "Sincronizador", RedirectURIs: []string{redirect}, Scopes: catalogue,
	}, catalogue)
	if err != nil {
		t.Fatalf("create app: %v", err)
	}
	m, err := st.CreateMerchant(context.Background(), "ana@tienda.cl", "Tienda de Ana", "correct horse battery")
	if err != nil {
		t.Fatalf("create merchant: %v", err)
	}
	return &env{t: t, redis: srv, st: st, clock: clk, v: resource.NewVerifier(st, apps), app: app, merchant: m}
}

// connect approves a new connection with the given scopes and exchanges
// its code, as the authorization and token endpoints would.
func (e *env) connect(scopes ...string) *store.Issued {
	e.t.Helper()
	ctx := context.Background()
	_, code, err := e.st.Approve(ctx, store.Grant{
		ClientID: e.app.ClientID, MerchantID: e.merchant.ID, RedirectURI: redirect, Scopes: scopes,
	})
	if err != nil {
		e.t.Fatalf("approve: %v", err)
	}
	iss, err := e.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: e.app.ClientID, RedirectURI: redirect})
	if err != nil {
		e.t.Fatalf("exchange code: %v", err)
	}
	return iss
}

// seen records what the protected handler saw, so tests can check that it
// ran with the verified token, or did not run at all.
type seen struct {
	mu       sync.Mutex
	calls    int
	info     *store.TokenInfo
	hasRead  bool
	hasWrite bool
}

func (s *seen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.info, _ = resource.FromContext(r.Context())
	s.hasRead = resource.HasScope(r.Context(), "read:checkouts")
	s.hasWrite = resource.HasScope(r.Context(), "write:products")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

func (s *seen) count() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// mount protects next with scopes, as one of the two front ends would.
type mount struct {
	name  string
	build func(v *resource.Verifier, next http.Handler, scopes ...string) http.Handler
}

var mounts = []mount{
	{"gin", func(v *resource.Verifier, next http.Handler, scopes ...string) http.Handler {
		r := gin.New()
		r.GET("/r", resource.Authenticate(v), resource.RequireScope(scopes...), gin.WrapH(next))
		return r
	}},
	{"net/http", func(v *resource.Verifier, next http.Handler, scopes ...string) http.Handler {
		return resource.Handler(v, next, scopes...)
	}},
}

type answer struct {
	status int
	header http.Header
	body   map[string]string
	raw    string
}

func call(t *testing.T, h http.Handler, authorization string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/r", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if a.status != http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
			t.Fatalf("status %d with a body that is not a JSON object of strings: %v\n%s", a.status, err, a.raw)
		}
	}
	return a
}

// refused checks an RFC 6750 §3 refusal: status, error code, challenge,
// the JSON headers, and that nothing secret or internal leaked.
func refused(t *testing.T, a answer, status int, code, challenge string, secrets ...string) {
	t.Helper()
	if a.status != status || a.body["error"] != code {
		t.Fatalf("want %d %s, got %d %s", status, code, a.status, a.raw)
	}
	if got := a.header.Get("WWW-Authenticate"); got != challenge {
		t.Fatalf("WWW-Authenticate: want %q, got %q", challenge, got)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := a.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q", cc)
	}
	if a.body["error_description"] == "" {
		t.Fatalf("no error_description: %s", a.raw)
	}
	for _, s := range secrets {
		if strings.Contains(a.raw, s) {
			t.Fatalf("the answer contains a credential or internal detail %.12q: %s", s, a.raw)
		}
	}
}

const (
	challengeMissing = `Bearer realm="enlace"`
	challengeInvalid = `Bearer realm="enlace", error="invalid_token"`
)

// eventually calls h until it answers want, failing after a deadline. It is
// for changes that reach the app cache over pub/sub, which is asynchronous.
func eventually(t *testing.T, h http.Handler, authorization string, want int) answer {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		a := call(t, h, authorization)
		if a.status == want {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d after 2 s, want %d: %s", a.status, want, a.raw)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMiddleware(t *testing.T) {
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			testMount(t, m)
		})
	}
}

func testMount(t *testing.T, m mount) {
	ctx := context.Background()

	t.Run("valid token passes with its info in the context", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts", "read:products")
		h := &seen{}
		a := call(t, m.build(e.v, h, "read:checkouts"), "Bearer "+iss.AccessToken)
		if a.status != http.StatusOK || h.count() != 1 {
			t.Fatalf("want 200 and one call, got %d (%d calls): %s", a.status, h.count(), a.raw)
		}
		i := h.info
		if i == nil || i.Kind != store.KindAccess || i.ConnectionID != iss.ConnectionID || i.ClientID != e.app.ClientID ||
			i.MerchantID != e.merchant.ID || !slices.Equal(i.Scopes, iss.Scopes) || i.TokenID != iss.TokenID {
			t.Fatalf("handler saw %+v, issued %+v", i, iss)
		}
		if !h.hasRead || h.hasWrite {
			t.Fatalf("HasScope: read:checkouts=%v write:products=%v", h.hasRead, h.hasWrite)
		}
	})

	t.Run("scheme is case-insensitive", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts")
		h := m.build(e.v, &seen{})
		for _, scheme := range []string{"bearer", "BEARER", "bEaReR"} {
			if a := call(t, h, scheme+" "+iss.AccessToken); a.status != http.StatusOK {
				t.Fatalf("%s: %d %s", scheme, a.status, a.raw)
			}
		}
	})

	t.Run("missing or non-bearer credentials", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		h := &seen{}
		hh := m.build(e.v, h, "read:checkouts")
		for _, authz := range []string{"", "Bearer", "Bearer   ", "Basic YTpi", "Token abc"} {
			refused(t, call(t, hh, authz), http.StatusUnauthorized, "invalid_token", challengeMissing)
		}
		if h.count() != 0 {
			t.Fatal("the handler ran without a token")
		}
	})

	t.Run("garbage token", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts")
		h := &seen{}
		hh := m.build(e.v, h)
		tampered := iss.AccessToken[:len(iss.AccessToken)-1] + "A"
		if tampered == iss.AccessToken {
			tampered = iss.AccessToken[:len(iss.AccessToken)-1] + "B"
		}
		for _, tok := range []string{"garbage", "at-not-a-uuid.x", tampered, iss.AccessToken + "x"} {
			refused(t, call(t, hh, "Bearer "+tok), http.StatusUnauthorized, "invalid_token", challengeInvalid, tok)
		}
		if h.count() != 0 {
			t.Fatal("the handler ran with a garbage token")
		}
	})

	t.Run("refresh token is not an access token", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts")
		h := &seen{}
		refused(t, call(t, m.build(e.v, h), "Bearer "+iss.RefreshToken),
			http.StatusUnauthorized, "invalid_token", challengeInvalid, iss.RefreshToken)
		if h.count() != 0 {
			t.Fatal("the handler ran with a refresh token")
		}
	})

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts")
		h := m.build(e.v, &seen{}, "read:checkouts")
		e.clock.Add(e.st.Lifetimes().Access - time.Second)
		if a := call(t, h, "Bearer "+iss.AccessToken); a.status != http.StatusOK {
			t.Fatalf("a second before expiry: %d %s", a.status, a.raw)
		}
		e.clock.Add(time.Second)
		refused(t, call(t, h, "Bearer "+iss.AccessToken), http.StatusUnauthorized, "invalid_token", challengeInvalid)
	})

	t.Run("revoked connection is refused at once", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts")
		other := e.connect("read:checkouts")
		h := m.build(e.v, &seen{}, "read:checkouts")
		if a := call(t, h, "Bearer "+iss.AccessToken); a.status != http.StatusOK {
			t.Fatalf("before revocation: %d %s", a.status, a.raw)
		}
		if err := e.st.RevokeConnection(ctx, iss.ConnectionID, "test"); err != nil {
			t.Fatal(err)
		}
		refused(t, call(t, h, "Bearer "+iss.AccessToken), http.StatusUnauthorized, "invalid_token", challengeInvalid)
		if a := call(t, h, "Bearer "+other.AccessToken); a.status != http.StatusOK {
			t.Fatalf("another connection of the same app and merchant: %d %s", a.status, a.raw)
		}
	})

	t.Run("disabled app is refused until enabled", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts")
		h := m.build(e.v, &seen{}, "read:checkouts")
		// The first call caches the app, so what follows goes through the
		// cache's invalidation and not a fresh read. The app is disabled
		// through another store on another connection, as the authorization
		// server would do it, so the news can only arrive over pub/sub.
		if a := call(t, h, "Bearer "+iss.AccessToken); a.status != http.StatusOK {
			t.Fatalf("before disabling: %d %s", a.status, a.raw)
		}
		admin := store.New(e.redis.Client(t), store.Options{Logger: slog.New(slog.DiscardHandler)})
		if err := admin.SetAppDisabled(ctx, e.app.ClientID, true, "test"); err != nil {
			t.Fatal(err)
		}
		a := eventually(t, h, "Bearer "+iss.AccessToken, http.StatusUnauthorized)
		refused(t, a, http.StatusUnauthorized, "invalid_token", challengeInvalid)
		if err := admin.SetAppDisabled(ctx, e.app.ClientID, false, "test"); err != nil {
			t.Fatal(err)
		}
		eventually(t, h, "Bearer "+iss.AccessToken, http.StatusOK)
	})

	t.Run("scopes", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts", "read:products")
		for _, tc := range []struct {
			scopes  []string
			missing bool
		}{
			{nil, false},
			{[]string{"read:checkouts"}, false},
			{[]string{"read:checkouts", "read:products"}, false},
			{[]string{"write:products"}, true},
			{[]string{"read:checkouts", "write:products"}, true},
		} {
			h := &seen{}
			a := call(t, m.build(e.v, h, tc.scopes...), "Bearer "+iss.AccessToken)
			if !tc.missing {
				if a.status != http.StatusOK || h.count() != 1 {
					t.Fatalf("%v: want 200, got %d %s", tc.scopes, a.status, a.raw)
				}
				continue
			}
			want := strings.Join(tc.scopes, " ")
			refused(t, a, http.StatusForbidden, "insufficient_scope",
				`Bearer realm="enlace", error="insufficient_scope", scope="`+want+`"`, iss.AccessToken)
			if a.body["scope"] != want {
				t.Fatalf("%v: body scope %q", tc.scopes, a.body["scope"])
			}
			if h.count() != 0 {
				t.Fatalf("%v: the handler ran without the scope", tc.scopes)
			}
		}
	})

	t.Run("redis down", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		iss := e.connect("read:checkouts")
		h := &seen{}
		hh := m.build(e.v, h, "read:checkouts")
		if a := call(t, hh, "Bearer "+iss.AccessToken); a.status != http.StatusOK {
			t.Fatalf("before stopping Redis: %d %s", a.status, a.raw)
		}
		e.redis.Stop()
		a := call(t, hh, "Bearer "+iss.AccessToken)
		refused(t, a, http.StatusServiceUnavailable, "temporarily_unavailable", "",
			iss.AccessToken, e.redis.Addr, "dial", "refused")
		if h.count() != 1 {
			t.Fatal("the handler ran while Redis was down")
		}
	})
}

// TestGinReportsStoreErrors checks that a 503's cause reaches gin's error
// list, for the server's logging, without the token in it.
func TestGinReportsStoreErrors(t *testing.T) {
	e := newEnv(t)
	iss := e.connect("read:checkouts")
	var errs []*gin.Error
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Next(); errs = c.Errors })
	r.GET("/r", resource.Authenticate(e.v), func(c *gin.Context) { c.Status(http.StatusOK) })
	e.redis.Stop()
	a := call(t, r, "Bearer "+iss.AccessToken)
	refused(t, a, http.StatusServiceUnavailable, "temporarily_unavailable", "")
	if len(errs) != 1 {
		t.Fatalf("want one gin error, got %v", errs)
	}
	msg := errs[0].Error()
	if !strings.Contains(msg, "verify access token") || strings.Contains(msg, iss.AccessToken) {
		t.Fatalf("gin error %q", msg)
	}
	if errors.Is(errs[0].Err, resource.ErrInactive) {
		t.Fatal("a store failure reported as an inactive token")
	}
}

// TestRequireScopeWithoutAuthenticate checks that a chain missing
// Authenticate fails closed.
func TestRequireScopeWithoutAuthenticate(t *testing.T) {
	r := gin.New()
	ran := false
	r.GET("/r", resource.RequireScope("read:checkouts"), func(c *gin.Context) { ran = true })
	for _, authz := range []string{"", "Bearer at-anything"} {
		refused(t, call(t, r, authz), http.StatusUnauthorized, "invalid_token", challengeMissing)
	}
	if ran {
		t.Fatal("the handler ran without Authenticate")
	}
}

func TestFromContextWithoutToken(t *testing.T) {
	if info, ok := resource.FromContext(context.Background()); ok || info != nil {
		t.Fatalf("FromContext on a bare context: %v %v", info, ok)
	}
	if resource.HasScope(context.Background()) {
		t.Fatal("HasScope without a token")
	}
}

func TestInvalidScopeNamePanics(t *testing.T) {
	for _, s := range []string{"", "read checkouts", `read"checkouts`, `a\b`, "leído"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireScope(%q) did not panic", s)
				}
			}()
			resource.RequireScope(s)
		}()
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handler(%q) did not panic", s)
				}
			}()
			resource.Handler(nil, http.NotFoundHandler(), s)
		}()
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/consent/demo"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

const (
	appRedirect = "https://app.example.com/callback"
	password    = "correct horse battery"
)

// clock is real time plus an offset a test can move forward, to go past
// expiries while time still passes (so ordering by time holds).
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.offset) }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// testEnv is a running enlace on a real redis-server started for the test,
// with one app and one merchant.
type testEnv struct {
	t        *testing.T
	url      string
	cfg      *config.Config
	st       *store.Store
	rdb      *redis.Client
	clock    *clock
	app      *store.App
	secret   string
	merchant *store.Merchant
	logs     *syncBuffer
	// redis is the test's own redis-server, for tests that stop, restart
	// or stall it.
	redis *redistest.Server
	// calls counts the server's Redis round trips per request id.
	calls *redisCalls
	srv   *server.Server
}

// redisCalls is a go-redis hook that counts round trips (a command or a
// pipeline) by the id of the request that made them; work outside any
// request (the maintenance loop, the app cache's subscription) is not counted.
type redisCalls struct {
	mu sync.Mutex
	n  map[string][]string
}

func (rc *redisCalls) add(ctx context.Context, names ...string) {
	if id := server.RequestID(ctx); id != "" {
		rc.mu.Lock()
		rc.n[id] = append(rc.n[id], strings.Join(names, "+"))
		rc.mu.Unlock()
	}
}

// of returns the round trips of the request with the given id.
func (rc *redisCalls) of(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.n[id])
}

// what names the round trips of the request with the given id (a
// pipeline's commands joined by +), for a failure's message.
func (rc *redisCalls) what(id string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.n[id])
}

func (rc *redisCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (rc *redisCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		rc.add(ctx, cmd.FullName())
		return next(ctx, cmd)
	}
}

func (rc *redisCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.FullName()
		}
		rc.add(ctx, names...)
		return next(ctx, cmds)
	}
}

// syncBuffer collects the server's log lines across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newEnv starts enlace; opts adjust the configuration before it starts.
// testEncryptionKey is encryption.key in the tests' configuration.
const testEncryptionKey = "dGVzdCBlbmNyeXB0aW9uIGtleSBvZiAzMiBieXRlcyE="

func newEnv(t *testing.T, opts ...func(*config.Config)) *testEnv {
	t.Helper()
	return newEnvRedis(t, nil, opts...)
}

// newEnvRedis is newEnv with extra redis-server arguments (e.g. AOF on).
// The server's Redis client has the configured timeouts and pool size, as
// in `enlace serve`.
func newEnvRedis(t *testing.T, redisArgs []string, opts ...func(*config.Config)) *testEnv {
	t.Helper()
	e := startEnv(t, redisArgs, nil, opts...)
	e.app, e.secret = e.newApp("Sincronizador", appRedirect)
	return e
}

// startEnv starts enlace on its own redis-server with a merchant and no
// app. seed, when set, seeds the demo app (as `enlace serve` does in the
// embedded mode) once the issuer is known, before the server is built.
func startEnv(t *testing.T, redisArgs []string, seed func(*config.Config, *store.Store) *demo.App,
	opts ...func(*config.Config)) *testEnv {
	t.Helper()
	return startEnvWith(t, redisArgs, seed, nil, opts...)
}

// startEnvWith is startEnv with server options adjusted by adjust (when
// set) before the server is built: the fetcher's test allowance.
func startEnvWith(t *testing.T, redisArgs []string, seed func(*config.Config, *store.Store) *demo.App,
	adjust func(*server.Options), opts ...func(*config.Config)) *testEnv {
	t.Helper()
	rs := redistest.Start(t, redisArgs...)
	cfg, err := config.Load(enlace.DefaultConfig, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.Encryption.Key = testEncryptionKey
	for _, o := range opts {
		o(cfg)
	}
	key, err := cfg.Encryption.KeyBytes()
	if err != nil {
		t.Fatal(err)
	}
	to := cfg.Redis.Timeout
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, DialTimeout: to, ReadTimeout: to, WriteTimeout: to,
		PoolTimeout: to, PoolSize: cfg.Redis.PoolSize, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	calls := &redisCalls{n: map[string][]string{}}
	rdb.AddHook(calls)
	clk := &clock{}
	st := store.New(rdb, store.Options{Now: clk.Now, EncryptionKey: key})
	var exts []server.Extension
	if seed != nil {
		app := seed(cfg, st)
		exts = append(exts, func(r gin.IRouter, h server.Handles) { demo.New(h.Kit, *app).Mount(r) })
	}
	logs := &syncBuffer{}
	so := server.Options{
		Config: cfg, Store: st, SessionSecret: []byte(strings.Repeat("k", 32)),
		Templates: enlace.Templates, Static: enlace.Static,
		Logger: slog.New(server.WithRequestID(slog.NewJSONHandler(logs, nil))), Extensions: exts,
		KeyReload: 50 * time.Millisecond,
	}
	if adjust != nil {
		adjust(&so)
	}
	srv, err := server.New(so)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, ran := make(chan struct{}), make(chan struct{})
	go func() { srv.Run(ctx, ready); close(ran) }()
	// Run's last audit events are written before the Redis client closes.
	t.Cleanup(func() { cancel(); <-ran })
	<-ready
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	e := &testEnv{t: t, url: hs.URL, cfg: cfg, st: st, rdb: rdb, clock: clk, logs: logs, redis: rs, calls: calls, srv: srv}
	e.merchant, err = st.CreateMerchant(context.Background(), "ana@tienda.cl", "Tienda de Ana", password)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *testEnv) newApp(name string, redirects ...string) (*store.App, string) {
	e.t.Helper()
	app, secret, err := e.st.CreateApp(context.Background(), store.AppSpec{
		Name: name, RedirectURIs: redirects,
		Scopes: []string{"read:products", "write:products", "read:checkouts"},
	}, e.cfg.Scopes.Names())
	if err != nil {
		e.t.Fatal(err)
	}
	return app, secret
}

// browser is a cookie-keeping client that does not follow redirects, so
// each step of the flow can be checked.
type browser struct {
	t   *testing.T
	env *testEnv
	c   *http.Client
}

func (e *testEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, env: e, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type page struct {
	status   int
	location string
	header   http.Header
	body     string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, location: res.Header.Get("Location"), header: res.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.abs(path), nil)
	req.Header.Set("Accept-Language", "es-CL,es;q=0.9")
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) abs(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return b.env.url + path
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page (status %d):\n%s", p.status, p.body)
	}
	return m[1]
}

// login follows the authorize request to the login page and logs in, and
// returns the consent page.
func (b *browser) loginAndConsentPage(authorizeURL string) page {
	b.t.Helper()
	p := b.get(authorizeURL)
	if p.status != http.StatusFound || !strings.HasPrefix(p.location, "/login?") {
		b.t.Fatalf("not sent to login: %d %s\n%s", p.status, p.location, p.body)
	}
	login := b.get(p.location)
	next, _ := url.Parse(p.location)
	p = b.post("/login", url.Values{
		"csrf_token": {csrfOf(b.t, login)}, "email": {b.env.merchant.Email}, "password": {password},
		"next": {next.Query().Get("next")},
	})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("login: %d\n%s", p.status, p.body)
	}
	p = b.get(p.location)
	if p.status != http.StatusOK {
		b.t.Fatalf("consent page: %d %s\n%s", p.status, p.location, p.body)
	}
	return p
}

// approve ticks granted on the consent page and returns the redirect to
// the app.
func (b *browser) approve(consentURL string, consentPage page, granted ...string) *url.URL {
	b.t.Helper()
	p := b.post(consentURL, url.Values{"csrf_token": {csrfOf(b.t, consentPage)}, "granted": granted, "decision": {"approve"}})
	if p.status != http.StatusSeeOther {
		b.t.Fatalf("approve: %d\n%s", p.status, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// code runs the browser side of the flow for the test app with the given
// scopes ticked and returns the code.
func (e *testEnv) code(extra url.Values, granted ...string) string {
	e.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {e.app.ClientID}, "redirect_uri": {appRedirect},
		"scope": {"read:products write:products read:checkouts"}, "state": {"xyz"}}
	for k, v := range extra {
		q[k] = v
	}
	authorize := "/apps/authorize?" + q.Encode()
	b := e.browser()
	p := b.loginAndConsentPage(authorize)
	if len(granted) == 0 {
		granted = []string{"read:products", "read:checkouts"}
	}
	u := b.approve(authorize, p, granted...)
	code := u.Query().Get("code")
	if code == "" {
		e.t.Fatalf("no code in %s", u)
	}
	return code
}

type response struct {
	status int
	header http.Header
	json   map[string]any
	raw    string
}

// postToken posts a raw body to a token endpoint.
func (e *testEnv) postToken(path, contentType, body string, basic ...string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	return e.send(req)
}

func (e *testEnv) send(req *http.Request) response {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.json)
	return r
}

func (e *testEnv) form(path string, v url.Values, basic ...string) response {
	e.t.Helper()
	return e.postToken(path, "application/x-www-form-urlencoded", v.Encode(), basic...)
}

func (e *testEnv) info(token string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/api/d/info", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

// assertOAuthError checks an RFC 6749 §5.2 error answer.
func assertOAuthError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.json["error"] != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("error without Cache-Control: no-store")
	}
	if d, _ := r.json["error_description"].(string); d == "" {
		t.Fatalf("error without a description: %s", r.raw)
	}
}

// eventually waits until cond holds, checking every few milliseconds, and
// fails the test after 10 s: for work that the server does in the
// background (the clean-up after an app-wide revocation).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		<-tick.C
	}
}

// secondInstance starts a second enlace on the test's Redis (its own
// client, store and background work, no listener) and returns its store:
// for work that instances share.
func (e *testEnv) secondInstance() *store.Store {
	e.t.Helper()
	to := e.cfg.Redis.Timeout
	rdb := redis.NewClient(&redis.Options{Addr: e.redis.Addr, DialTimeout: to, ReadTimeout: to, WriteTimeout: to,
		PoolTimeout: to, PoolSize: e.cfg.Redis.PoolSize, MaxRetries: -1})
	e.t.Cleanup(func() { _ = rdb.Close() })
	key, _ := e.cfg.Encryption.KeyBytes()
	st := store.New(rdb, store.Options{Now: e.clock.Now, EncryptionKey: key})
	srv, err := server.New(server.Options{Config: e.cfg, Store: st, SessionSecret: []byte(strings.Repeat("k", 32)),
		Templates: enlace.Templates, Static: enlace.Static,
		Logger: slog.New(server.WithRequestID(slog.NewJSONHandler(e.logs, nil)))})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, ran := make(chan struct{}), make(chan struct{})
	go func() { srv.Run(ctx, ready); close(ran) }()
	e.t.Cleanup(func() { cancel(); <-ran })
	<-ready
	return st
}

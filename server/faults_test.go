package server_test

// Faults and operations (issue 7): Redis stopped under load and restarted,
// a stalled Redis, health and readiness, metrics and request ids.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// aof is what docker-compose.yml runs Redis with, strictest fsync: a write
// acknowledged to enlace is on disk before the answer leaves Redis.
var aof = []string{"--appendonly", "yes", "--appendfsync", "always"}

// answer is one HTTP exchange as a load worker sees it; workers run in
// their own goroutines, so nothing here calls t.Fatal.
type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
	err    error
	took   time.Duration
}

func call(c *http.Client, req *http.Request) answer {
	start := time.Now()
	res, err := c.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	a := answer{status: res.StatusCode, header: res.Header, body: string(b), err: err, took: time.Since(start)}
	_ = json.Unmarshal(b, &a.json)
	return a
}

func (a answer) String() string {
	if a.err != nil {
		return "transport error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, strings.TrimSpace(a.body))
}

// unavailableJSON reports whether a is the API's answer to a broken store:
// 503, JSON, temporarily_unavailable.
func unavailableJSON(a answer) bool {
	return a.err == nil && a.status == http.StatusServiceUnavailable &&
		strings.HasPrefix(a.header.Get("Content-Type"), "application/json") &&
		a.json["error"] == "temporarily_unavailable" && a.header.Get("Cache-Control") == "no-store"
}

// unavailablePage reports whether a is the pages' answer to a broken store:
// a 503 HTML error page in the merchant's words (English asked for).
func unavailablePage(a answer) bool {
	return a.err == nil && a.status == http.StatusServiceUnavailable &&
		strings.HasPrefix(a.header.Get("Content-Type"), "text/html") &&
		strings.Contains(a.body, "The service is unavailable right now")
}

func (e *testEnv) tokenRequest(ctx context.Context, v url.Values) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/oauth/token", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.app.ClientID, e.secret)
	return req
}

func (e *testEnv) exchangeRequest(ctx context.Context, code string) *http.Request {
	return e.tokenRequest(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect}})
}

func (e *testEnv) refreshRequest(ctx context.Context, rt string) *http.Request {
	return e.tokenRequest(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func (e *testEnv) infoRequest(ctx context.Context, tok string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/api/d/info", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}

// codes approves n connections of the test app straight in the store, as
// the consent page does, and returns their codes.
func (e *testEnv) codes(n int) []string {
	e.t.Helper()
	out := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				_, code, err := e.st.Approve(context.Background(), store.Grant{ClientID: e.app.ClientID,
					MerchantID: e.merchant.ID, RedirectURI: appRedirect, Scopes: []string{"read:products"}})
				if err != nil {
					errs <- err
					return
				}
				out[i] = code
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
	return out
}

// within polls cond until it holds or the deadline passes, which fails the
// test with what.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		<-tick.C
	}
}

// chain is one connection's token pair as a client holds it: the last
// pair it received with a 200.
type chain struct {
	access, refresh string
	refreshes       int
	// ambiguous: a refresh with this pair's refresh token got no answer
	// (503), so the server may have rotated the pair: the pair is then
	// legitimately dead, its successor never handed out.
	ambiguous bool
}

// faultLoad counts what the load saw in each phase: 0 Redis up, 1 Redis
// down, 2 Redis restarted.
type faultLoad struct {
	phase atomic.Int32

	mu          sync.Mutex
	ok          [3]map[string]int
	unavailable [3]map[string]int
	failures    []string
	chains      []*chain
	// slowest503 is the longest a 503 took.
	slowest503 time.Duration
}

func newFaultLoad() *faultLoad {
	l := &faultLoad{}
	for i := range 3 {
		l.ok[i], l.unavailable[i] = map[string]int{}, map[string]int{}
	}
	return l
}

func (l *faultLoad) count(kind string, a answer) {
	p := l.phase.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.status == http.StatusServiceUnavailable {
		l.unavailable[p][kind]++
		l.slowest503 = max(l.slowest503, a.took)
	} else {
		l.ok[p][kind]++
	}
}

func (l *faultLoad) fail(kind string, a answer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, fmt.Sprintf("%s in phase %d: %s", kind, l.phase.Load(), a))
	}
}

func (l *faultLoad) okIn(p int, kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok[p][kind]
}

func (l *faultLoad) unavailableIn(p int, kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unavailable[p][kind]
}

// TestRedisDownUnderLoad stops the test's redis-server in the middle of a
// load of token requests, resource calls and pages, then restarts it:
// every answer is a success or a clean 503, nothing is a 500, readiness
// follows Redis, service resumes by itself, and every token a client got
// with a 200 is recorded (live after the restart, or legitimately rotated).
func TestRedisDownUnderLoad(t *testing.T) {
	t.Parallel()
	e := newEnvRedis(t, aof)
	codes := e.codes(600)
	codeCh := make(chan string, len(codes))
	var infoTokens []string
	for i, c := range codes {
		if i < 3 {
			r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {c}}, e.app.ClientID, e.secret)
			if r.status != http.StatusOK {
				t.Fatalf("exchange: %d %s", r.status, r.raw)
			}
			infoTokens = append(infoTokens, r.json["access_token"].(string))
			continue
		}
		codeCh <- c
	}
	close(codeCh)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	ctx := context.Background()
	l := newFaultLoad()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	paced := func(fn func() bool) {
		wg.Go(func() {
			tick := time.NewTicker(3 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if !fn() {
					return
				}
			}
		})
	}
	for _, tok := range infoTokens {
		paced(func() bool {
			a := call(client, e.infoRequest(ctx, tok))
			switch {
			case a.err == nil && a.status == http.StatusOK && a.json["MerchantId"] == e.merchant.ID:
				l.count("info", a)
			case unavailableJSON(a):
				l.count("info", a)
			default:
				l.fail("info", a)
			}
			return true
		})
	}
	for range 3 {
		var cur *chain
		paced(func() bool {
			if cur == nil || cur.refreshes >= 3 {
				code, more := <-codeCh
				if !more {
					return false
				}
				a := call(client, e.exchangeRequest(ctx, code))
				switch {
				case a.err == nil && a.status == http.StatusOK:
					cur = &chain{access: fmt.Sprint(a.json["access_token"]), refresh: fmt.Sprint(a.json["refresh_token"])}
					l.mu.Lock()
					l.chains = append(l.chains, cur)
					l.mu.Unlock()
					l.count("exchange", a)
				case unavailableJSON(a):
					// The code may or may not be used: a client would go
					// back to the merchant for a new one.
					cur = nil
					l.count("exchange", a)
				default:
					l.fail("exchange", a)
					cur = nil
				}
				return true
			}
			a := call(client, e.refreshRequest(ctx, cur.refresh))
			switch {
			case a.err == nil && a.status == http.StatusOK:
				at, rt := fmt.Sprint(a.json["access_token"]), fmt.Sprint(a.json["refresh_token"])
				if at == cur.access || rt == cur.refresh {
					l.fail("refresh (pair not rotated)", a)
				}
				cur.access, cur.refresh = at, rt
				cur.refreshes++
				l.count("refresh", a)
			case unavailableJSON(a):
				cur.ambiguous = true
				cur = nil
				l.count("refresh", a)
			default:
				l.fail("refresh", a)
				cur = nil
			}
			return true
		})
	}
	authorize := "/apps/authorize?" + url.Values{"response_type": {"code"}, "client_id": {e.app.ClientID},
		"redirect_uri": {appRedirect}, "scope": {"read:products"}, "state": {"s"}}.Encode()
	pages := 0
	paced(func() bool {
		pages++
		// No cookie: the authorization request is checked (the app is
		// read) and the visitor is sent to log in; the login page starts
		// a session for its CSRF token.
		path := authorize
		if pages%2 == 0 {
			path = "/login"
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+path, nil)
		req.Header.Set("Accept-Language", "en")
		a := call(noRedirects(client), req)
		switch {
		case a.err == nil && path == authorize && a.status == http.StatusFound && strings.HasPrefix(a.header.Get("Location"), "/login?"):
			l.count("page", a)
		case a.err == nil && path == "/login" && a.status == http.StatusOK && csrfRe.MatchString(a.body) &&
			strings.Contains(a.header.Get("Set-Cookie"), "enlace_csrf="):
			l.count("page", a)
		case unavailablePage(a):
			l.count("page", a)
		default:
			l.fail("page", a)
		}
		return true
	})
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()

	within(t, 20*time.Second, "the load did not get going with Redis up", func() bool {
		return l.okIn(0, "info") >= 50 && l.okIn(0, "exchange") >= 25 && l.okIn(0, "refresh") >= 40 && l.okIn(0, "page") >= 10
	})
	l.phase.Store(1)
	e.redis.Stop()
	within(t, 20*time.Second, "every kind of request should meet the outage", func() bool {
		return l.unavailableIn(1, "info") >= 5 && l.unavailableIn(1, "exchange") >= 5 && l.unavailableIn(1, "page") >= 3
	})
	if r := e.get("/readyz"); r.status != http.StatusServiceUnavailable || r.json["status"] != "unavailable" {
		t.Errorf("/readyz with Redis down: %d %s", r.status, r.raw)
	}
	if r := e.get("/healthz"); r.status != http.StatusOK || r.json["status"] != "ok" {
		t.Errorf("/healthz with Redis down: %d %s", r.status, r.raw)
	}
	l.phase.Store(2)
	e.redis.Restart()
	// Nobody tells enlace Redis is back: it must notice by itself.
	within(t, 20*time.Second, "/readyz did not come back after Redis restarted", func() bool {
		return e.get("/readyz").status == http.StatusOK
	})
	within(t, 20*time.Second, "service did not resume under load", func() bool {
		return l.okIn(2, "info") >= 30 && l.okIn(2, "exchange") >= 10 && l.okIn(2, "page") >= 5
	})
	stopLoad()

	l.mu.Lock()
	t.Logf("ok (up/down/back): %v; unavailable: %v; slowest 503 %v", l.ok, l.unavailable, l.slowest503)
	// Refused connections are answered at once; the bound is redis.timeout.
	if l.slowest503 > e.cfg.Redis.Timeout {
		t.Errorf("a 503 took %v, more than redis.timeout (%v)", l.slowest503, e.cfg.Redis.Timeout)
	}
	for _, f := range l.failures {
		t.Errorf("unexpected answer: %s", f)
	}
	for k, n := range l.unavailable[0] {
		t.Errorf("%d %s requests answered 503 while Redis was up", n, k)
	}
	chains := l.chains
	l.mu.Unlock()

	// A fresh exchange and a resource call work after the recovery.
	fresh := e.codes(1)[0]
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {fresh}}, e.app.ClientID, e.secret)
	if r.status != http.StatusOK {
		t.Fatalf("exchange after recovery: %d %s", r.status, r.raw)
	}
	if r := e.info(r.json["access_token"].(string)); r.status != http.StatusOK {
		t.Fatalf("/api/d/info after recovery: %d %s", r.status, r.raw)
	}

	// No token was handed out that is not recorded: every pair a client
	// holds from a 200 still works, unless its refresh token was presented
	// again and got no answer (then the server may have rotated it).
	checked := 0
	for _, tok := range infoTokens {
		if r := e.info(tok); r.status != http.StatusOK {
			t.Errorf("an access token issued before the outage: %d %s", r.status, r.raw)
		}
	}
	for _, c := range chains {
		if c.ambiguous {
			continue
		}
		checked++
		if r := e.info(c.access); r.status != http.StatusOK {
			t.Errorf("an access token a client received with 200 is not recorded: %d %s", r.status, r.raw)
		}
		if _, err := e.st.LookupToken(ctx, c.refresh); err != nil {
			t.Errorf("a refresh token a client received with 200 is not recorded: %v", err)
		}
	}
	if checked < 30 {
		t.Errorf("only %d token pairs to check", checked)
	}
	t.Logf("%d token pairs checked live after the restart (%d chains)", checked, len(chains))

	m := e.get("/metrics").raw
	if v := metricSum(m, "enlace_redis_errors_total"); v <= 0 {
		t.Errorf("enlace_redis_errors_total = %v after the outage", v)
	}
	if v := metricSum(m, "enlace_http_requests_total", `status="500"`); v != 0 {
		t.Errorf("%v requests answered 500", v)
	}
	if strings.Contains(e.logs.String(), `"msg":"panic"`) {
		t.Error("a handler panicked")
	}
}

func noRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

func (e *testEnv) get(path string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
	return e.send(req)
}

// metricSum adds up the samples of a metric (Prometheus text format) whose
// labels include every one of labels (`name="value"`).
func metricSum(exposition, name string, labels ...string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		lbl, val := "", rest
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndex(rest, "}")
			lbl, val = rest[:end+1], rest[end+1:]
		}
		match := true
		for _, want := range labels {
			match = match && strings.Contains(lbl, want)
		}
		if !match {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			sum += v
		}
	}
	return sum
}

// TestSlowRedis stalls Redis for two seconds with a 300 ms redis.timeout:
// token and resource requests answer 503 well before the stall ends instead
// of hanging, and the goroutines of a burst do not outlive it. Not
// parallel: it counts the goroutines of the whole test binary, and its
// bounds are timings.
func TestSlowRedis(t *testing.T) {
	e := newEnvRedis(t, []string{"--enable-debug-command", "local"}, func(c *config.Config) { c.Redis.Timeout = 300 * time.Millisecond })
	codes := e.codes(80)
	warm := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {codes[0]}}, e.app.ClientID, e.secret)
	if warm.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", warm.status, warm.raw)
	}
	tok := warm.json["access_token"].(string)
	// No keep-alive, so idle client connections hold no goroutines.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	runtime.GC()
	before := runtime.NumGoroutine()

	raw := redis.NewClient(&redis.Options{Addr: e.redis.Addr})
	t.Cleanup(func() { _ = raw.Close() })
	const stall = 2 * time.Second
	if err := raw.Do(context.Background(), "CLIENT", "PAUSE", strconv.Itoa(int(stall/time.Millisecond)), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	stalled := time.Now()

	bounded := func(req func(ctx context.Context) *http.Request) (answer, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		start := time.Now()
		return call(client, req(ctx)), time.Since(start)
	}
	a, took := bounded(func(ctx context.Context) *http.Request { return e.exchangeRequest(ctx, codes[1]) })
	if !unavailableJSON(a) {
		t.Fatalf("token request against a stalled Redis (after %v): %s", took, a)
	}
	t.Logf("token request answered %d after %v", a.status, took)

	// A burst while Redis is still stalled: every request answers 503 in
	// time, none waits for Redis.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	slowest := time.Duration(0)
	for i := range 60 {
		wg.Go(func() {
			req := func(ctx context.Context) *http.Request { return e.infoRequest(ctx, tok) }
			if i%2 == 0 {
				req = func(ctx context.Context) *http.Request { return e.exchangeRequest(ctx, codes[2+i]) }
			}
			a, took := bounded(req)
			mu.Lock()
			defer mu.Unlock()
			slowest = max(slowest, took)
			if !unavailableJSON(a) {
				bad = append(bad, a.String())
			}
		})
	}
	wg.Wait()
	burstEnd := time.Since(stalled)
	for _, b := range bad {
		t.Errorf("burst request against a stalled Redis: %s", b)
	}
	t.Logf("burst answered within %v, slowest %v", burstEnd, slowest)
	if burstEnd >= stall {
		t.Errorf("the burst took %v: requests waited for the stall (%v) to end", burstEnd, stall)
	}

	within(t, 10*time.Second, "Redis did not come back after the stall", func() bool {
		return e.get("/readyz").status == http.StatusOK
	})
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {codes[70]}}, e.app.ClientID, e.secret)
	if r.status != http.StatusOK {
		t.Fatalf("exchange after the stall: %d %s", r.status, r.raw)
	}
	if r := e.info(tok); r.status != http.StatusOK {
		t.Fatalf("/api/d/info after the stall: %d %s", r.status, r.raw)
	}
	// Goroutines go back to about where they were: nothing piled up.
	const margin = 25
	var now int
	within(t, 10*time.Second, "goroutines did not come back down after the stall", func() bool {
		now = runtime.NumGoroutine()
		return now <= before+margin
	})
	t.Logf("goroutines: %d before the stall, %d after", before, now)

	// A Redis slower than the timeout rather than stalled: the exchange
	// script runs late, after enlace gave up on it. The client gets a 503,
	// and the code is not taken for a replay (which would revoke the
	// connection) by a retry of the script.
	woke := sleepRedis(t, e.redis.Addr, 600*time.Millisecond)
	a = call(client, e.exchangeRequest(context.Background(), codes[71]))
	<-woke
	if !unavailableJSON(a) {
		t.Errorf("exchange against a slow Redis: %s, want 503 temporarily_unavailable", a)
	}
	connID, _ := store.ParseCredential(store.KindCode, codes[71])
	if c, err := e.st.GetConnection(context.Background(), connID); err != nil || c.Status == store.StatusRevoked {
		t.Errorf("after a slow exchange the connection is %+v (%v): the script ran twice", c, err)
	}
	if v := metricSum(e.get("/metrics").raw, "enlace_events_total", `type="reuse"`); v != 0 {
		t.Errorf("%v refused replays counted, none happened", v)
	}
}

// sleepRedis makes Redis sleep for d (DEBUG SLEEP, which the server must
// allow from loopback) and returns once it is asleep; the channel is closed
// when it wakes.
func sleepRedis(t *testing.T, addr string, d time.Duration) <-chan struct{} {
	t.Helper()
	sleeper := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: d + 5*time.Second, MaxRetries: -1})
	probe := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = sleeper.Close(); _ = probe.Close() })
	if err := probe.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	woke := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(woke)
		errc <- sleeper.Do(context.Background(), "DEBUG", "SLEEP", fmt.Sprint(d.Seconds())).Err()
	}()
	// Asleep once a ping goes unanswered.
	deadline := time.Now().Add(5 * time.Second)
	for probe.Ping(context.Background()).Err() == nil {
		select {
		case err := <-errc:
			t.Fatalf("DEBUG SLEEP: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis did not fall asleep")
		}
	}
	return woke
}

// TestHealthAndReadiness: /healthz is 200 JSON whatever Redis does;
// /readyz follows Redis.
func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	check := func(path string, status int, field, want string) {
		t.Helper()
		r := e.get(path)
		if r.status != status || r.json[field] != want || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s %s, want %d with %s=%s", path, r.status, r.header.Get("Content-Type"), r.raw, status, field, want)
		}
	}
	check("/healthz", 200, "status", "ok")
	check("/readyz", 200, "status", "ready")
	e.redis.Stop()
	check("/healthz", 200, "status", "ok")
	check("/readyz", 503, "status", "unavailable")
	e.redis.Restart()
	within(t, 10*time.Second, "/readyz did not come back", func() bool { return e.get("/readyz").status == http.StatusOK })
	check("/healthz", 200, "status", "ok")
}

// idRecorder is a transport that checks every response carries an
// X-Request-Id.
type idRecorder struct {
	mu      sync.Mutex
	seen    int
	missing []string
}

func (r *idRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.seen++
		if res.Header.Get("X-Request-Id") == "" {
			r.missing = append(r.missing, req.Method+" "+req.URL.Path)
		}
		r.mu.Unlock()
	}
	return res, err
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// TestMetricsAndRequestIDs runs a small flow and reads it back from
// /metrics and the logs.
func TestMetricsAndRequestIDs(t *testing.T) {
	t.Parallel()
	// The test is the trusted front proxy whose X-Request-Id is kept.
	e := newEnv(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1"} })
	rec := &idRecorder{}
	b := e.browser()
	b.c.Transport = rec
	client := &http.Client{Transport: rec}

	authorize := "/apps/authorize?" + url.Values{"response_type": {"code"}, "client_id": {e.app.ClientID},
		"redirect_uri": {appRedirect}, "scope": {"read:products"}, "state": {"s"}}.Encode()
	consentPage := b.loginAndConsentPage(authorize)
	code := b.approve(authorize, consentPage, "read:products").Query().Get("code")

	// A well-formed incoming id is echoed and names the request's log lines.
	const id = "faults-test-0001"
	req := e.exchangeRequest(context.Background(), code)
	req.Header.Set("X-Request-Id", id)
	a := call(client, req)
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("exchange: %s", a)
	}
	if got := a.header.Get("X-Request-Id"); got != id {
		t.Errorf("X-Request-Id %q, want the caller's %q", got, id)
	}
	lines := e.logLines()[id]
	// One line, the request's, which names what the answer was: the
	// grant, the app, the connection and the token record.
	if len(lines) != 1 {
		t.Fatalf("log lines with request_id %s: %v", id, lines)
	}
	if m := lines[0]; m["msg"] != "request" || m["route"] != "/oauth/token" || m["status"] != float64(200) ||
		m["grant_type"] != "authorization_code" || m["client_id"] != e.app.ClientID || m["connection_id"] == nil ||
		m["token_id"] == nil {
		t.Errorf("request log line: %v", m)
	}

	// A malformed one is replaced by a fresh id.
	for _, bad := range []string{"short", "has spaces in it", strings.Repeat("x", 65), `"><script>`} {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/healthz", nil)
		req.Header.Set("X-Request-Id", bad)
		a := call(client, req)
		if got := a.header.Get("X-Request-Id"); got == bad || !requestIDRe.MatchString(got) {
			t.Errorf("incoming id %q answered with %q", bad, got)
		}
	}
	// Ids differ from request to request.
	if x, y := call(client, mustGet(e.url+"/healthz")), call(client, mustGet(e.url+"/healthz")); x.header.Get("X-Request-Id") == y.header.Get("X-Request-Id") {
		t.Error("two requests got the same id")
	}

	// A wrong password is a login failure.
	lb := e.browser()
	lb.c.Transport = rec
	login := lb.get("/login")
	if p := lb.post("/login", url.Values{"csrf_token": {csrfOf(t, login)}, "email": {e.merchant.Email}, "password": {"wrong"}}); p.status == http.StatusSeeOther {
		t.Fatal("a wrong password logged in")
	}
	// Error answers and unknown routes carry ids too.
	call(client, e.infoRequest(context.Background(), "at-nope"))
	call(client, mustGet(e.url+"/no/such/thing"))
	// A method a client invents is counted, under one label: a label per
	// method would let clients grow the metrics without bound.
	for _, method := range []string{"BREW", "WHEN"} {
		req, _ := http.NewRequest(method, e.url+"/healthz", nil)
		call(client, req)
	}
	// Every request is counted once: three more to one route, one label.
	before := metricSum(call(client, mustGet(e.url+"/metrics")).body, "enlace_http_requests_total", `route="/healthz"`, `method="GET"`, `status="200"`)
	for range 3 {
		call(client, mustGet(e.url+"/healthz"))
	}

	m := call(client, mustGet(e.url+"/metrics"))
	if m.status != http.StatusOK {
		t.Fatalf("/metrics: %s", m)
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"enlace_http_requests_total", []string{`route="/oauth/token"`, `method="POST"`, `status="200"`}},
		{"enlace_http_requests_total", []string{`route="/apps/authorize"`, `method="GET"`, `status="302"`}},
		{"enlace_http_requests_total", []string{`route="/login"`, `method="POST"`}},
		{"enlace_http_requests_total", []string{`route="/api/d/info"`, `status="401"`}},
		{"enlace_http_requests_total", []string{`route="unmatched"`, `status="404"`}},
		{"enlace_http_request_duration_seconds_count", []string{`route="/oauth/token"`}},
		{"enlace_events_total", []string{`type="exchange"`}},
		{"enlace_events_total", []string{`type="grant"`}},
		{"enlace_login_failures_total", nil},
		{"go_goroutines", nil},
	} {
		if v := metricSum(m.body, c.name, c.labels...); v < 1 {
			t.Errorf("%s%v = %v, want ≥ 1", c.name, c.labels, v)
		}
	}
	if strings.Contains(m.body, code) {
		t.Error("/metrics shows a code")
	}
	if after := metricSum(m.body, "enlace_http_requests_total", `route="/healthz"`, `method="GET"`, `status="200"`); after != before+3 {
		t.Errorf("three requests to /healthz moved its count from %v to %v", before, after)
	}
	if v := metricSum(m.body, "enlace_http_requests_total", `method="other"`); v != 2 {
		t.Errorf("requests with invented methods counted %v times under method=\"other\", want 2", v)
	}
	if strings.Contains(m.body, `method="BREW"`) || strings.Contains(m.body, `method="WHEN"`) {
		t.Error("an invented method became a metric label")
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.seen < 10 || len(rec.missing) > 0 {
		t.Errorf("%d responses, these without X-Request-Id: %v", rec.seen, rec.missing)
	}
}

func mustGet(u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		panic(err)
	}
	return req
}

// TestAccessLogFailures: with http.access_log: failures, answered
// requests leave no line and refused ones do; the metrics count both.
func TestAccessLogFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) {
		c.HTTP.TrustedProxies = []string{"127.0.0.1"}
		c.HTTP.AccessLog = config.AccessLogFailures
	})
	ctx := context.Background()
	send := func(id string, req *http.Request) response {
		t.Helper()
		req.Header.Set("X-Request-Id", id)
		return e.send(req)
	}
	ex := send("quiet-exchange-1", e.exchangeRequest(ctx, e.codes(1)[0]))
	if ex.status != http.StatusOK {
		t.Fatalf("exchange: %d %s", ex.status, ex.raw)
	}
	if r := send("quiet-info-0001", e.infoRequest(ctx, ex.json["access_token"].(string))); r.status != http.StatusOK {
		t.Fatalf("info: %d %s", r.status, r.raw)
	}
	if r := send("loud-info-00001", e.infoRequest(ctx, "at-nope")); r.status != http.StatusUnauthorized {
		t.Fatalf("info with a wrong token: %d %s", r.status, r.raw)
	}
	lines := e.logLines()
	for _, id := range []string{"quiet-exchange-1", "quiet-info-0001"} {
		if len(lines[id]) != 0 {
			t.Errorf("an answered request was logged: %v", lines[id])
		}
	}
	if l := lines["loud-info-00001"]; len(l) != 1 || l[0]["route"] != "/api/d/info" || l[0]["status"] != float64(401) {
		t.Errorf("the refused request's lines: %v", l)
	}
	m := e.send(mustGet(e.url + "/metrics"))
	for _, status := range []string{"200", "401"} {
		if v := metricSum(m.raw, "enlace_http_requests_total", `route="/api/d/info"`, `status="`+status+`"`); v != 1 {
			t.Errorf("/api/d/info answered %s: counted %v times, want 1", status, v)
		}
	}
}

// logLines is the server's JSON log lines so far, by request_id.
func (e *testEnv) logLines() map[string][]map[string]any {
	lines := map[string][]map[string]any{}
	for line := range strings.Lines(e.logs.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			if id, ok := m["request_id"].(string); ok {
				lines[id] = append(lines[id], m)
			}
		}
	}
	return lines
}

package main

// Operations (issue 7), against the real binary: durability across a Redis
// restart with AOF, graceful shutdown on SIGTERM under load, logs without
// credentials, and a bounded soak. Names here start with "ops" so that
// they stay clear of the rest of package main.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// opsBinary is the enlace binary, built once for the package's tests into
// a directory that TestMain removes at the end.
var opsBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

// TestMain removes the enlace binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if opsBinary.dir != "" {
		_ = os.RemoveAll(opsBinary.dir)
	}
	os.Exit(code)
}

// opsBuild builds the enlace binary, once for all the tests that run it,
// and returns its path.
func opsBuild(t *testing.T) string {
	t.Helper()
	opsBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "enlace-ops-test-")
		if err != nil {
			opsBinary.err = err
			return
		}
		opsBinary.dir = dir
		bin := filepath.Join(dir, "enlace")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			opsBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		opsBinary.path = bin
	})
	if opsBinary.err != nil {
		t.Fatal(opsBinary.err)
	}
	return opsBinary.path
}

// opsLog collects a process's output and notices a line.
type opsLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	found chan struct{}
}

func (l *opsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if l.found != nil && bytes.Contains(l.buf.Bytes(), []byte(l.want)) {
		close(l.found)
		l.found = nil
	}
	return len(p), nil
}

func (l *opsLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// opsProc is a running `enlace serve`.
type opsProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *opsLog
	stdout *opsLog
	exited chan struct{}
	err    error // Wait's answer, once exited is closed
}

// opsStart runs `enlace serve` against the Redis at redisAddr on a free
// loopback port and returns once it listens; it is killed when the test
// ends if it is still running.
func opsStart(t *testing.T, bin, redisAddr string, env ...string) *opsProc {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir() // no config.yaml there: the built-in defaults
	p := &opsProc{url: "http://" + addr, exited: make(chan struct{}),
		stderr: &opsLog{want: `"msg":"enlace listening"`, found: make(chan struct{})}, stdout: &opsLog{}}
	listening := p.stderr.found
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"),
		"ENLACE_HTTP_ADDR=" + addr, "ENLACE_REDIS_ADDR=" + redisAddr,
		"ENLACE_SESSION_SECRET=" + strings.Repeat("0123456789abcdef", 3)}, env...)
	p.cmd.Stderr, p.cmd.Stdout = p.stderr, p.stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
			// Gone before the end: its last words, for a test that failed
			// because of it (shown only with -v or on failure).
			t.Logf("enlace %s has exited (%v); its last log lines:\n%s", p.url, p.err, tail(p.stderr.String(), 2000))
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case <-listening:
	case <-p.exited:
		t.Fatalf("enlace exited before listening: %v\n%s", p.err, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("enlace did not listen within 30s:\n%s", p.stderr)
	}
	return p
}

// stop sends SIGTERM and waits for the exit, which must be 0.
func (p *opsProc) stop(t *testing.T, within time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("enlace did not exit within %v of SIGTERM", within)
	}
	if p.err != nil {
		t.Fatalf("enlace exited with %v:\n%s", p.err, p.stderr)
	}
}

// opsApp is an app created with the admin command.
type opsApp struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	RedirectURIs []string `json:"redirect_uris"`
}

const opsRedirect = "https://ops.example.com/callback"

// opsSetup creates an app and merchants with the admin commands.
func opsSetup(t *testing.T, redisAddr string, merchants ...string) opsApp {
	t.Helper()
	return opsSetupEnv(t, []string{"ENLACE_REDIS_ADDR=" + redisAddr}, merchants...)
}

// opsSetupEnv is opsSetup for the Redis the environment names (a cluster).
func opsSetupEnv(t *testing.T, environ []string, merchants ...string) opsApp {
	t.Helper()
	r := runCmd(t, environ, "", "app", "create", "--name", "Ops app", "--redirect-uri", opsRedirect,
		"--scopes", "read:products write:products read:checkouts", "--json")
	var app opsApp
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &app) != nil || app.ClientID == "" {
		t.Fatalf("app create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, email := range merchants {
		if r := runCmd(t, environ, opsPassword(email)+"\n", "merchant", "create", "--email", email,
			"--name", "Tienda "+email, "--password-stdin"); r.code != 0 {
			t.Fatalf("merchant create: %d %s", r.code, r.stderr)
		}
	}
	return app
}

func opsPassword(email string) string { return "pw of " + email + " 7c1f" }

// opsAnswer is one HTTP answer, for code that must not call t.Fatal.
type opsAnswer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (a *opsAnswer) String() string { return fmt.Sprintf("%d %s", a.status, strings.TrimSpace(a.body)) }

func opsDo(c *http.Client, req *http.Request) (*opsAnswer, error) {
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	a := &opsAnswer{status: res.StatusCode, header: res.Header, body: string(b)}
	_ = json.Unmarshal(b, &a.json)
	return a, nil
}

// opsBrowser is a merchant's browser: it keeps cookies and does not follow
// redirects, so each step can be checked.
type opsBrowser struct {
	base  string
	email string
	c     *http.Client
}

func opsNewBrowser(base, email string, tr http.RoundTripper) *opsBrowser {
	jar, _ := cookiejar.New(nil)
	return &opsBrowser{base: base, email: email, c: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *opsBrowser) get(path string) (*opsAnswer, error) {
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	req.Header.Set("Accept-Language", "es-CL")
	return opsDo(b.c, req)
}

func (b *opsBrowser) post(path string, form url.Values) (*opsAnswer, error) {
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return opsDo(b.c, req)
}

var opsCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func opsCSRFOf(a *opsAnswer) (string, error) {
	m := opsCSRF.FindStringSubmatch(a.body)
	if m == nil {
		return "", fmt.Errorf("no CSRF token on the page: %s", a)
	}
	return m[1], nil
}

// login logs the browser in with password.
func (b *opsBrowser) login(password string) (*opsAnswer, error) {
	p, err := b.get("/login")
	if err != nil {
		return nil, err
	}
	csrf, err := opsCSRFOf(p)
	if err != nil {
		return nil, err
	}
	return b.post("/login", url.Values{"csrf_token": {csrf}, "email": {b.email}, "password": {password}, "next": {"/"}})
}

// authorize runs the browser side of the flow, logging in when the
// browser has no session, and returns the code.
func (b *opsBrowser) authorize(app opsApp, scopes ...string) (string, error) {
	authorize := "/apps/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {opsRedirect}, "scope": {strings.Join(scopes, " ")}, "state": {"st8"}}.Encode()
	p, err := b.get(authorize)
	if err != nil {
		return "", err
	}
	if p.status == http.StatusFound {
		loc := p.header.Get("Location")
		if !strings.HasPrefix(loc, "/login?") {
			return "", fmt.Errorf("authorize: redirected to %q", loc)
		}
		lp, err := b.get(loc)
		if err != nil {
			return "", err
		}
		csrf, err := opsCSRFOf(lp)
		if err != nil {
			return "", err
		}
		next, _ := url.Parse(loc)
		p, err = b.post("/login", url.Values{"csrf_token": {csrf}, "email": {b.email},
			"password": {opsPassword(b.email)}, "next": {next.Query().Get("next")}})
		if err != nil {
			return "", err
		}
		if p.status != http.StatusSeeOther {
			return "", fmt.Errorf("login: %s", p)
		}
		if p, err = b.get(p.header.Get("Location")); err != nil {
			return "", err
		}
	}
	if p.status != http.StatusOK {
		return "", fmt.Errorf("consent page: %s", p)
	}
	csrf, err := opsCSRFOf(p)
	if err != nil {
		return "", err
	}
	p, err = b.post(authorize, url.Values{"csrf_token": {csrf}, "granted": scopes, "decision": {"approve"}})
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(p.header.Get("Location"))
	if p.status != http.StatusSeeOther || u == nil || !strings.HasPrefix(u.String(), opsRedirect+"?") || u.Query().Get("code") == "" {
		return "", fmt.Errorf("approve: %s (Location %q)", p, p.header.Get("Location"))
	}
	return u.Query().Get("code"), nil
}

// opsPair is a token pair.
type opsPair struct{ access, refresh string }

// opsToken posts to the RFC 6749 token endpoint with HTTP Basic.
func opsToken(c *http.Client, base string, app opsApp, v url.Values) (opsPair, *opsAnswer, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(app.ClientID), url.QueryEscape(app.ClientSecret))
	a, err := opsDo(c, req)
	if err != nil {
		return opsPair{}, nil, err
	}
	at, _ := a.json["access_token"].(string)
	rt, _ := a.json["refresh_token"].(string)
	if a.status != http.StatusOK || at == "" || rt == "" {
		return opsPair{}, a, fmt.Errorf("token endpoint: %s", a)
	}
	return opsPair{at, rt}, a, nil
}

// opsExchangeJSON exchanges a code in the Multivende dialect (JSON body,
// secret in the body).
func opsExchangeJSON(c *http.Client, base string, app opsApp, code string) (opsPair, error) {
	body, _ := json.Marshal(map[string]string{"client_id": app.ClientID, "client_secret": app.ClientSecret,
		"grant_type": "authorization_code", "code": code})
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/access-token", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	a, err := opsDo(c, req)
	if err != nil {
		return opsPair{}, err
	}
	at, _ := a.json["token"].(string)
	rt, _ := a.json["refreshToken"].(string)
	if a.status != http.StatusOK || at == "" || rt == "" {
		return opsPair{}, fmt.Errorf("access-token endpoint: %s", a)
	}
	return opsPair{at, rt}, nil
}

func opsExchange(c *http.Client, base string, app opsApp, code string) (opsPair, error) {
	p, _, err := opsToken(c, base, app, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {opsRedirect}})
	return p, err
}

func opsRefresh(c *http.Client, base string, app opsApp, rt string) (opsPair, error) {
	p, _, err := opsToken(c, base, app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	return p, err
}

func opsInfo(c *http.Client, base, tok string) (*opsAnswer, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/api/d/info", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return opsDo(c, req)
}

// opsForm posts an app-authenticated form (introspection, revocation).
func opsForm(c *http.Client, base, path string, app opsApp, v url.Values) (*opsAnswer, error) {
	v.Set("client_id", app.ClientID)
	v.Set("client_secret", app.ClientSecret)
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return opsDo(c, req)
}

func opsWant(t *testing.T, what string, a *opsAnswer, err error, status int) *opsAnswer {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if a.status != status {
		t.Fatalf("%s: %s, want %d", what, a, status)
	}
	return a
}

func opsPoll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		<-tick.C
	}
}

func (p *opsProc) ready() bool {
	res, err := http.Get(p.url + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// TestOpsDurabilityAOF kills and restarts a real redis-server with AOF on
// under a running enlace: the merchant, the app, the connections and the
// live tokens all survive, and so does what was used up (a rotated-out
// refresh token stays refused). Both the strict fsync and the one
// docker-compose.yml runs are checked.
func TestOpsDurabilityAOF(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	for _, fsync := range []string{"always", "everysec"} {
		t.Run(fsync, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t, "--appendonly", "yes", "--appendfsync", fsync)
			const email = "ana@tienda.cl"
			app := opsSetup(t, rs.Addr, email)
			// An hour-long retry window, so that the retry below is one
			// however slow the machine.
			p := opsStart(t, bin, rs.Addr, "ENLACE_TOKENS_REFRESH_RETRY_WINDOW=1h")
			c := &http.Client{Timeout: 10 * time.Second}

			b := opsNewBrowser(p.url, email, nil)
			code, err := b.authorize(app, "read:products", "write:products")
			if err != nil {
				t.Fatal(err)
			}
			live, err := opsExchange(c, p.url, app, code)
			if err != nil {
				t.Fatal(err)
			}
			// A second connection, refreshed twice: its first two pairs are
			// used up, the second one's refresh token just now.
			code2, err := b.authorize(app, "read:products")
			if err != nil {
				t.Fatal(err)
			}
			first, err := opsExchange(c, p.url, app, code2)
			if err != nil {
				t.Fatal(err)
			}
			middle, err := opsRefresh(c, p.url, app, first.refresh)
			if err != nil {
				t.Fatal(err)
			}
			rotated, err := opsRefresh(c, p.url, app, middle.refresh)
			if err != nil {
				t.Fatal(err)
			}
			info := opsOK(t, "info before the restart")(opsInfo(c, p.url, live.access))
			connID, merchantID := info.json["MerchantAppId"], info.json["MerchantId"]

			rs.Stop() // SIGKILL: no chance to write anything more
			rs.Restart()
			opsPoll(t, 15*time.Second, "enlace is not ready again after the Redis restart", p.ready)

			environ := []string{"ENLACE_REDIS_ADDR=" + rs.Addr}
			if r := runCmd(t, environ, "", "app", "list"); r.code != 0 || !strings.Contains(r.stdout, app.ClientID) {
				t.Errorf("the app is gone: %s %s", r.stdout, r.stderr)
			}
			if r := runCmd(t, environ, "", "merchant", "list"); r.code != 0 || !strings.Contains(r.stdout, email) {
				t.Errorf("the merchant is gone: %s %s", r.stdout, r.stderr)
			}
			r := runCmd(t, environ, "", "connection", "list", "--json")
			var page struct{ Data []struct{ ID, Status string } }
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &page) != nil {
				t.Fatalf("connection list: %s %s", r.stdout, r.stderr)
			}
			conns := page.Data
			if !slices.ContainsFunc(conns, func(c struct{ ID, Status string }) bool {
				return c.ID == connID && c.Status == string(store.StatusActive)
			}) || len(conns) != 2 {
				t.Errorf("connections after the restart: %+v, want 2 with %v active", conns, connID)
			}

			// The live tokens work, the used-up ones stay used up.
			a := opsOK(t, "the live access token after the restart")(opsInfo(c, p.url, live.access))
			if a.json["MerchantId"] != merchantID || a.json["MerchantAppId"] != connID {
				t.Errorf("info after the restart: %s", a)
			}
			opsOK(t, "the rotated access token after the restart")(opsInfo(c, p.url, rotated.access))
			if a, err := opsInfo(c, p.url, first.access); err != nil || a.status != http.StatusUnauthorized {
				t.Errorf("an access token replaced before the restart: %v %v", a, err)
			}
			in := opsOK(t, "introspect the live refresh token")(opsForm(c, p.url, "/oauth/introspect", app,
				url.Values{"token": {live.refresh}}))
			if in.json["active"] != true {
				t.Errorf("the live refresh token is inactive after the restart: %s", in)
			}
			next, err := opsRefresh(c, p.url, app, live.refresh)
			if err != nil {
				t.Fatalf("refresh with the live refresh token after the restart: %v", err)
			}
			opsOK(t, "the new access token")(opsInfo(c, p.url, next.access))
			// The password hash and the app secret digest survived too: a
			// new login and exchange work.
			code3, err := opsNewBrowser(p.url, email, nil).authorize(app, "read:checkouts")
			if err != nil {
				t.Fatalf("a new flow after the restart: %v", err)
			}
			if _, err := opsExchange(c, p.url, app, code3); err != nil {
				t.Fatalf("a new exchange after the restart: %v", err)
			}
			// The sealed answer for a retry survived: the just-used refresh
			// token, sent again, gets the very pair it got before.
			if retry, err := opsRefresh(c, p.url, app, middle.refresh); err != nil || retry != rotated {
				t.Errorf("a retry after the restart: %+v %v, want the pair of the first answer", retry, err)
			}
			// Last, as it revokes its connection: an older used refresh
			// token is still known as used, and its replay ends the
			// connection.
			if _, a, _ := opsToken(c, p.url, app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.refresh}}); a == nil || a.status != http.StatusBadRequest {
				t.Errorf("a refresh token used before the restart: %v, want 400", a)
			}
			if a, err := opsInfo(c, p.url, rotated.access); err != nil || a.status != http.StatusUnauthorized {
				t.Errorf("the replayed connection's token still works: %v %v", a, err)
			}
			p.stop(t, 15*time.Second)
		})
	}
}

// opsOK returns a check that an answer is a 200.
func opsOK(t *testing.T, what string) func(*opsAnswer, error) *opsAnswer {
	return func(a *opsAnswer, err error) *opsAnswer {
		t.Helper()
		return opsWant(t, what, a, err, http.StatusOK)
	}
}

// TestOpsGracefulShutdown sends SIGTERM to the binary in the middle of a
// load of GET /api/d/info: the process exits 0 in time, every request that
// got an answer got a 200, and the only failure allowed is a refused
// connection once the listener has closed.
func TestOpsGracefulShutdown(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	rs := redistest.Start(t)
	st := store.New(rs.Client(t), store.Options{})
	ctx := context.Background()
	cfg, err := config.Load(enlace.DefaultConfig, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := st.CreateApp(ctx, store.AppSpec{Name: "Load", RedirectURIs: []string{opsRedirect},
		Scopes: []string{"read:products"}}, cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.CreateMerchant(ctx, "load@tienda.cl", "Load", "pw of load 7c1f")
	if err != nil {
		t.Fatal(err)
	}
	_, code, err := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: m.ID, RedirectURI: opsRedirect, Scopes: []string{"read:products"}})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: app.ClientID})
	if err != nil {
		t.Fatal(err)
	}

	p := opsStart(t, bin, rs.Addr, "ENLACE_HTTP_SHUTDOWN_TIMEOUT=10s")
	const workers = 8
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	var (
		ok        atomic.Int64
		afterTerm atomic.Int64
		termSent  atomic.Bool
		mu        sync.Mutex
		failures  []string
		wg        sync.WaitGroup
	)
	fail := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, s)
	}
	for range workers {
		wg.Go(func() {
			for {
				a, err := opsInfo(c, p.url, iss.AccessToken)
				switch {
				case errors.Is(err, syscall.ECONNREFUSED):
					// The listener is closed: a client would go elsewhere.
					return
				case err != nil:
					fail(fmt.Sprintf("a request in flight failed: %v", err))
					return
				case a.status != http.StatusOK:
					fail("answer " + a.String())
					return
				}
				ok.Add(1)
				if termSent.Load() {
					afterTerm.Add(1)
				}
			}
		})
	}
	opsPoll(t, 20*time.Second, "the load did not get going", func() bool { return ok.Load() >= 300 })
	termSent.Store(true)
	start := time.Now()
	p.stop(t, 15*time.Second)
	t.Logf("exited %v after SIGTERM; %d requests answered 200, %d of them after SIGTERM was sent", time.Since(start), ok.Load(), afterTerm.Load())
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("load workers did not stop")
	}
	for _, f := range failures {
		t.Error(f)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, `"msg":"shutting down"`) {
		t.Errorf("the log does not say it shut down:\n%s", tail(logs, 2000))
	}
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("errors logged during the shutdown:\n%s", tail(logs, 2000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// TestOpsLogsCarryNoCredential runs full flows against the binary, wrong
// turns included, and searches everything it wrote for each credential
// used: app secret, password (right and wrong), code, access and refresh
// tokens, session cookie and CSRF token.
func TestOpsLogsCarryNoCredential(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	rs := redistest.Start(t)
	const email = "secret-keeper@tienda.cl"
	app := opsSetup(t, rs.Addr, email)
	p := opsStart(t, bin, rs.Addr)
	c := &http.Client{Timeout: 10 * time.Second}
	creds := map[string]string{"client secret": app.ClientSecret, "password": opsPassword(email)}

	b := opsNewBrowser(p.url, email, nil)
	const wrong = "not the password 93ab"
	creds["wrong password"] = wrong
	if a, err := b.login(wrong); err != nil || a.status == http.StatusSeeOther {
		t.Fatalf("a wrong password: %v %v", a, err)
	}
	code, err := b.authorize(app, "read:products")
	if err != nil {
		t.Fatal(err)
	}
	creds["code"] = code
	u, _ := url.Parse(p.url)
	for _, ck := range b.c.Jar.Cookies(u) {
		if ck.Name == "enlace_signed_in" {
			continue // "1", no identifier: only says the browser signed in (SECURITY.md, sessions)
		}
		creds["cookie "+ck.Name] = ck.Value
	}
	consent, err := b.get("/connections")
	if err != nil {
		t.Fatal(err)
	}
	if csrf, err := opsCSRFOf(consent); err == nil {
		creds["csrf token"] = csrf
	}
	pair, err := opsExchangeJSON(c, p.url, app, code)
	if err != nil {
		t.Fatal(err)
	}
	creds["access token"], creds["refresh token"] = pair.access, pair.refresh
	// The code again: refused, and its connection revoked.
	if _, a, _ := opsToken(c, p.url, app, url.Values{"grant_type": {"authorization_code"}, "code": {code}}); a == nil || a.status != http.StatusBadRequest {
		t.Errorf("a code used twice: %v", a)
	}
	// A second connection: refresh, introspect, replay, revoke.
	code2, err := b.authorize(app, "read:products", "write:products")
	if err != nil {
		t.Fatal(err)
	}
	creds["code 2"] = code2
	p2, err := opsExchange(c, p.url, app, code2)
	if err != nil {
		t.Fatal(err)
	}
	p3, err := opsRefresh(c, p.url, app, p2.refresh)
	if err != nil {
		t.Fatal(err)
	}
	creds["access token 2"], creds["refresh token 2"] = p2.access, p2.refresh
	creds["access token 3"], creds["refresh token 3"] = p3.access, p3.refresh
	opsOK(t, "info")(opsInfo(c, p.url, p3.access))
	opsOK(t, "introspect")(opsForm(c, p.url, "/oauth/introspect", app, url.Values{"token": {p3.refresh}}))
	opsOK(t, "revoke")(opsForm(c, p.url, "/oauth/revoke", app, url.Values{"token": {p3.access}}))
	if a, err := opsInfo(c, p.url, p3.access); err != nil || a.status != http.StatusUnauthorized {
		t.Errorf("a revoked token: %v %v", a, err)
	}
	// Wrong secrets and tokens that look right.
	badSecret := opsApp{ClientID: app.ClientID, ClientSecret: store.NewSecret()}
	creds["wrong secret"] = badSecret.ClientSecret
	if _, a, _ := opsToken(c, p.url, badSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {p2.refresh}}); a == nil || a.status != http.StatusUnauthorized {
		t.Errorf("a wrong secret: %v", a)
	}
	forged := store.NewCredential(store.KindAccess, store.NewID())
	creds["forged token"] = forged
	if a, _ := opsInfo(c, p.url, forged); a == nil || a.status != http.StatusUnauthorized {
		t.Errorf("a forged token: %v", a)
	}
	// A refresh token used again (after the retry window would revoke,
	// within it answers the same): either way nothing is logged of it.
	if _, err := opsRefresh(c, p.url, app, p2.refresh); err != nil {
		t.Logf("replayed refresh token: %v", err)
	}
	// And a logout.
	if csrf, ok := creds["csrf token"]; ok {
		if _, err := b.post("/logout", url.Values{"csrf_token": {csrf}}); err != nil {
			t.Fatal(err)
		}
	}
	p.stop(t, 15*time.Second)

	stderr, stdout := p.stderr.String(), p.stdout.String()
	lines := strings.Count(stderr, "\n")
	if lines < 20 || !strings.Contains(stderr, `"request_id"`) {
		t.Fatalf("the log has %d lines, without request ids?\n%s", lines, tail(stderr, 2000))
	}
	for name, cred := range creds {
		if len(cred) < 8 {
			t.Fatalf("%s %q is too short to search for", name, cred)
		}
		for _, out := range []string{stderr, stdout} {
			if strings.Contains(out, cred) || strings.Contains(out, url.QueryEscape(cred)) {
				t.Errorf("the %s appears in the output", name)
			}
		}
		// Nor the random part of a token alone.
		if i := strings.LastIndex(cred, "."); i > 0 && len(cred)-i > 20 && strings.Contains(stderr, cred[i+1:]) {
			t.Errorf("the random part of the %s appears in the log", name)
		}
	}
	// Every log line is JSON, and every request line has its id.
	for line := range strings.Lines(stderr) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		if m["msg"] == "request" && m["request_id"] == nil {
			t.Errorf("a request line without request_id: %q", line)
		}
	}
	t.Logf("searched %d log lines for %d credentials", lines, len(creds))
}

// opsMetric reads one sample (summed over labels) from /metrics.
func opsMetric(c *http.Client, base, name string) (float64, error) {
	res, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	found := false
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			rest = rest[i+1:]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q", name, line)
		}
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("no %s in /metrics", name)
	}
	return sum, nil
}

// median of a copy of xs.
func opsMedian(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestOpsSoak runs a mixed flow at a fixed rate against the binary on a
// real Redis with AOF, for SOAK_DURATION (default 60s; -short: 10s):
// merchants log in (some flows reuse a logged-in browser, as merchants
// do), approve, and the app exchanges the code in either dialect, calls
// /api/d/info, refreshes, introspects and sometimes revokes. No answer may
// be unexpected, and the server's memory and goroutines must not grow.
func TestOpsSoak(t *testing.T) {
	t.Parallel()
	duration := 60 * time.Second
	if testing.Short() {
		duration = 10 * time.Second
	}
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SOAK_DURATION: %v", err)
		}
		duration = d
	}
	rate := 20
	if s := os.Getenv("SOAK_RATE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("SOAK_RATE %q", s)
		}
		rate = n
	}
	bin := opsBuild(t)
	rs := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "everysec")
	merchants := []string{"m1@tienda.cl", "m2@tienda.cl", "m3@tienda.cl", "m4@tienda.cl"}
	app := opsSetup(t, rs.Addr, merchants...)
	// The limits count an attempt until its login succeeds; when the whole
	// suite shares the machine, argon2 logins take long enough that more
	// than ten of one account are in flight. The soak is about memory and
	// latency, not limits (those have tests of their own).
	p := opsStart(t, bin, rs.Addr, "ENLACE_LOGIN_LIMITS_PER_ACCOUNT=10000", "ENLACE_LOGIN_LIMITS_PER_ADDRESS=100000")
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	// Logged-in browsers wait here between flows.
	browsers := make(chan *opsBrowser, 64)
	var (
		flows, logins atomic.Int64
		mu            sync.Mutex
		errs          []string
		nerrs         int
	)
	fail := func(n int64, err error) {
		mu.Lock()
		defer mu.Unlock()
		nerrs++
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf("flow %d: %v", n, err))
		}
	}
	flow := func(n int64) error {
		var b *opsBrowser
		select {
		case b = <-browsers:
		default:
		}
		if b == nil || n%5 == 0 {
			b = opsNewBrowser(p.url, merchants[rand.IntN(len(merchants))], tr)
			logins.Add(1)
		}
		code, err := b.authorize(app, "read:products", "read:checkouts")
		if err != nil {
			return err
		}
		select {
		case browsers <- b:
		default:
		}
		var pair opsPair
		if n%2 == 0 {
			pair, err = opsExchangeJSON(c, p.url, app, code)
		} else {
			pair, err = opsExchange(c, p.url, app, code)
		}
		if err != nil {
			return err
		}
		if a, err := opsInfo(c, p.url, pair.access); err != nil || a.status != http.StatusOK || a.json["scope"] != "read:products read:checkouts" {
			return fmt.Errorf("info: %v %v", a, err)
		}
		next, err := opsRefresh(c, p.url, app, pair.refresh)
		if err != nil {
			return err
		}
		if a, err := opsInfo(c, p.url, pair.access); err != nil || a.status != http.StatusUnauthorized {
			return fmt.Errorf("the replaced access token: %v %v", a, err)
		}
		in, err := opsForm(c, p.url, "/oauth/introspect", app, url.Values{"token": {next.refresh}})
		if err != nil || in.status != http.StatusOK || in.json["active"] != true {
			return fmt.Errorf("introspect: %v %v", in, err)
		}
		if n%10 == 3 {
			if a, err := opsForm(c, p.url, "/oauth/revoke", app, url.Values{"token": {next.refresh}}); err != nil || a.status != http.StatusOK {
				return fmt.Errorf("revoke: %v %v", a, err)
			}
			if a, err := opsInfo(c, p.url, next.access); err != nil || a.status != http.StatusUnauthorized {
				return fmt.Errorf("a revoked connection's token: %v %v", a, err)
			}
			return nil
		}
		if a, err := opsInfo(c, p.url, next.access); err != nil || a.status != http.StatusOK {
			return fmt.Errorf("info with the new token: %v %v", a, err)
		}
		return nil
	}

	type sample struct {
		at                             time.Duration
		heap, objects, rss, goroutines float64
	}
	var (
		samplesMu sync.Mutex
		samples   []sample
	)
	read := func(at time.Duration) {
		h, err1 := opsMetric(c, p.url, "go_memstats_heap_inuse_bytes")
		o, err4 := opsMetric(c, p.url, "go_memstats_heap_objects")
		r, err2 := opsMetric(c, p.url, "process_resident_memory_bytes")
		g, err3 := opsMetric(c, p.url, "go_goroutines")
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			fail(-1, err)
			return
		}
		samplesMu.Lock()
		defer samplesMu.Unlock()
		samples = append(samples, sample{at, h, o, r, g})
	}

	const maxInFlight = 64
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var skipped int
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	end := time.After(duration)
	// Memory is sampled beside the load, so that a slow /metrics answer
	// never holds back a tick (a Ticker drops the ticks nobody takes).
	sampling := make(chan struct{})
	var samplerWG sync.WaitGroup
	samplerWG.Go(func() {
		st := time.NewTicker(time.Second)
		defer st.Stop()
		for {
			select {
			case <-sampling:
				return
			case <-st.C:
				read(time.Since(start))
			}
		}
	})
	var n int64
loop:
	for {
		select {
		case <-end:
			break loop
		case <-tick.C:
			select {
			case sem <- struct{}{}:
			default:
				skipped++ // the server fell behind the rate
				continue
			}
			n++
			n := n
			wg.Go(func() {
				defer func() { <-sem }()
				if err := flow(n); err != nil {
					fail(n, err)
				} else {
					flows.Add(1)
				}
			})
		}
	}
	tick.Stop()
	wg.Wait()
	close(sampling)
	samplerWG.Wait()
	elapsed := time.Since(start)
	read(elapsed)
	t.Logf("%d flows in %v (%.1f/s, %d logins), %d ticks skipped, %d errors",
		flows.Load(), elapsed.Round(time.Millisecond), float64(flows.Load())/elapsed.Seconds(), logins.Load(), skipped, nerrs)
	for _, e := range errs {
		t.Error(e)
	}
	if skipped > int(n)/10 {
		t.Errorf("the rate was not held: %d of %d ticks skipped", skipped, int(n)+skipped)
	}

	// Memory: the median over the first stretch after a warm-up against the
	// median over the last stretch, so that one login's argon2 buffer
	// caught in a sample does not decide.
	if len(samples) < 5 {
		t.Fatalf("only %d memory samples", len(samples))
	}
	warm := duration / 5
	var early, late []sample
	for _, s := range samples {
		switch {
		case s.at >= warm && s.at < 2*warm:
			early = append(early, s)
		case s.at >= duration-warm:
			late = append(late, s)
		}
	}
	if len(early) == 0 || len(late) == 0 {
		early, late = samples[:len(samples)/2], samples[len(samples)/2:]
	}
	pick := func(ss []sample, f func(sample) float64) float64 {
		var xs []float64
		for _, s := range ss {
			xs = append(xs, f(s))
		}
		return opsMedian(xs)
	}
	heap0, heap1 := pick(early, func(s sample) float64 { return s.heap }), pick(late, func(s sample) float64 { return s.heap })
	obj0, obj1 := pick(early, func(s sample) float64 { return s.objects }), pick(late, func(s sample) float64 { return s.objects })
	rss0, rss1 := pick(early, func(s sample) float64 { return s.rss }), pick(late, func(s sample) float64 { return s.rss })
	g0, g1 := pick(early, func(s sample) float64 { return s.goroutines }), pick(late, func(s sample) float64 { return s.goroutines })
	const mib = 1 << 20
	t.Logf("server heap in use %.1f → %.1f MiB, heap objects %.0f → %.0f, resident %.1f → %.1f MiB, goroutines %.0f → %.0f",
		heap0/mib, heap1/mib, obj0, obj1, rss0/mib, rss1/mib, g0, g1)
	// A leak of per-request state shows as a growing count of objects.
	// The heap's bytes are dominated by the 64 MiB argon2id buffers of the
	// logins in progress or not yet collected when a sample is taken (up
	// to one per hash slot, a slot per core, and as much again in
	// garbage), so they are allowed that much on top.
	if obj1 > 1.5*obj0+20000 {
		t.Errorf("server heap objects grew from %.0f to %.0f", obj0, obj1)
	}
	argon := float64(2*max(2, runtime.NumCPU())) * 64 * mib
	if heap1 > 2*heap0+argon+20*mib {
		t.Errorf("server heap grew from %.1f to %.1f MiB", heap0/mib, heap1/mib)
	}
	if g1 > 2*g0+50 {
		t.Errorf("server goroutines grew from %.0f to %.0f", g0, g1)
	}
	if flows.Load() < int64(float64(rate)*duration.Seconds()*0.8) {
		t.Errorf("%d flows, want about %.0f", flows.Load(), float64(rate)*duration.Seconds())
	}
	p.stop(t, 15*time.Second)
	if logs := p.stderr.String(); strings.Contains(logs, `"level":"ERROR"`) {
		i := strings.Index(logs, `"level":"ERROR"`)
		t.Errorf("errors in the server log: %s", tail(logs[:min(len(logs), i+500)], 1000))
	}
}

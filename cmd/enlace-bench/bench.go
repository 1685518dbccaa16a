package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/cmd/internal/launch"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// enlace-bench measures a running enlace the way its operators would:
// against the server and its real Redis, on loopback only, for a bounded
// time. It prepares its own app, merchants, codes and tokens directly in
// Redis through the store, then runs each scenario twice in the same run:
// against the real endpoint and against its floor (floor.go, served by
// `enlace-bench serve`), a minimal handler in the same
// binary that does only the endpoint's Redis round trips and answers with a
// body of the same size. For each it reports operations per second,
// latency percentiles, errors, Redis commands per operation (from INFO
// commandstats) and the server's memory, and the real endpoint's
// throughput as a ratio to its floor's. With --twin, the token scenarios
// run a third time, against the floor's independent twin (twin.go: the
// same Redis calls in a plain net/http process of its own), and the
// report gives the ratio to it too.

// benchScenarios are the scenarios, in the order they run.
var benchScenarios = []string{"exchange", "exchange-openid", "exchange-es256", "refresh", "introspect", "info", "info-dpop",
	"middleware", "consent", "flow"}

// twinScenarios are the scenarios that also run against the twin: the
// token endpoint's and the token checks'.
var twinScenarios = []string{"exchange", "exchange-openid", "exchange-es256", "refresh", "introspect", "info", "middleware"}

// oidcScopes are added to the grants of the exchange-openid scenarios:
// the exchange then signs an ID token (RS256, or ES256 for the second
// app) with the profile and email claims.
var oidcScopes = []string{"openid", "profile", "email"}

// benchScopes are what the benchmark's app is registered for and asks for.
var benchScopes = []string{"read:products", "write:products", "read:checkouts"}

// benchRedirect is the benchmark app's redirect URI; nothing listens
// there, and redirects are never followed.
const benchRedirect = "http://127.0.0.1/enlace-bench/callback"

type benchOptions struct {
	URL string
	// URLs are the instances the load is spread over (worker i talks to
	// URLs[i % len]); URL names them all in the report.
	URLs []string
	// Twin names the floor's twins (`enlace-bench twin`), TwinURLs them
	// one by one (worker i talks to TwinURLs[i % len]); none without
	// --twin.
	Twin     string
	TwinURLs []string
	Redis    string
	Duration time.Duration
	// Rounds splits each target's Duration into this many slices, run in
	// turn (enlace, floor, twin, enlace, …): a machine whose speed drifts
	// over a scenario's run then weighs on every target alike instead of
	// on whichever ran last.
	Rounds      int
	Concurrency int
	Scenarios   []string
	// Pool is how many one-use credentials (codes, refresh tokens) are
	// prepared for each target of a scenario that consumes them; when they
	// run out, the phase ends early and says so.
	Pool int
}

func (e *env) bench(ctx context.Context, path string, explicit bool, args []string) error {
	cfg, err := e.loadConfig(path, explicit)
	if err != nil {
		return err
	}
	fs := e.flags("bench")
	o := benchOptions{}
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "base URL of the running enlace (loopback only); several, comma-separated, spread the clients over instances of one deployment")
	fs.StringVar(&o.Twin, "twin", "", "base URL of the floor's independent twin (`enlace-bench twin`, loopback only; comma-separated for several): the token scenarios also run against it")
	fs.StringVar(&o.Redis, "redis", cfg.Redis.Addr, "host:port of the server's Redis (loopback only; default redis.addr)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long each scenario runs against each target")
	fs.IntVar(&o.Rounds, "rounds", 1, "run the targets of a scenario in turn this many times, each for --duration/rounds, and merge each target's slices")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "concurrent clients")
	scenarios := fs.String("scenarios", strings.Join(benchScenarios, ","), "comma-separated scenarios to run")
	fs.IntVar(&o.Pool, "pool", 0, "one-use codes or refresh tokens prepared per target (0: 10000 per second of --duration)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	jsonFile := fs.String("json-file", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(benchScenarios, s) {
			return fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(benchScenarios, ", "))
		}
		o.Scenarios = append(o.Scenarios, s)
	}
	if len(o.Scenarios) == 0 {
		return errors.New("no scenario to run")
	}
	if o.Duration <= 0 || o.Duration > 10*time.Minute {
		return errors.New("--duration must be positive and at most 10m")
	}
	if o.Rounds < 1 || o.Rounds > 100 || o.Duration/time.Duration(o.Rounds) < 100*time.Millisecond {
		return errors.New("--rounds must be between 1 and 100, with at least 100ms of --duration per round")
	}
	if o.Concurrency < 1 || o.Concurrency > 1024 {
		return errors.New("--concurrency must be between 1 and 1024")
	}
	if o.Pool == 0 {
		o.Pool = max(1000, int(10000*o.Duration.Seconds()))
	}
	if o.URLs, err = loopbackURLs("--url", o.URL); err != nil {
		return err
	}
	if len(o.URLs) == 0 {
		return errors.New("--url names no server")
	}
	o.URL = strings.Join(o.URLs, ",")
	if o.TwinURLs, err = loopbackURLs("--twin", o.Twin); err != nil {
		return err
	}
	o.Twin = strings.Join(o.TwinURLs, ",")
	rdb, err := connectServerRedis(ctx, cfg, &o.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	b := &benchRun{opts: o, rdb: rdb, progress: e.stderr, catalogue: cfg.Scopes.Names(),
		st: store.New(rdb, store.Options{
			Lifetimes: store.Lifetimes{Code: cfg.Tokens.Code, Access: cfg.Tokens.Access, Refresh: cfg.Tokens.Refresh},
			Logger:    slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})}
	rep, err := b.run(ctx)
	if err != nil {
		return err
	}
	if *jsonFile != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonFile, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
	}
	if *asJSON {
		return e.writeJSON(rep)
	}
	printBenchReport(e.stdout, rep)
	return nil
}

// loopbackURLs splits the comma-separated base URLs of flag name.
func loopbackURLs(name, list string) ([]string, error) {
	var out []string
	for u := range strings.SplitSeq(list, ",") {
		if u = strings.TrimSuffix(strings.TrimSpace(u), "/"); u == "" {
			continue
		}
		if err := checkLoopbackURL(name, u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// checkLoopbackURL refuses any target but this machine: load goes to
// loopback only.
// connectServerRedis opens the Redis of the server under load: the one
// *addr names (loopback only), or a cluster or Sentinel setup as
// configured, whose description it then puts in *addr.
func connectServerRedis(ctx context.Context, cfg *config.Config, addr *string) (redis.UniversalClient, error) {
	rcfg := *cfg
	if cfg.Redis.Mode == config.RedisSingle {
		if *addr == "" {
			return nil, errors.New("the load tool needs the server's real Redis: --redis, redis.addr or ENLACE_REDIS_ADDR " +
				"(an embedded Redis lives only inside its server)")
		}
		if err := checkLoopbackAddr(*addr); err != nil {
			return nil, err
		}
		rcfg.Redis.Addr = *addr
	} else {
		for _, a := range cfg.Redis.Addrs {
			if err := checkLoopbackAddr(a); err != nil {
				return nil, err
			}
		}
		*addr = cfg.Redis.Describe()
	}
	return launch.Connect(ctx, &rcfg)
}

func checkLoopbackURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q must be an http(s) URL", name, raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%s %q is not a loopback address: bench only loads this machine (127.0.0.1, ::1, localhost)", name, raw)
	}
	return nil
}

func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--redis %q must be host:port: %w", addr, err)
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("--redis %q is not a loopback address: bench only loads this machine", addr)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// benchReport is what a run found.
type benchReport struct {
	URL string `json:"url"`
	// Twin is the floor's twin, when there was one.
	Twin         string    `json:"twin,omitempty"`
	Redis        string    `json:"redis"`
	RedisVersion string    `json:"redis_version"`
	Concurrency  int       `json:"concurrency"`
	Duration     string    `json:"duration"`
	Rounds       int       `json:"rounds"`
	Pool         int       `json:"pool"`
	Started      time.Time `json:"started"`
	// ServerBefore and ServerAfter are the server's memory at the start
	// and the end of the run.
	ServerBefore memStats `json:"server_memory_before"`
	ServerAfter  memStats `json:"server_memory_after"`
	// RedisBytesPerConnection is Redis's used_memory growth per live
	// connection (code exchanged, tokens issued) while they were prepared,
	// indexes and their share of the audit stream included; 0 when no
	// scenario prepared them.
	RedisBytesPerConnection float64 `json:"redis_bytes_per_connection"`
	// ConnectionHashBytes is MEMORY USAGE of one such connection's hash.
	ConnectionHashBytes int64            `json:"connection_hash_bytes"`
	Scenarios           []scenarioReport `json:"scenarios"`
}

type memStats struct {
	HeapAlloc    uint64 `json:"heap_alloc"`
	HeapInuse    uint64 `json:"heap_inuse"`
	Sys          uint64 `json:"sys"`
	NumGC        uint32 `json:"num_gc"`
	NumGoroutine int    `json:"num_goroutine"`
	// CPUSeconds is the CPU time the process has used (user and system).
	CPUSeconds float64 `json:"cpu_seconds"`
}

type scenarioReport struct {
	Name          string `json:"name"`
	RequestsPerOp int    `json:"requests_per_op"`
	// Ratio is the real endpoint's successful operations per second over
	// its floor's.
	Ratio float64     `json:"ratio"`
	Real  phaseReport `json:"enlace"`
	Floor phaseReport `json:"floor"`
	// Twin is the run against the floor's independent twin (--twin), for
	// the token scenarios; TwinRatio is the real endpoint's successful
	// operations per second over the twin's, FloorTwinRatio the floor's
	// over the twin's (what the server's stack costs the floor).
	Twin           *phaseReport `json:"twin,omitempty"`
	TwinRatio      float64      `json:"twin_ratio,omitempty"`
	FloorTwinRatio float64      `json:"floor_twin_ratio,omitempty"`
	// TwinCPURatio is the twin's server CPU per operation over enlace's:
	// the throughput ratio a server with cores of its own would reach,
	// steadier than TwinRatio on a machine the load tool shares.
	TwinCPURatio float64 `json:"twin_cpu_ratio,omitempty"`
	// TwinRatioRounds is TwinRatio round by round (--rounds above 1),
	// enlace's slice over the twin's that followed it: its spread is the
	// noise a single ratio carries on this machine.
	TwinRatioRounds []float64 `json:"twin_ratio_rounds,omitempty"`
}

type phaseReport struct {
	Ops          int64    `json:"ops"`
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	Seconds      float64  `json:"seconds"`
	OpsPerSec    float64  `json:"ops_per_sec"`
	P50          float64  `json:"p50_ms"`
	P95          float64  `json:"p95_ms"`
	P99          float64  `json:"p99_ms"`
	Max          float64  `json:"max_ms"`
	// RedisCommandsPerOp counts every command Redis ran, those inside
	// scripts included (INFO commandstats); RedisReadsPerOp counts the
	// reads of client input Redis processed (total_reads_processed), close
	// to the round trips: a pipeline or a script is one.
	RedisCommandsPerOp float64            `json:"redis_commands_per_op"`
	RedisReadsPerOp    float64            `json:"redis_reads_per_op"`
	Commands           map[string]float64 `json:"commands_per_op"`
	// RoundOpsPerSec is each slice's rate, in the order run (--rounds
	// above 1): what the merged OpsPerSec hides of the machine's drift.
	RoundOpsPerSec []float64 `json:"round_ops_per_sec,omitempty"`
	// Exhausted: the prepared credentials ran out before the duration.
	Exhausted bool     `json:"exhausted,omitempty"`
	MemBefore memStats `json:"server_memory_before"`
	MemAfter  memStats `json:"server_memory_after"`
	// ServerCPUPerOp is the CPU time (µs) the server process used per
	// operation; of several instances, the first one's over its share of
	// the operations. RedisCPUPerOp is Redis's (every primary's).
	ServerCPUPerOp float64 `json:"server_cpu_us_per_op"`
	RedisCPUPerOp  float64 `json:"redis_cpu_us_per_op"`

	// What the figures are computed from, kept to merge the slices of a
	// target's load (--rounds).
	lat                 []time.Duration
	elapsed             time.Duration
	calls               map[string]int64
	reads               int64
	serverCPU, redisCPU float64 // seconds
	instances           int
}

// benchRun is one run's state.
type benchRun struct {
	opts      benchOptions
	rdb       redis.UniversalClient
	st        *store.Store
	catalogue []string
	progress  io.Writer
	transport *http.Transport

	app    *store.App
	secret string
	// esApp signs its ID tokens with ES256 (b.app with RS256).
	esApp     *store.App
	esSecret  string
	merchants []*store.Merchant
	password  string
	// access holds one live access token per worker.
	access    []string
	authorize string // the authorize request's query
}

// errExhausted ends a worker: the prepared credentials ran out.
var errExhausted = errors.New("prepared credentials ran out")

func (b *benchRun) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

func (b *benchRun) run(ctx context.Context) (*benchReport, error) {
	o := b.opts
	b.transport = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: o.Concurrency + 16,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer b.transport.CloseIdleConnections()
	rep := &benchReport{URL: o.URL, Twin: o.Twin, Redis: o.Redis, Concurrency: o.Concurrency, Duration: o.Duration.String(),
		Rounds: o.Rounds, Pool: o.Pool, Started: time.Now().UTC()}
	before, err := b.memstats(ctx, o.URLs[0])
	if err != nil {
		return nil, err
	}
	rep.ServerBefore = before
	for _, u := range o.TwinURLs {
		if _, err := b.memstats(ctx, u); err != nil {
			return nil, fmt.Errorf("--twin: %w", err)
		}
	}
	info, err := b.rdb.Info(ctx, "server").Result()
	if err != nil {
		return nil, fmt.Errorf("redis info: %w", err)
	}
	rep.RedisVersion = infoField(info, "redis_version")

	if err := b.prepareCommon(ctx); err != nil {
		return nil, err
	}
	for _, name := range o.Scenarios {
		sr, err := b.scenario(ctx, name, rep)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rep.Scenarios = append(rep.Scenarios, *sr)
		b.logf("%s: enlace %.0f ops/s, floor %.0f ops/s, ratio %.2f, p99 %.1f ms, errors %d/%d",
			name, sr.Real.OpsPerSec, sr.Floor.OpsPerSec, sr.Ratio, sr.Real.P99, sr.Real.Errors, sr.Floor.Errors)
		if sr.Twin != nil {
			spread := ""
			if rr := sr.TwinRatioRounds; len(rr) > 1 {
				spread = fmt.Sprintf(", rounds %.2f–%.2f", slices.Min(rr), slices.Max(rr))
			}
			b.logf("%s: twin %.0f ops/s, ratio to the twin %.2f (floor %.2f%s), twin p99 %.1f ms, errors %d",
				name, sr.Twin.OpsPerSec, sr.TwinRatio, sr.FloorTwinRatio, spread, sr.Twin.P99, sr.Twin.Errors)
		}
	}
	if n, err := b.floorCleanup(ctx); err != nil {
		b.logf("cleaning up floor keys: %v", err)
	} else if n > 0 {
		b.logf("deleted %d floor keys", n)
	}
	if rep.ServerAfter, err = b.memstats(ctx, o.URLs[0]); err != nil {
		return nil, err
	}
	return rep, nil
}

// prepareCommon creates the app, one merchant per worker (each worker
// logs in as its own, so no account's login limit is shared) and the
// authorize request.
func (b *benchRun) prepareCommon(ctx context.Context) error {
	var err error
	name := "enlace bench " + time.Now().UTC().Format(time.RFC3339)
	b.app, b.secret, err = b.st.CreateApp(ctx, store.AppSpec{
		Name: name, RedirectURIs: []string{benchRedirect}, Scopes: append(slices.Clone(benchScopes), oidcScopes...),
		By: store.ActorCLI,
	}, b.catalogue)
	if err != nil {
		return fmt.Errorf("create the benchmark app: %w", err)
	}
	b.esApp, b.esSecret, err = b.st.CreateApp(ctx, store.AppSpec{
		Name: name + " ES256", RedirectURIs: []string{benchRedirect}, Scopes: append(slices.Clone(benchScopes), oidcScopes...),
		IDTokenAlg: store.AlgES256, By: store.ActorCLI,
	}, b.catalogue)
	if err != nil {
		return fmt.Errorf("create the benchmark app: %w", err)
	}
	needLogins := slices.Contains(b.opts.Scenarios, "consent") || slices.Contains(b.opts.Scenarios, "flow")
	n := 1
	if needLogins {
		n = b.opts.Concurrency
	}
	b.logf("preparing an app and %d merchant(s)", n)
	b.password = store.NewSecret()[:20]
	run := store.NewSecret()[:8]
	b.merchants = make([]*store.Merchant, n)
	err = parallel(ctx, n, 2, func(i int) error {
		m, err := b.st.CreateMerchant(ctx, fmt.Sprintf("bench-%s-%d@enlace.test", strings.ToLower(run), i),
			fmt.Sprintf("Bench %d", i), b.password)
		b.merchants[i] = m
		return err
	})
	if err != nil {
		return fmt.Errorf("create merchants: %w", err)
	}
	b.authorize = url.Values{"response_type": {"code"}, "client_id": {b.app.ClientID}, "redirect_uri": {benchRedirect},
		"scope": {strings.Join(benchScopes, " ")}, "state": {"bench"}}.Encode()
	return nil
}

// parallel runs fn(0..n-1) on at most width goroutines and returns the
// first error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(width, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// grant is an approval by merchant i of the benchmark app.
func (b *benchRun) grant(i int) store.Grant {
	return store.Grant{ClientID: b.app.ClientID, MerchantID: b.merchants[i%len(b.merchants)].ID,
		RedirectURI: benchRedirect, Scopes: benchScopes}
}

// codes prepares n unused authorization codes of the benchmark app, or
// with openid of app.
func (b *benchRun) codes(ctx context.Context, n int, app *store.App) (*pool, error) {
	out := make([]string, n)
	err := parallel(ctx, n, 32, func(i int) error {
		g := b.grant(i)
		if app != nil {
			g.ClientID, g.Scopes = app.ClientID, append(slices.Clone(benchScopes), oidcScopes...)
			g.Nonce, g.AuthTime = store.NewSecret()[:16], time.Now()
		}
		_, code, err := b.st.Approve(ctx, g)
		out[i] = code
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("prepare codes: %w", err)
	}
	return &pool{items: out}, nil
}

// issued prepares n live connections with their first token pair.
func (b *benchRun) issued(ctx context.Context, n int) ([]*store.Issued, error) {
	out := make([]*store.Issued, n)
	err := parallel(ctx, n, 32, func(i int) error {
		_, code, err := b.st.Approve(ctx, b.grant(i))
		if err != nil {
			return err
		}
		out[i], err = b.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: b.app.ClientID})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("prepare tokens: %w", err)
	}
	return out, nil
}

// refreshTokens prepares n unused refresh tokens, and measures what a live
// connection costs Redis on the way.
func (b *benchRun) refreshTokens(ctx context.Context, n int, rep *benchReport) (*pool, error) {
	before, err := b.redisStats(ctx)
	if err != nil {
		return nil, err
	}
	iss, err := b.issued(ctx, n)
	if err != nil {
		return nil, err
	}
	after, err := b.redisStats(ctx)
	if err != nil {
		return nil, err
	}
	if rep.RedisBytesPerConnection == 0 {
		rep.RedisBytesPerConnection = float64(after.usedMemory-before.usedMemory) / float64(n)
		connID, _ := store.ParseCredential(store.KindRefresh, iss[0].RefreshToken)
		rep.ConnectionHashBytes, _ = b.rdb.MemoryUsage(ctx, store.ConnectionKey(connID)).Result()
	}
	out := make([]string, n)
	for i, x := range iss {
		out[i] = x.RefreshToken
	}
	return &pool{items: out}, nil
}

// pool hands out one-use credentials.
type pool struct {
	items []string
	next  atomic.Int64
}

func (p *pool) take() (string, error) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.items)) {
		return "", errExhausted
	}
	return p.items[i], nil
}

// worker is one simulated client.
type worker struct {
	i int
	// base is the URL of the instance the worker talks to.
	base string
	c    *http.Client
	buf  bytes.Buffer
	csrf string
}

// answer is a response as the benchmark looks at it.
type answer struct {
	status int
	body   []byte
	loc    string
}

func (b *benchRun) newClient(jar bool) *http.Client {
	c := &http.Client{Transport: b.transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if jar {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

// do sends a request; form, when not nil, is the urlencoded body.
func (b *benchRun) do(ctx context.Context, w *worker, c *http.Client, method, path string, form *string, hdr func(h http.Header)) (answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(*form)
	}
	base := b.opts.URLs[0]
	if w != nil {
		base = w.base
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if hdr != nil {
		hdr(req.Header)
	}
	if c == nil {
		c = w.c
	}
	res, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	w.buf.Reset()
	if _, err := w.buf.ReadFrom(res.Body); err != nil {
		return answer{}, err
	}
	return answer{status: res.StatusCode, body: w.buf.Bytes(), loc: res.Header.Get("Location")}, nil
}

func (a answer) expect(status int, what string) error {
	if a.status == status {
		return nil
	}
	body := a.body
	if len(body) > 160 {
		body = body[:160]
	}
	return fmt.Errorf("%s: status %d, want %d: %s", what, a.status, status, bytes.TrimSpace(body))
}

// sizes keeps the mean response size of each step of the real endpoint,
// which its floor then answers with.
type sizes struct {
	body, loc, n [8]atomic.Int64
}

func (s *sizes) add(step int, a answer) {
	s.body[step].Add(int64(len(a.body)))
	s.loc[step].Add(int64(len(a.loc)))
	s.n[step].Add(1)
}

// query is "size=…&loc=…" for step.
func (s *sizes) query(step int) string {
	n := max(s.n[step].Load(), 1)
	q := "size=" + strconv.FormatInt(s.body[step].Load()/n, 10)
	if l := s.loc[step].Load() / n; l > 0 {
		q += "&loc=" + strconv.FormatInt(l, 10)
	}
	return q
}

var csrfPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfIn(a answer) (string, error) {
	m := csrfPattern.FindSubmatch(a.body)
	if m == nil {
		return "", errors.New("no CSRF token on the page")
	}
	return string(m[1]), nil
}

// target is one side of a scenario: optional set-ups, done before the
// clock starts (once, then per worker), and the operation that is timed.
// Its requests go to urls (nil: the servers, --url).
type target struct {
	urls  []string
	once  func()
	setup func(ctx context.Context, w *worker) error
	op    func(ctx context.Context, w *worker) error
	jar   bool
}

func (b *benchRun) basic(h http.Header) {
	h.Set("Authorization", "Basic "+basicAuth(b.app.ClientID, b.secret))
}

func basicAuth(id, secret string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func bearer(tok string) func(http.Header) {
	return func(h http.Header) { h.Set("Authorization", "Bearer "+tok) }
}

// scenario prepares and runs one scenario against both targets: the real
// endpoint first (its answers' sizes are what the floor then returns).
func (b *benchRun) scenario(ctx context.Context, name string, rep *benchReport) (*scenarioReport, error) {
	sz := &sizes{}
	var real, floor, twin target
	withTwin := len(b.opts.TwinURLs) > 0 && slices.Contains(twinScenarios, name)
	twin.urls = b.opts.TwinURLs
	requests := 1
	switch name {
	case "exchange", "exchange-openid", "exchange-es256", "refresh":
		grant, field := "authorization_code", "code"
		auth := b.basic
		var app *store.App
		switch name {
		case "exchange-openid":
			app = b.app
		case "exchange-es256":
			app = b.esApp
			auth = func(h http.Header) { h.Set("Authorization", "Basic "+basicAuth(b.esApp.ClientID, b.esSecret)) }
		}
		prepare := func() (*pool, error) { return b.codes(ctx, b.opts.Pool, app) }
		if name == "refresh" {
			grant, field = "refresh_token", "refresh_token"
			prepare = func() (*pool, error) { return b.refreshTokens(ctx, b.opts.Pool, rep) }
		}
		targets := 2
		if withTwin {
			targets = 3
		}
		b.logf("%s: preparing %d × %d one-use credentials", name, targets, b.opts.Pool)
		t0 := time.Now()
		pools := make([]*pool, targets)
		for i := range pools {
			var err error
			if pools[i], err = prepare(); err != nil {
				return nil, err
			}
		}
		b.logf("%s: prepared in %.1fs", name, time.Since(t0).Seconds())
		tokenOp := func(p *pool, path func() string) func(ctx context.Context, w *worker) error {
			return func(ctx context.Context, w *worker) error {
				cred, err := p.take()
				if err != nil {
					return err
				}
				form := "grant_type=" + grant + "&" + field + "=" + url.QueryEscape(cred)
				a, err := b.do(ctx, w, nil, http.MethodPost, path(), &form, auth)
				if err != nil {
					return err
				}
				if err := a.expect(http.StatusOK, "token"); err != nil {
					return err
				}
				if app != nil && path() == "/oauth/token" && !bytes.Contains(a.body, []byte(`"id_token":"`)) {
					return fmt.Errorf("token: no id_token in %s", a.body)
				}
				sz.add(0, a)
				return nil
			}
		}
		real.op = tokenOp(pools[0], func() string { return "/oauth/token" })
		floorPath := ""
		floor.once = func() { floorPath = "/_floor/token?" + sz.query(0) }
		floor.op = tokenOp(pools[1], func() string { return floorPath })
		if withTwin {
			// The floor's very requests (its path was fixed when its phase
			// began), on credentials of its own.
			twin.op = tokenOp(pools[2], func() string { return floorPath })
		}
	case "introspect", "info", "middleware":
		if err := b.accessTokens(ctx); err != nil {
			return nil, err
		}
		realPath, floorPath := "/api/d/info", "/_floor/bearer?"
		if name == "middleware" {
			realPath = "/_floor/protected"
		}
		if name == "introspect" {
			realPath, floorPath = "/oauth/introspect", "/_floor/introspect?"
		}
		op := func(path func() string) func(ctx context.Context, w *worker) error {
			return func(ctx context.Context, w *worker) error {
				var (
					a   answer
					err error
				)
				tok := b.access[w.i]
				if name == "introspect" {
					form := "token=" + url.QueryEscape(tok)
					a, err = b.do(ctx, w, nil, http.MethodPost, path(), &form, b.basic)
				} else {
					a, err = b.do(ctx, w, nil, http.MethodGet, path(), nil, bearer(tok))
				}
				if err != nil {
					return err
				}
				if err := a.expect(http.StatusOK, name); err != nil {
					return err
				}
				if name == "introspect" && !bytes.Contains(a.body, []byte(`"active":true`)) && path() == realPath {
					return fmt.Errorf("introspect: token not active: %s", a.body)
				}
				sz.add(0, a)
				return nil
			}
		}
		real.op = op(func() string { return realPath })
		floorURL := ""
		floor.once = func() { floorURL = floorPath + sz.query(0) }
		floor.op = op(func() string { return floorURL })
		twin.op = op(func() string { return floorURL })
	case "info-dpop":
		var err error
		if real, floor, err = b.dpopTargets(ctx, sz); err != nil {
			return nil, err
		}
	case "consent":
		requests = 2
		real, floor = b.consentTargets(sz)
	case "flow":
		requests = 6
		// The flow's floor makes six requests per code: it needs fewer.
		n := max(b.opts.Pool/6, min(b.opts.Pool, 1000))
		b.logf("flow: preparing %d codes for the floor", n)
		floorPool, err := b.codes(ctx, n, nil)
		if err != nil {
			return nil, err
		}
		real, floor = b.flowTargets(sz, floorPool)
	}
	sr := &scenarioReport{Name: name, RequestsPerOp: requests}
	targets := []namedTarget{{"enlace", real}, {"floor", floor}}
	if withTwin {
		targets = append(targets, namedTarget{"twin", twin})
	}
	phases, err := b.phases(ctx, name, targets)
	if err != nil {
		return nil, err
	}
	sr.Real, sr.Floor = phases[0], phases[1]
	if sr.Floor.OpsPerSec > 0 {
		sr.Ratio = sr.Real.OpsPerSec / sr.Floor.OpsPerSec
	}
	if withTwin {
		tr := phases[2]
		sr.Twin = &tr
		if tr.OpsPerSec > 0 {
			sr.TwinRatio = sr.Real.OpsPerSec / tr.OpsPerSec
			sr.FloorTwinRatio = sr.Floor.OpsPerSec / tr.OpsPerSec
		}
		if sr.Real.ServerCPUPerOp > 0 {
			sr.TwinCPURatio = tr.ServerCPUPerOp / sr.Real.ServerCPUPerOp
		}
		sr.TwinRatioRounds = roundRatios(sr.Real.RoundOpsPerSec, tr.RoundOpsPerSec)
	}
	return sr, nil
}

// accessTokens prepares one live access token per worker, once.
func (b *benchRun) accessTokens(ctx context.Context) error {
	if b.access != nil {
		return nil
	}
	iss, err := b.issued(ctx, b.opts.Concurrency)
	if err != nil {
		return err
	}
	for _, x := range iss {
		b.access = append(b.access, x.AccessToken)
	}
	return nil
}

// login logs worker w in as its merchant with the login form, landing on
// the consent page.
func (b *benchRun) login(ctx context.Context, w *worker, c *http.Client) error {
	var steps [4]answer
	return b.loginSteps(ctx, w, c, &steps)
}

// loginSteps runs the authorize request of a browser without a session:
// redirect to the login page, the page, the form, the consent page.
func (b *benchRun) loginSteps(ctx context.Context, w *worker, c *http.Client, steps *[4]answer) error {
	a, err := b.do(ctx, w, c, http.MethodGet, "/apps/authorize?"+b.authorize, nil, nil)
	if err != nil {
		return err
	}
	if err := a.expect(http.StatusFound, "authorize without a session"); err != nil {
		return err
	}
	steps[0] = a
	loginURL := a.loc
	u, err := url.Parse(loginURL)
	if err != nil || !strings.HasPrefix(loginURL, "/login?") {
		return fmt.Errorf("authorize redirected to %q, not the login page", loginURL)
	}
	if a, err = b.do(ctx, w, c, http.MethodGet, loginURL, nil, nil); err != nil {
		return err
	}
	if err := a.expect(http.StatusOK, "login page"); err != nil {
		return err
	}
	steps[1] = a
	csrf, err := csrfIn(a)
	if err != nil {
		return err
	}
	next := u.Query().Get("next")
	form := url.Values{"csrf_token": {csrf}, "email": {b.merchants[w.i].Email}, "password": {b.password},
		"next": {next}}.Encode()
	if a, err = b.do(ctx, w, c, http.MethodPost, "/login", &form, nil); err != nil {
		return err
	}
	if err := a.expect(http.StatusSeeOther, "login"); err != nil {
		if a.status == http.StatusTooManyRequests {
			err = fmt.Errorf("%w (the server's login_limits.per_address must exceed --concurrency)", err)
		}
		return err
	}
	steps[2] = a
	if a, err = b.do(ctx, w, c, http.MethodGet, a.loc, nil, nil); err != nil {
		return err
	}
	if err := a.expect(http.StatusOK, "consent page"); err != nil {
		return err
	}
	steps[3] = a
	w.csrf, err = csrfIn(a)
	return err
}

// approveForm is the consent form with every scope ticked.
func approveForm(csrf string) string {
	return url.Values{"csrf_token": {csrf}, "granted": benchScopes, "decision": {"approve"}}.Encode()
}

// approve posts the consent form and returns the code it redirects with.
func (b *benchRun) approve(ctx context.Context, w *worker, c *http.Client) (answer, string, error) {
	form := approveForm(w.csrf)
	a, err := b.do(ctx, w, c, http.MethodPost, "/apps/authorize?"+b.authorize, &form, nil)
	if err != nil {
		return a, "", err
	}
	if err := a.expect(http.StatusSeeOther, "approve"); err != nil {
		return a, "", err
	}
	u, err := url.Parse(a.loc)
	if err != nil || u.Query().Get("code") == "" {
		return a, "", fmt.Errorf("approve redirected to %q, without a code", a.loc)
	}
	return a, u.Query().Get("code"), nil
}

// consentTargets: a logged-in merchant (logged in once per worker, before
// the clock starts) loads the consent page and approves.
func (b *benchRun) consentTargets(sz *sizes) (target, target) {
	real := target{jar: true,
		setup: func(ctx context.Context, w *worker) error {
			return b.login(ctx, w, w.c)
		},
		op: func(ctx context.Context, w *worker) error {
			a, err := b.do(ctx, w, nil, http.MethodGet, "/apps/authorize?"+b.authorize, nil, nil)
			if err != nil {
				return err
			}
			if err := a.expect(http.StatusOK, "consent page"); err != nil {
				return err
			}
			sz.add(0, a)
			a, _, err = b.approve(ctx, w, nil)
			if err != nil {
				return err
			}
			sz.add(1, a)
			return nil
		}}
	floor := target{
		setup: func(ctx context.Context, w *worker) error {
			// The session the floor reads, as the login left it.
			a, err := b.do(ctx, w, nil, http.MethodGet, "/_floor/login?m="+b.merchants[w.i].ID, nil, nil)
			if err != nil {
				return err
			}
			w.csrf = store.NewSecret()
			return a.expect(http.StatusOK, "floor login page")
		},
		op: func(ctx context.Context, w *worker) error {
			m := "m=" + b.merchants[w.i].ID
			a, err := b.do(ctx, w, nil, http.MethodGet, "/_floor/authorize?"+m+"&"+sz.query(0), nil, nil)
			if err != nil {
				return err
			}
			if err := a.expect(http.StatusOK, "floor consent page"); err != nil {
				return err
			}
			form := approveForm(w.csrf)
			a, err = b.do(ctx, w, nil, http.MethodPost, "/_floor/authorize?"+m+"&c="+b.app.ClientID+"&"+sz.query(1), &form, nil)
			if err != nil {
				return err
			}
			return a.expect(http.StatusSeeOther, "floor approve")
		}}
	return real, floor
}

// flowTargets: the whole flow for a browser without a session: authorize,
// login page, login, consent page, approve, then the app's code exchange.
func (b *benchRun) flowTargets(sz *sizes, floorCodes *pool) (target, target) {
	real := target{
		op: func(ctx context.Context, w *worker) error {
			c := b.newClient(true)
			var steps [4]answer
			if err := b.loginSteps(ctx, w, c, &steps); err != nil {
				return err
			}
			for i, a := range steps {
				sz.add(i, a)
			}
			a, code, err := b.approve(ctx, w, c)
			if err != nil {
				return err
			}
			sz.add(4, a)
			form := "grant_type=authorization_code&code=" + url.QueryEscape(code)
			if a, err = b.do(ctx, w, c, http.MethodPost, "/oauth/token", &form, b.basic); err != nil {
				return err
			}
			if err := a.expect(http.StatusOK, "exchange"); err != nil {
				return err
			}
			sz.add(5, a)
			return nil
		}}
	floor := target{
		op: func(ctx context.Context, w *worker) error {
			code, err := floorCodes.take()
			if err != nil {
				return err
			}
			m := b.merchants[w.i]
			csrf := store.NewSecret()
			loginForm := url.Values{"csrf_token": {csrf}, "email": {m.Email}, "password": {b.password},
				"next": {"/apps/authorize?" + b.authorize}}.Encode()
			approve := approveForm(csrf)
			token := "grant_type=authorization_code&code=" + url.QueryEscape(code)
			steps := []struct {
				method, path string
				form         *string
				hdr          func(http.Header)
				status       int
			}{
				{http.MethodGet, "/_floor/authorize?" + sz.query(0), nil, nil, http.StatusFound},
				{http.MethodGet, "/_floor/login?m=" + m.ID + "&" + sz.query(1), nil, nil, http.StatusOK},
				{http.MethodPost, "/_floor/login?m=" + m.ID + "&e=" + url.QueryEscape(m.Email) + "&" + sz.query(2), &loginForm, nil, http.StatusSeeOther},
				{http.MethodGet, "/_floor/authorize?m=" + m.ID + "&" + sz.query(3), nil, nil, http.StatusOK},
				{http.MethodPost, "/_floor/authorize?m=" + m.ID + "&c=" + b.app.ClientID + "&" + sz.query(4), &approve, nil, http.StatusSeeOther},
				{http.MethodPost, "/_floor/token?" + sz.query(5), &token, b.basic, http.StatusOK},
			}
			for i, s := range steps {
				a, err := b.do(ctx, w, nil, s.method, s.path, s.form, s.hdr)
				if err != nil {
					return err
				}
				if err := a.expect(s.status, "floor step "+strconv.Itoa(i+1)); err != nil {
					return err
				}
			}
			return nil
		}}
	return real, floor
}

// phase runs one target with every worker for the duration (or until its
// prepared credentials run out) and measures it.
func (b *benchRun) phase(ctx context.Context, t target, d time.Duration) (phaseReport, error) {
	n := b.opts.Concurrency
	urls := t.urls
	if urls == nil {
		urls = b.opts.URLs
	}
	workers := make([]*worker, n)
	for i := range workers {
		workers[i] = &worker{i: i, base: urls[i%len(urls)], c: b.newClient(t.jar)}
	}
	if t.once != nil {
		t.once()
	}
	if t.setup != nil {
		if err := parallel(ctx, n, min(n, 8), func(i int) error { return t.setup(ctx, workers[i]) }); err != nil {
			return phaseReport{}, fmt.Errorf("setup: %w", err)
		}
	}
	var pr phaseReport
	var err error
	// The memory of the process under load (the first, of several).
	if pr.MemBefore, err = b.memstats(ctx, urls[0]); err != nil {
		return pr, err
	}
	before, err := b.redisStats(ctx)
	if err != nil {
		return pr, err
	}
	var (
		wg        sync.WaitGroup
		lat       = make([][]time.Duration, n)
		errs      atomic.Int64
		exhausted atomic.Bool
		mu        sync.Mutex
		samples   []string
	)
	start := time.Now()
	deadline := start.Add(d)
	for i, w := range workers {
		lat[i] = make([]time.Duration, 0, 1024)
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := t.op(ctx, w)
				d := time.Since(t0)
				switch {
				case errors.Is(err, errExhausted):
					exhausted.Store(true)
					return
				case err != nil:
					errs.Add(1)
					mu.Lock()
					if len(samples) < 5 {
						samples = append(samples, err.Error())
					}
					mu.Unlock()
				default:
					lat[i] = append(lat[i], d)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return pr, err
	}
	after, infos, err := b.settledStats(ctx)
	if err != nil {
		return pr, err
	}
	if pr.MemAfter, err = b.memstats(ctx, urls[0]); err != nil {
		return pr, err
	}
	pr.lat = slices.Concat(lat...)
	pr.Errors, pr.ErrorSamples, pr.Exhausted = errs.Load(), samples, exhausted.Load()
	pr.elapsed = elapsed
	pr.calls = map[string]int64{}
	for name, calls := range after.calls {
		if d := calls - before.calls[name]; d > 0 && name != "info" {
			pr.calls[name] = d
		}
	}
	pr.reads = after.reads - before.reads - int64(infos)
	pr.serverCPU = pr.MemAfter.CPUSeconds - pr.MemBefore.CPUSeconds
	pr.redisCPU = after.cpu - before.cpu
	pr.instances = len(urls)
	pr.finish()
	return pr, nil
}

// finish computes a phase's figures from what it counted.
func (pr *phaseReport) finish() {
	slices.Sort(pr.lat)
	all := pr.lat
	pr.Ops = int64(len(all))
	pr.Seconds = pr.elapsed.Seconds()
	pr.OpsPerSec = float64(pr.Ops) / pr.Seconds
	pr.P50, pr.P95, pr.P99 = percentile(all, 0.50), percentile(all, 0.95), percentile(all, 0.99)
	if len(all) > 0 {
		pr.Max = ms(all[len(all)-1])
	}
	attempts := float64(max(pr.Ops+pr.Errors, 1))
	pr.Commands = map[string]float64{}
	total := int64(0)
	for name, d := range pr.calls {
		pr.Commands[name] = round2(float64(d) / attempts)
		total += d
	}
	pr.RedisCommandsPerOp = round2(float64(total) / attempts)
	pr.RedisReadsPerOp = round2(float64(pr.reads) / attempts)
	// The memstats calls and INFOs around the phase cost a few
	// milliseconds against seconds of load: left in.
	share := attempts / float64(max(pr.instances, 1))
	pr.ServerCPUPerOp = math.Round(pr.serverCPU/share*1e7) / 10
	pr.RedisCPUPerOp = math.Round(pr.redisCPU/attempts*1e7) / 10
}

// merge adds a later slice of the same target's load to pr: the counts
// and the latencies add up, the memory before is pr's and after is the
// slice's.
func (pr *phaseReport) merge(next phaseReport) {
	pr.lat = append(pr.lat, next.lat...)
	pr.Errors += next.Errors
	for _, e := range next.ErrorSamples {
		if len(pr.ErrorSamples) < 5 {
			pr.ErrorSamples = append(pr.ErrorSamples, e)
		}
	}
	pr.Exhausted = pr.Exhausted || next.Exhausted
	pr.elapsed += next.elapsed
	for name, d := range next.calls {
		pr.calls[name] += d
	}
	pr.reads += next.reads
	pr.serverCPU += next.serverCPU
	pr.redisCPU += next.redisCPU
	pr.MemAfter = next.MemAfter
	pr.finish()
}

// roundRatios is a over b slice by slice, over the rounds both ran.
func roundRatios(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			out = append(out, round2(a[i]/b[i]))
		}
	}
	return out
}

// namedTarget is a target with the name the progress lines give it.
type namedTarget struct {
	name string
	t    target
}

// phases runs a scenario's targets, one after the other, in
// --rounds rounds of --duration/rounds each, and merges each target's
// slices into its report. A target whose prepared credentials ran out
// sits out the rounds that follow.
func (b *benchRun) phases(ctx context.Context, scenario string, targets []namedTarget) ([]phaseReport, error) {
	rounds := max(b.opts.Rounds, 1)
	slice := b.opts.Duration / time.Duration(rounds)
	out := make([]phaseReport, len(targets))
	for r := range rounds {
		for i, nt := range targets {
			if r > 0 && out[i].Exhausted {
				continue
			}
			if rounds > 1 {
				b.logf("%s: %s for %v (round %d of %d)", scenario, nt.name, slice, r+1, rounds)
			} else {
				b.logf("%s: %s for %v", scenario, nt.name, slice)
			}
			pr, err := b.phase(ctx, nt.t, slice)
			if err != nil {
				if nt.name == "twin" {
					return nil, fmt.Errorf("twin: %w", err)
				}
				return nil, err
			}
			rate := pr.OpsPerSec
			if r == 0 {
				out[i] = pr
			} else {
				out[i].merge(pr)
			}
			if rounds > 1 {
				out[i].RoundOpsPerSec = append(out[i].RoundOpsPerSec, round2(rate))
			}
		}
	}
	return out, nil
}

func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return ms(sorted[min(max(i, 0), len(sorted)-1)])
}

func ms(d time.Duration) float64 { return round2(float64(d) / float64(time.Millisecond)) }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// redisSnapshot is what INFO says about the work Redis has done.
type redisSnapshot struct {
	calls      map[string]int64
	commands   int64 // all calls but INFO's
	reads      int64
	usedMemory int64
	cpu        float64 // seconds, user and system
}

func (b *benchRun) redisStats(ctx context.Context) (redisSnapshot, error) {
	// On a cluster every primary answers for its share: sum them.
	var (
		mu   sync.Mutex
		outs []string
	)
	err := forEachPrimary(ctx, b.rdb, func(ctx context.Context, node redis.Cmdable) error {
		out, err := node.Info(ctx, "stats", "commandstats", "memory", "cpu").Result()
		mu.Lock()
		outs = append(outs, out)
		mu.Unlock()
		return err
	})
	if err != nil {
		return redisSnapshot{}, fmt.Errorf("redis info: %w", err)
	}
	s := redisSnapshot{calls: map[string]int64{}}
	for _, out := range outs {
		s.add(out)
	}
	return s, nil
}

// add counts one server's INFO into the snapshot.
func (s *redisSnapshot) add(out string) {
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, fields, _ := strings.Cut(rest, ":")
			for f := range strings.SplitSeq(fields, ",") {
				if v, ok := strings.CutPrefix(f, "calls="); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					s.calls[name] += n
					if name != "info" {
						s.commands += n
					}
				}
			}
		}
	}
	reads, _ := strconv.ParseInt(infoField(out, "total_reads_processed"), 10, 64)
	mem, _ := strconv.ParseInt(infoField(out, "used_memory"), 10, 64)
	s.reads += reads
	s.usedMemory += mem
	for _, f := range []string{"used_cpu_user", "used_cpu_sys"} {
		v, _ := strconv.ParseFloat(infoField(out, f), 64)
		s.cpu += v
	}
}

// settledStats waits until Redis has seen the last of a phase's commands
// (audit events are written in batches just after the requests that made
// them), at most a second, and returns the stats with the number of INFO
// calls it made.
func (b *benchRun) settledStats(ctx context.Context) (redisSnapshot, int, error) {
	prev, err := b.redisStats(ctx)
	if err != nil {
		return prev, 1, err
	}
	infos := 1
	for range 50 {
		select {
		case <-ctx.Done():
			return prev, infos, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		cur, err := b.redisStats(ctx)
		infos++
		if err != nil {
			return cur, infos, err
		}
		if cur.commands == prev.commands {
			return cur, infos, nil
		}
		prev = cur
	}
	return prev, infos, nil
}

func infoField(info, name string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// memstats asks the server (or the twin) at base for its memory (GET
// /_floor/memstats). Of several instances, the first one's memory stands
// for the deployment's.
func (b *benchRun) memstats(ctx context.Context, base string) (memStats, error) {
	var m memStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_floor/memstats", nil)
	if err != nil {
		return m, err
	}
	res, err := b.newClient(false).Do(req)
	if err != nil {
		return m, fmt.Errorf("reach %s: %w", base, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return m, fmt.Errorf("%s has no benchmark floor: run the server with `enlace-bench serve` (enlace serve has none), "+
			"and a twin with `enlace-bench twin`", base)
	}
	if res.StatusCode != http.StatusOK {
		return m, fmt.Errorf("GET /_floor/memstats: status %d", res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		return m, fmt.Errorf("GET /_floor/memstats: %w", err)
	}
	return m, nil
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// namedPhase is one phase of a scenario, as the report lists it.
type namedPhase struct {
	name string
	r    phaseReport
}

// phases are a scenario's phases in the order they ran: enlace, its floor
// and, with --twin, the twin.
func (s scenarioReport) phases() []namedPhase {
	out := []namedPhase{{"enlace", s.Real}, {"floor", s.Floor}}
	if s.Twin != nil {
		out = append(out, namedPhase{"twin", *s.Twin})
	}
	return out
}

func printBenchReport(w io.Writer, r *benchReport) {
	fmt.Fprintf(w, "enlace bench: %s, Redis %s at %s, %d clients, %s per scenario and target",
		r.URL, r.RedisVersion, r.Redis, r.Concurrency, r.Duration)
	if r.Rounds > 1 {
		fmt.Fprintf(w, " in %d rounds, the targets in turn", r.Rounds)
	}
	fmt.Fprintln(w)
	if r.Twin != "" {
		fmt.Fprintf(w, "the floor's twin: %s\n", r.Twin)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "scenario\ttarget\treq/op\tops/s\tp50 ms\tp95 ms\tp99 ms\terrors\tredis cmds/op\tredis reads/op\tserver cpu µs/op\tredis cpu µs/op\tvs floor\t"
	if r.Twin != "" {
		header += "vs twin\tcpu vs twin\t"
	}
	fmt.Fprintln(tw, header)
	for _, s := range r.Scenarios {
		for _, p := range s.phases() {
			ratio, twinRatio, cpuRatio := "", "", ""
			switch {
			case p.name == "enlace":
				ratio = fmt.Sprintf("%.2f", s.Ratio)
				if s.Twin != nil {
					twinRatio = fmt.Sprintf("%.2f", s.TwinRatio)
					cpuRatio = fmt.Sprintf("%.2f", s.TwinCPURatio)
				}
			case p.name == "floor" && s.Twin != nil:
				twinRatio = fmt.Sprintf("%.2f", s.FloorTwinRatio)
			}
			ops := fmt.Sprintf("%.0f", p.r.OpsPerSec)
			if p.r.Exhausted {
				ops += "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.2f\t%.2f\t%.2f\t%d\t%.2f\t%.2f\t%.1f\t%.1f\t%s\t", s.Name, p.name, s.RequestsPerOp,
				ops, p.r.P50, p.r.P95, p.r.P99, p.r.Errors, p.r.RedisCommandsPerOp, p.r.RedisReadsPerOp,
				p.r.ServerCPUPerOp, p.r.RedisCPUPerOp, ratio)
			if r.Twin != "" {
				fmt.Fprintf(tw, "%s\t%s\t", twinRatio, cpuRatio)
			}
			fmt.Fprintln(tw)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "\n(* the prepared credentials ran out before the duration; the rate is over the time it ran)")
	fmt.Fprintln(w, "(cpu: the process's user and system time per operation; cpu vs twin: the twin's over enlace's)")
	fmt.Fprintln(w, "\nRedis commands per operation, by command (those inside scripts included):")
	for _, s := range r.Scenarios {
		for _, p := range s.phases() {
			names := make([]string, 0, len(p.r.Commands))
			for n := range p.r.Commands {
				names = append(names, n)
			}
			sort.Strings(names)
			parts := make([]string, len(names))
			for i, n := range names {
				parts[i] = fmt.Sprintf("%s %.2f", n, p.r.Commands[n])
			}
			fmt.Fprintf(w, "  %-10s %-6s %s\n", s.Name, p.name, strings.Join(parts, ", "))
			for _, e := range p.r.ErrorSamples {
				fmt.Fprintf(w, "  %-10s %-6s error: %s\n", "", "", e)
			}
		}
	}
	fmt.Fprintln(w, "\nServer memory (Go heap in use, held from the OS, goroutines), before and after each phase (the twin's own for the twin):")
	for _, s := range r.Scenarios {
		for _, p := range s.phases() {
			fmt.Fprintf(w, "  %-10s %-6s %s / %s / %d  →  %s / %s / %d\n", s.Name, p.name,
				mib(p.r.MemBefore.HeapInuse), mib(p.r.MemBefore.Sys), p.r.MemBefore.NumGoroutine,
				mib(p.r.MemAfter.HeapInuse), mib(p.r.MemAfter.Sys), p.r.MemAfter.NumGoroutine)
		}
	}
	fmt.Fprintf(w, "  whole run: %s / %s / %d  →  %s / %s / %d\n",
		mib(r.ServerBefore.HeapInuse), mib(r.ServerBefore.Sys), r.ServerBefore.NumGoroutine,
		mib(r.ServerAfter.HeapInuse), mib(r.ServerAfter.Sys), r.ServerAfter.NumGoroutine)
	if r.RedisBytesPerConnection > 0 {
		fmt.Fprintf(w, "\nRedis memory per live connection: %.0f bytes (used_memory growth, indexes and audit events included); its hash alone: %d bytes\n",
			r.RedisBytesPerConnection, r.ConnectionHashBytes)
	}
}

// forEachPrimary runs fn on the one server, or on every primary of a
// cluster (concurrently), for commands that answer for one node only
// (SCAN, INFO).
func forEachPrimary(ctx context.Context, rdb redis.UniversalClient, fn func(ctx context.Context, node redis.Cmdable) error) error {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return fn(ctx, c) })
	}
	return fn(ctx, rdb)
}

// floorCleanup deletes the floor's rate-limit counters and returns how
// many it deleted; its sessions and connections expire on their own
// within minutes. On a cluster it scans every primary.
func (b *benchRun) floorCleanup(ctx context.Context) (int, error) {
	var n atomic.Int64
	err := forEachPrimary(ctx, b.rdb, func(ctx context.Context, node redis.Cmdable) error {
		for _, pattern := range store.LimitKeyPatterns("floor", "floor") {
			iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
			for iter.Next(ctx) {
				// Key by key: on a cluster the keys are in many slots.
				if err := b.rdb.Unlink(ctx, iter.Val()).Err(); err != nil {
					return fmt.Errorf("floor cleanup: %w", err)
				}
				n.Add(1)
			}
			if err := iter.Err(); err != nil {
				return fmt.Errorf("floor cleanup: %w", err)
			}
		}
		return nil
	})
	return int(n.Load()), err
}

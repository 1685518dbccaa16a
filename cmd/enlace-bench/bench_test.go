package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// asCommandEnv makes the test binary the enlace-bench command itself (see
// TestMain), so that a test can start one as a process of its own.
const asCommandEnv = "ENLACE_BENCH_TEST_AS_COMMAND"

// TestMain runs the tests or, with asCommandEnv set, is enlace-bench: the
// command line is its os.Args, as for the real binary.
func TestMain(m *testing.M) {
	if os.Getenv(asCommandEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// benchServer starts enlace in process, with the benchmark floor, on a
// real redis-server started for the test, and returns its URL and Redis
// address.
func benchServer(t *testing.T) (string, string) {
	t.Helper()
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	cfg, err := config.Load(enlace.DefaultConfig, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "http://" + ln.Addr().String()
	// Every worker of the flow scenario logs in from 127.0.0.1 at once.
	cfg.LoginLimits.PerAddress = 1000
	// The exchange-openid scenarios sign ID tokens: the keys need it.
	key := []byte("bench encryption key of 32 bytes")
	st := store.New(rdb, store.Options{Logger: slog.New(slog.DiscardHandler), EncryptionKey: key})
	srv, err := server.New(server.Options{
		Config: cfg, Store: st, SessionSecret: []byte(strings.Repeat("k", 32)),
		Templates: enlace.Templates, Static: enlace.Static,
		Logger:     slog.New(slog.DiscardHandler),
		Extensions: []server.Extension{floorExtension(st, slog.New(slog.DiscardHandler))},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	go func() { srv.Run(ctx, ready); close(done) }()
	<-ready
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(func() { hs.Close(); cancel(); <-done })
	return hs.URL, rs.Addr
}

// TestBench runs every scenario briefly against a real server and its
// floor: each completes requests without an error, and the report has its
// ratio, Redis commands per operation and the server's memory.
func TestBench(t *testing.T) {
	url, redisAddr := benchServer(t)
	r := runCmd(t, []string{"ENLACE_REDIS_ADDR=" + redisAddr}, "run", "--url", url,
		"--duration", "300ms", "--concurrency", "4", "--pool", "400", "--json")
	if r.code != 0 {
		t.Fatalf("bench: %d\n%s", r.code, r.stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, r.stdout)
	}
	if len(rep.Scenarios) != len(benchScenarios) {
		t.Fatalf("ran %d scenarios, want %d", len(rep.Scenarios), len(benchScenarios))
	}
	for i, s := range rep.Scenarios {
		if s.Name != benchScenarios[i] {
			t.Errorf("scenario %d is %q, want %q", i, s.Name, benchScenarios[i])
		}
		for _, p := range []struct {
			target string
			r      phaseReport
		}{{"enlace", s.Real}, {"floor", s.Floor}} {
			if p.r.Ops == 0 || p.r.Errors != 0 {
				t.Errorf("%s/%s: %d ops, %d errors %v", s.Name, p.target, p.r.Ops, p.r.Errors, p.r.ErrorSamples)
			}
			if p.r.OpsPerSec <= 0 || p.r.P50 <= 0 || p.r.P99 < p.r.P50 {
				t.Errorf("%s/%s: rate %.1f, p50 %.2f, p99 %.2f", s.Name, p.target, p.r.OpsPerSec, p.r.P50, p.r.P99)
			}
			if p.r.RedisCommandsPerOp < 1 || p.r.RedisReadsPerOp < 1 || len(p.r.Commands) == 0 {
				t.Errorf("%s/%s: %.2f Redis commands, %.2f reads per op", s.Name, p.target,
					p.r.RedisCommandsPerOp, p.r.RedisReadsPerOp)
			}
			if p.r.MemAfter.Sys == 0 || p.r.MemAfter.NumGoroutine == 0 {
				t.Errorf("%s/%s: no server memory figures", s.Name, p.target)
			}
			// The server's and Redis's CPU time per operation: some, and
			// less than ten seconds (a flow logs in: a password hash).
			if p.r.ServerCPUPerOp <= 0 || p.r.ServerCPUPerOp > 1e7 || p.r.RedisCPUPerOp <= 0 || p.r.RedisCPUPerOp > 1e7 {
				t.Errorf("%s/%s: server CPU %.1f µs/op, Redis CPU %.1f µs/op", s.Name, p.target,
					p.r.ServerCPUPerOp, p.r.RedisCPUPerOp)
			}
		}
		if s.Ratio <= 0 || s.Ratio > 100 {
			t.Errorf("%s: ratio to the floor %.2f", s.Name, s.Ratio)
		}
		if s.Twin != nil || s.TwinRatio != 0 {
			t.Errorf("%s: a twin phase without --twin", s.Name)
		}
		switch s.Name {
		case "exchange", "exchange-openid", "exchange-es256", "refresh":
			// One script per request on both sides (which shows in
			// commandstats as the script call and the calls it makes).
			if s.Real.Commands["evalsha"] < 0.99 || s.Floor.Commands["evalsha"] < 0.99 {
				t.Errorf("%s: evalsha per op %.2f / %.2f", s.Name, s.Real.Commands["evalsha"], s.Floor.Commands["evalsha"])
			}
		case "introspect", "info", "middleware":
			if s.Floor.Commands["hmget"] < 0.99 {
				t.Errorf("%s: the floor's HMGET per op is %.2f", s.Name, s.Floor.Commands["hmget"])
			}
		}
	}
	if rep.RedisBytesPerConnection <= 0 || rep.ConnectionHashBytes <= 0 {
		t.Errorf("Redis memory per connection: %.0f, hash %d", rep.RedisBytesPerConnection, rep.ConnectionHashBytes)
	}
	if rep.ServerAfter.Sys == 0 || rep.RedisVersion == "" {
		t.Errorf("report misses the server memory or the Redis version: %+v", rep)
	}
}

// TestBenchLoopbackOnly: bench refuses to load anything but this machine.
func TestBenchLoopbackOnly(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--url", "http://10.0.0.1:8080", "--redis", "127.0.0.1:1"},
		{"--url", "http://example.com", "--redis", "127.0.0.1:1"},
		{"run", "--url", "http://127.0.0.1:8080", "--redis", "192.168.1.1:6379"},
	} {
		r := runCmd(t, nil, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "loopback") {
			t.Errorf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	if r := runCmd(t, nil, "run", "--scenarios", "nope", "--redis", "127.0.0.1:1"); r.code == 0 ||
		!strings.Contains(r.stderr, "unknown scenario") {
		t.Errorf("unknown scenario: %d %s", r.code, r.stderr)
	}
}

// TestFloorOff: enlace's own server has no /_floor/ routes, and the load
// says which server to run instead.
func TestFloorOff(t *testing.T) {
	rs := redistest.Start(t)
	cfg, err := config.Load(enlace.DefaultConfig, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(rs.Client(t), store.Options{Logger: slog.New(slog.DiscardHandler)})
	srv, err := server.New(server.Options{Config: cfg, Store: st, SessionSecret: []byte(strings.Repeat("k", 32)),
		Templates: enlace.Templates, Static: enlace.Static, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	r := runCmd(t, []string{"ENLACE_REDIS_ADDR=" + rs.Addr}, "--url", hs.URL, "--duration", "100ms")
	if r.code == 0 || !strings.Contains(r.stderr, "enlace-bench serve") {
		t.Fatalf("bench against a server without the floor: %d %s", r.code, r.stderr)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, environ []string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, environ)
	return result{code, out.String(), errb.String()}
}

// TestServeHasTheFloor: `enlace-bench serve` is enlace with the floor: its
// /_floor/ answers next to enlace's own routes, and it refuses to run
// without a real Redis (the load prepares its data there).
func TestServeHasTheFloor(t *testing.T) {
	rs := redistest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve"}, &out, &errb, []string{"ENLACE_REDIS_ADDR=" + rs.Addr, "ENLACE_HTTP_ADDR=" + addr})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	})
	var res *http.Response
	for deadline := time.Now().Add(20 * time.Second); ; {
		res, err = http.Get("http://" + addr + "/_floor/memstats")
		if err == nil || time.Now().After(deadline) {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatalf("serve never answered: %v\n%s", err, errb.String())
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/_floor/memstats: %d; log:\n%s", res.StatusCode, errb.String())
	}
	// The log is buffered (as in enlace serve): the warning reaches stderr
	// within the flush interval.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(errb.String(), "benchmark floor"); {
		if time.Now().After(deadline) {
			t.Fatalf("no warning about the floor in the log:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res, err := http.Get("http://" + addr + "/.well-known/oauth-authorization-server"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("enlace's own routes: %v %v", res, err)
	}

	if r := runCmd(t, []string{"ENLACE_HTTP_ADDR=127.0.0.1:0"}, "serve"); r.code == 0 || !strings.Contains(r.stderr, "real Redis") {
		t.Fatalf("serve on the embedded Redis: %d %s", r.code, r.stderr)
	}
}

// syncBuffer collects a command's output across goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
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

// startTwin starts `enlace-bench twin` on redisAddr as a process of its
// own (this test binary as the command) and returns its URL once it
// answers; it is stopped when the test ends.
func startTwin(t *testing.T, redisAddr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "twin", "--addr", addr)
	cmd.Env = []string{asCommandEnv + "=1", "ENLACE_REDIS_ADDR=" + redisAddr, "PATH=" + os.Getenv("PATH")}
	var errb syncBuffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("twin exited: %v\n%s", err, errb.String())
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("twin did not stop on SIGTERM:\n%s", errb.String())
		}
	})
	url := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		res, err := http.Get(url + "/_floor/memstats")
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("twin /_floor/memstats: %d", res.StatusCode)
			}
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("twin never answered: %v\n%s", err, errb.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("twin exited: %v\n%s", err, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestBenchTwin: with --twin, the token scenarios also run against the
// floor's twin, a separate process with the token floors only, and both
// reports (text and --json-file) give its rate and the ratio to it; the
// twin makes the floor's Redis calls.
func TestBenchTwin(t *testing.T) {
	url, redisAddr := benchServer(t)
	twin := startTwin(t, redisAddr)
	if res, err := http.Get(twin + "/.well-known/oauth-authorization-server"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("the twin serves enlace's routes: %v %v", res, err)
	}
	file := filepath.Join(t.TempDir(), "bench.json")
	r := runCmd(t, []string{"ENLACE_REDIS_ADDR=" + redisAddr}, "run", "--url", url, "--twin", twin,
		"--scenarios", "exchange,refresh,introspect,info,middleware,consent",
		"--duration", "300ms", "--concurrency", "4", "--pool", "400", "--json-file", file)
	if r.code != 0 {
		t.Fatalf("bench: %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "vs twin") || !strings.Contains(r.stdout, "the floor's twin: "+twin) {
		t.Errorf("the text report has no twin:\n%s", r.stdout)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep benchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, raw)
	}
	if rep.Twin != twin || len(rep.Scenarios) != 6 {
		t.Fatalf("twin %q, %d scenarios", rep.Twin, len(rep.Scenarios))
	}
	for _, s := range rep.Scenarios {
		if !slices.Contains(twinScenarios, s.Name) {
			if s.Twin != nil || s.TwinRatio != 0 {
				t.Errorf("%s: a twin phase", s.Name)
			}
			continue
		}
		if s.Twin == nil {
			t.Errorf("%s: no twin phase", s.Name)
			continue
		}
		tw := s.Twin
		if tw.Ops == 0 || tw.Errors != 0 {
			t.Errorf("%s/twin: %d ops, %d errors %v", s.Name, tw.Ops, tw.Errors, tw.ErrorSamples)
		}
		if tw.OpsPerSec <= 0 || tw.P50 <= 0 || tw.P99 < tw.P50 {
			t.Errorf("%s/twin: rate %.1f, p50 %.2f, p99 %.2f", s.Name, tw.OpsPerSec, tw.P50, tw.P99)
		}
		if s.TwinRatio <= 0 || s.FloorTwinRatio <= 0 {
			t.Errorf("%s: ratio to the twin %.2f, the floor's %.2f", s.Name, s.TwinRatio, s.FloorTwinRatio)
		}
		if tw.MemAfter.Sys == 0 || tw.MemAfter.NumGoroutine == 0 {
			t.Errorf("%s/twin: no memory figures", s.Name)
		}
		if tw.ServerCPUPerOp <= 0 || s.TwinCPURatio <= 0 ||
			s.TwinCPURatio != tw.ServerCPUPerOp/s.Real.ServerCPUPerOp {
			t.Errorf("%s/twin: CPU %.1f µs/op, CPU ratio %.2f", s.Name, tw.ServerCPUPerOp, s.TwinCPURatio)
		}
		// The floor's Redis calls, one round trip.
		want := "hmget"
		if strings.HasPrefix(s.Name, "exchange") || s.Name == "refresh" {
			want = "evalsha"
		}
		if tw.Commands[want] < 0.99 || tw.RedisReadsPerOp < 0.99 {
			t.Errorf("%s/twin: %s per op %.2f, reads per op %.2f", s.Name, want, tw.Commands[want], tw.RedisReadsPerOp)
		}
	}
}

// TestBenchRounds: with --rounds, the targets of a scenario take turns,
// round after round, and each target's report is its slices merged.
func TestBenchRounds(t *testing.T) {
	url, redisAddr := benchServer(t)
	twin := startTwin(t, redisAddr)
	r := runCmd(t, []string{"ENLACE_REDIS_ADDR=" + redisAddr}, "run", "--url", url, "--twin", twin,
		"--scenarios", "info", "--duration", "600ms", "--rounds", "3", "--concurrency", "4", "--json")
	if r.code != 0 {
		t.Fatalf("bench: %d\n%s", r.code, r.stderr)
	}
	var order []string
	for _, m := range regexp.MustCompile(`info: (\w+) for 200ms \(round (\d) of 3\)`).FindAllStringSubmatch(r.stderr, -1) {
		order = append(order, m[1]+m[2])
	}
	if want := []string{"enlace1", "floor1", "twin1", "enlace2", "floor2", "twin2", "enlace3", "floor3", "twin3"}; !slices.Equal(order, want) {
		t.Fatalf("the targets ran in the order %v, want %v\n%s", order, want, r.stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, r.stdout)
	}
	if rep.Rounds != 3 || len(rep.Scenarios) != 1 || rep.Scenarios[0].Twin == nil {
		t.Fatalf("rounds %d, scenarios %+v", rep.Rounds, rep.Scenarios)
	}
	s := rep.Scenarios[0]
	// Each round's ratio is enlace's slice over the twin's, and the merged
	// ratio lies within them.
	if len(s.TwinRatioRounds) != 3 || len(s.Real.RoundOpsPerSec) != 3 || len(s.Twin.RoundOpsPerSec) != 3 {
		t.Fatalf("round ratios %v, enlace rounds %v, twin rounds %v", s.TwinRatioRounds, s.Real.RoundOpsPerSec, s.Twin.RoundOpsPerSec)
	}
	for i, r := range s.TwinRatioRounds {
		if want := round2(s.Real.RoundOpsPerSec[i] / s.Twin.RoundOpsPerSec[i]); r != want {
			t.Errorf("round %d: ratio %.2f, want %.2f", i+1, r, want)
		}
	}
	if lo, hi := slices.Min(s.TwinRatioRounds), slices.Max(s.TwinRatioRounds); s.TwinRatio < lo-0.01 || s.TwinRatio > hi+0.01 {
		t.Errorf("merged ratio %.2f outside its rounds' %.2f–%.2f", s.TwinRatio, lo, hi)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("rounds %.2f–%.2f", slices.Min(s.TwinRatioRounds), slices.Max(s.TwinRatioRounds))) {
		t.Errorf("the progress line does not give the rounds' spread:\n%s", r.stderr)
	}
	for name, p := range map[string]phaseReport{"enlace": s.Real, "floor": s.Floor, "twin": *s.Twin} {
		// Three slices of 200 ms, not one.
		if p.Seconds < 0.55 || p.Seconds > 1.5 || p.Ops == 0 || p.Errors != 0 || p.ServerCPUPerOp <= 0 ||
			p.Commands["hmget"] < 0.99 {
			t.Errorf("%s: %.2f s, %d ops, %d errors, %.1f cpu µs/op, %v", name, p.Seconds, p.Ops, p.Errors,
				p.ServerCPUPerOp, p.Commands)
		}
	}
	for _, bad := range []string{"0", "101", "7"} {
		r := runCmd(t, nil, "run", "--rounds", bad, "--duration", "600ms", "--redis", "127.0.0.1:1")
		if r.code == 0 || !strings.Contains(r.stderr, "--rounds") {
			t.Errorf("--rounds %s: %d %s", bad, r.code, r.stderr)
		}
	}
}

// TestPhaseMerge: merged slices give the figures of one phase over all of
// them: counts and CPU time add up, percentiles are over every latency.
func TestPhaseMerge(t *testing.T) {
	mk := func(lat []time.Duration, secs float64, hmget int64, cpu float64, errs int64) phaseReport {
		pr := phaseReport{lat: lat, elapsed: time.Duration(secs * float64(time.Second)), Errors: errs,
			calls: map[string]int64{"hmget": hmget}, reads: hmget, serverCPU: cpu, redisCPU: cpu / 2, instances: 1,
			MemAfter: memStats{NumGC: uint32(len(lat))}}
		pr.finish()
		return pr
	}
	ms := time.Millisecond
	a := mk([]time.Duration{1 * ms, 2 * ms, 3 * ms}, 1, 3, 0.003, 0)
	b := mk([]time.Duration{10 * ms, 20 * ms, 30 * ms, 40 * ms, 50 * ms}, 1, 6, 0.009, 1)
	a.merge(b)
	if a.Ops != 8 || a.Errors != 1 || a.Seconds != 2 || a.OpsPerSec != 4 {
		t.Errorf("ops %d, errors %d, %.1f s, %.1f ops/s", a.Ops, a.Errors, a.Seconds, a.OpsPerSec)
	}
	if a.P50 != 10 || a.P99 != 50 || a.Max != 50 {
		t.Errorf("p50 %.1f, p99 %.1f, max %.1f", a.P50, a.P99, a.Max)
	}
	// 9 HMGETs and 12 ms of CPU over 9 attempts (8 answered, 1 error).
	if a.Commands["hmget"] != 1 || a.RedisReadsPerOp != 1 || a.ServerCPUPerOp != 1333.3 || a.RedisCPUPerOp != 666.7 {
		t.Errorf("hmget %.2f, reads %.2f, server cpu %.1f µs, redis cpu %.1f µs", a.Commands["hmget"],
			a.RedisReadsPerOp, a.ServerCPUPerOp, a.RedisCPUPerOp)
	}
	if a.MemAfter.NumGC != 5 {
		t.Errorf("memory after: %+v, want the last slice's", a.MemAfter)
	}
}

// TestTwinRefuses: the twin listens on loopback only and needs a real
// Redis.
func TestTwinRefuses(t *testing.T) {
	if r := runCmd(t, []string{"ENLACE_REDIS_ADDR=127.0.0.1:1"}, "twin", "--addr", "0.0.0.0:0"); r.code == 0 ||
		!strings.Contains(r.stderr, "loopback") {
		t.Errorf("twin on 0.0.0.0: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, nil, "twin", "--addr", "127.0.0.1:0"); r.code == 0 || !strings.Contains(r.stderr, "real Redis") {
		t.Errorf("twin on the embedded Redis: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, nil, "run", "--twin", "http://10.0.0.1:8092", "--redis", "127.0.0.1:1"); r.code == 0 ||
		!strings.Contains(r.stderr, "loopback") {
		t.Errorf("--twin off this machine: %d %s", r.code, r.stderr)
	}
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestServeLogSurvivesStop: serve's log is buffered (cmd/internal/logbuf),
// so a request's line may still wait in memory when serve is stopped; a
// clean stop writes it, before the lines of the stop, and every line
// arrives whole.
func TestServeLogSurvivesStop(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &opsLog{want: `"msg":"enlace listening"`, found: make(chan struct{})}
	listening := stderr.found
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, stderr,
			// The test is the trusted front proxy whose X-Request-Id is kept.
			[]string{"ENLACE_HTTP_ADDR=" + addr, "ENLACE_REDIS_ADDR=" + srv.Addr, "ENLACE_HTTP_TRUSTED_PROXIES=127.0.0.1"})
	}()
	select {
	case <-listening:
	case code := <-done:
		t.Fatalf("serve exited %d before listening:\n%s", code, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not listen within 30s:\n%s", stderr)
	}

	const id = "logbuf-stop-test-0001"
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", id)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", res.StatusCode)
	}
	// Stopped at once: the line has most likely not been flushed yet.
	cancel()
	t.Logf("the request's line was written before the stop: %v", strings.Contains(stderr.String(), id))
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}

	var request, shutdown = -1, -1
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	for i, l := range lines {
		var line struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			Route     string `json:"route"`
		}
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("line %d is not one JSON object: %q: %v", i, l, err)
		}
		switch {
		case line.Msg == "request" && line.RequestID == id && line.Route == "/healthz":
			request = i
		case line.Msg == "shutting down":
			shutdown = i
		}
	}
	if request < 0 || shutdown < request {
		t.Fatalf("want the request's line (at %d) before the stop's (at %d):\n%s", request, shutdown, stderr)
	}
}

//go:build unix

package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/server/logjson"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// BenchmarkStack serves token checks through the whole handler (gin, the
// server's middleware, the access log line to serve's handler, logjson,
// writing to nowhere, the handler itself) on a real redis-server, without
// sockets on the HTTP side, beside "bare": the same Redis call and an answer of the same size
// written to the same recorder, which is what enlace-bench's twin does per
// request. The difference is what the server's stack costs a request, read
// without the load tool's noise.
func BenchmarkStack(b *testing.B) {
	ctx := context.Background()
	rdb := redistest.Start(b).Client(b)
	cfg, err := config.Load(enlace.DefaultConfig, "", false, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Issuer = "http://127.0.0.1:1"
	cfg.Encryption.Key = testEncryptionKey
	key, err := cfg.Encryption.KeyBytes()
	if err != nil {
		b.Fatal(err)
	}
	st := store.New(rdb, store.Options{EncryptionKey: key})
	srv, err := server.New(server.Options{Config: cfg, Store: st, SessionSecret: []byte(strings.Repeat("k", 32)),
		Templates: enlace.Templates, Static: enlace.Static,
		Logger: slog.New(server.WithRequestID(logjson.New(io.Discard, nil)))})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	ready, ran := make(chan struct{}), make(chan struct{})
	go func() { srv.Run(runCtx, ready); close(ran) }()
	b.Cleanup(func() { cancel(); <-ran })
	<-ready

	app, secret, err := st.CreateApp(ctx, store.AppSpec{Name: "Bench", RedirectURIs: []string{appRedirect},
		Scopes: []string{"read:products"}}, cfg.Scopes.Names())
	if err != nil {
		b.Fatal(err)
	}
	m, err := st.CreateMerchant(ctx, "bench@example.com", "Bench", password)
	if err != nil {
		b.Fatal(err)
	}
	_, code, err := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: m.ID, RedirectURI: appRedirect,
		Scopes: []string{"read:products"}})
	if err != nil {
		b.Fatal(err)
	}
	iss, err := st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: app.ClientID})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	serve := func(req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, rec.Code, rec.Body)
		}
		return rec
	}
	infoReq := func() *http.Request {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/d/info", nil)
		req.Header.Set("Authorization", "Bearer "+iss.AccessToken)
		return req
	}
	introspectReq := func() *http.Request {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/oauth/introspect",
			strings.NewReader("token="+iss.AccessToken))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(app.ClientID, secret)
		return req
	}
	// The stack alone: /healthz touches no Redis, so its time is the
	// stack's CPU (routing, the middleware, the log line, the headers) plus
	// a small JSON answer, beside a bare handler writing the same answer.
	b.Run("stack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(httptest.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil))
		}
	})
	b.Run("bare-stack", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", "application/json; charset=utf-8")
			rec.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(rec, `{"status":"ok"}`)
			_ = httptest.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil)
		}
	})
	infoSize := serve(infoReq()).Body.Len()
	introspectSize := serve(introspectReq()).Body.Len()

	b.Run("info", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			serve(infoReq())
		}
	})
	b.Run("introspect", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			serve(introspectReq())
		}
	})
	for _, c := range []struct {
		name string
		size int
		req  func() *http.Request
	}{{"bare-info", infoSize, infoReq}, {"bare-introspect", introspectSize, introspectReq}} {
		body := strings.Repeat("x", c.size)
		b.Run(c.name, func(b *testing.B) {
			defer cpuPerOp(b)()
			for b.Loop() {
				req := c.req()
				rec := httptest.NewRecorder()
				tok := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
				if c.name == "bare-introspect" {
					tok = req.PostFormValue("token")
				}
				if _, err := st.LookupAccess(req.Context(), tok); err != nil {
					b.Fatal(err)
				}
				rec.Header().Set("Content-Type", "application/json; charset=utf-8")
				rec.Header().Set("Cache-Control", "no-store")
				rec.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(rec, body)
			}
		})
	}
}

// cpuPerOp reports allocations and the process's CPU time per operation
// (cpu-µs/op): the wall clock of a serial benchmark is mostly the wait for
// Redis, which the CPU time leaves out.
func cpuPerOp(b *testing.B) func() {
	b.ReportAllocs()
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	}
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/enlace-oauth/enlace/cmd/internal/launch"
)

// The floor's independent twin, `enlace-bench twin`: a process of its own
// with nothing but net/http — a plain ServeMux, no gin, no server package,
// no middleware, no per-request logging — whose handlers make the very
// Redis calls of the token floors (floorCalls, shared with floor.go) on a
// Redis client of its own, and answer with a body of ?size= bytes. It
// serves them at the floor's paths, so that `enlace-bench run --twin URL`
// sends it the floor's requests:
//
//	POST /_floor/token       the exchange or refresh script, fixed digests
//	POST /_floor/introspect  the token's lookup
//	GET  /_floor/bearer      the bearer token's lookup (info, middleware)
//	GET  /_floor/memstats    the twin's memory, for the report
//
// What the floor measures inside the server (gin, the server's middleware,
// the handler's own work) the twin leaves out; a ratio to it says what the
// whole of enlace costs over the Redis work, in a process that does
// nothing else. Like the floor it authenticates nobody, so it listens on
// loopback only.

// twinAddr is where the twin listens unless told otherwise.
const twinAddr = "127.0.0.1:8092"

func (e *env) twin(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("twin")
	addr := fs.String("addr", twinAddr, "host:port to listen on (loopback only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !isLoopbackHost(host) {
		return fmt.Errorf("--addr %q must be a loopback host:port: the twin authenticates nobody", *addr)
	}
	cfg, err := e.loadConfig(path, explicit)
	if err != nil {
		return err
	}
	if cfg.Redis.Embedded() {
		return errors.New("the twin needs the server's real Redis: set ENLACE_REDIS_ADDR or redis.addr, as for serve")
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	// The same connection, pool and lifetimes as `enlace-bench serve`.
	rdb, err := launch.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	st := launch.NewStore(rdb, cfg, log)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	// The timeouts of enlace's own listener (launch.Serve).
	hs := &http.Server{
		Handler:           twinMux(newFloorCalls(st)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Warn("serving the benchmark floor's twin: unauthenticated benchmark handlers; never in production",
		"addr", ln.Addr().String(), "redis", cfg.Redis.Describe())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("twin: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("twin shutdown: %w", err)
	}
	return nil
}

// twinMux routes the twin's requests.
func twinMux(k floorCalls) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_floor/token", func(w http.ResponseWriter, r *http.Request) {
		client, _, _ := r.BasicAuth()
		twinAnswer(w, r, k.grant(r.Context(), r.PostFormValue, client))
	})
	mux.HandleFunc("POST /_floor/introspect", func(w http.ResponseWriter, r *http.Request) {
		twinAnswer(w, r, k.lookup(r.Context(), r.PostFormValue("token")))
	})
	mux.HandleFunc("GET /_floor/bearer", func(w http.ResponseWriter, r *http.Request) {
		twinAnswer(w, r, k.lookup(r.Context(), twinBearer(r)))
	})
	mux.HandleFunc("GET /_floor/memstats", func(w http.ResponseWriter, _ *http.Request) {
		twinHeaders(w)
		_ = json.NewEncoder(w).Encode(readMemStats())
	})
	return mux
}

// twinBearer is the request's bearer token, read as resource.BearerToken
// reads it, without the server package.
func twinBearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func twinHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", jsonType)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// twinAnswer writes 200 with a body of ?size= bytes, as the floor does, or
// a 400 when the Redis work did not take its success path.
func twinAnswer(w http.ResponseWriter, r *http.Request, err error) {
	twinHeaders(w)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		b, _ := json.Marshal(map[string]string{"error": "invalid_request", "error_description": err.Error()})
		_, _ = w.Write(b)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, floorFill[:floorSizeOf(r.URL.Query().Get("size"))])
}

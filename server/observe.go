package server

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
)

// metrics are the server's Prometheus metrics, on a registry of its own
// (no global state), served at /metrics.
type metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	events        *prometheus.CounterVec
	loginFailures prometheus.Counter
	redisErrors   prometheus.Counter
	// webhooks counts delivery attempts by outcome; webhookLatency times
	// those that got an answer or a timeout.
	webhooks       *prometheus.CounterVec
	webhookLatency prometheus.Histogram

	// routes holds the request metrics' children by route, method and
	// status, copied on write: WithLabelValues hashes its labels and takes
	// the vector's lock, twice on every request, where a lookup here is
	// one atomic load. Its keys are bounded: routes are the registered
	// ones (or "unmatched"), methods the standard ones (methodLabel), and
	// statuses those the server answers with.
	routes   atomic.Pointer[map[routeKey]routeMetrics]
	routesMu sync.Mutex
}

// routeKey names the children of a request's metrics.
type routeKey struct {
	route, method string
	status        int
}

// routeMetrics are the children of requests and latency for one routeKey.
type routeMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// observeRequest counts a request and records its latency.
func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	k := routeKey{route, methodLabel(method), status}
	rm, ok := (*m.routes.Load())[k]
	if !ok {
		rm = m.addRoute(k)
	}
	rm.requests.Inc()
	rm.latency.Observe(d.Seconds())
}

// addRoute makes the children of k and publishes a copy of the map that
// holds them.
func (m *metrics) addRoute(k routeKey) routeMetrics {
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	old := *m.routes.Load()
	if rm, ok := old[k]; ok {
		return rm
	}
	rm := routeMetrics{
		requests: m.requests.WithLabelValues(k.route, k.method, statusLabel(k.status)),
		latency:  m.latency.WithLabelValues(k.route, k.method),
	}
	next := make(map[routeKey]routeMetrics, len(old)+1)
	maps.Copy(next, old)
	next[k] = rm
	m.routes.Store(&next)
	return rm
}

// methodLabel is a request method's metric label: the method when it is a
// standard one, "other" otherwise. Any token is a valid method, and a
// label per method a client invents would grow the metrics (and the
// memory they hold) without bound.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodHead, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enlace_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "enlace_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enlace_events_total",
			Help: "Connection events: grant, exchange (tokens issued), refresh, revoke, reuse (refused replays), app.",
		}, []string{"type"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enlace_login_failures_total", Help: "Failed or limited logins, merchant and admin.",
		}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "enlace_redis_errors_total", Help: "Redis calls that failed (not counting a missing key).",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "enlace_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: delivered, retried (failed, tried again later), failed (the last attempt failed), refused (the endpoint is gone or disabled).",
		}, []string{"outcome"}),
		webhookLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "enlace_webhook_attempt_duration_seconds", Help: "Latency of webhook delivery attempts.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	m.routes.Store(&map[routeKey]routeMetrics{})
	m.reg.MustRegister(m.requests, m.latency, m.events, m.loginFailures, m.redisErrors, m.webhooks, m.webhookLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics.
func (m *metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// redisHook counts failed Redis calls.
type redisHook struct{ errors prometheus.Counter }

func (h redisHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.errors.Inc()
		}
		return c, err
	}
}

func (h redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && !errors.Is(err, redis.Nil) {
			h.errors.Inc()
		}
		return err
	}
}

func (h redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil && !errors.Is(err, redis.Nil) {
			h.errors.Inc()
		}
		return err
	}
}

// requestKey carries a request's requestLog in its context.
type requestKey struct{}

// requestLog is what a request's one log line says beyond its method,
// route, status and duration: its id, and what the handler adds with
// annotate (a token request's grant, client, connection and token ids).
// One line per request, not one per event beside it: a second record on
// every token request was a visible share of the endpoint's CPU.
type requestLog struct {
	id    string
	attrs []slog.Attr
}

// requestIDHeader names the id in requests (from a trusted front proxy) and
// in every response, so a client's report can be found in the logs.
const requestIDHeader = "X-Request-Id"

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID gives each request an id: the one a trusted front proxy set,
// if well formed, else a new one. A client's own would let it plant ids
// in the logs (or reuse another request's to confuse who did what).
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if !requestIDPattern.MatchString(id) || !s.fromTrustedProxy(c) {
		id = store.NewID()
	}
	// The key is in canonical form: no canonicalisation on every request.
	c.Writer.Header()[requestIDHeader] = []string{id}
	c.Request = c.Request.WithContext(&requestContext{Context: c.Request.Context(), log: requestLog{id: id}})
	c.Next()
}

// requestContext is a request's context with its requestLog: one
// allocation for both, where context.WithValue and the record were two on
// every request.
type requestContext struct {
	context.Context
	log requestLog
}

// Value answers requestKey with the request's log record and leaves every
// other key to the parent (cancellation, deadlines and values work as
// they do through context.WithValue).
func (c *requestContext) Value(key any) any {
	if key == (requestKey{}) {
		return &c.log
	}
	return c.Context.Value(key)
}

// annotate adds attributes to the log line of the request whose context
// ctx is; outside a request it does nothing. Never a secret, code or token.
func annotate(ctx context.Context, attrs ...slog.Attr) {
	if rl := requestLogOf(ctx); rl != nil {
		rl.attrs = append(rl.attrs, attrs...)
	}
}

// requestLogOf is the requestLog of the request whose context ctx is, or
// nil outside a request.
func requestLogOf(ctx context.Context) *requestLog {
	rl, _ := ctx.Value(requestKey{}).(*requestLog)
	return rl
}

// fromTrustedProxy reports whether the request's peer is one of the
// configured http.trusted_proxies.
func (s *Server) fromTrustedProxy(c *gin.Context) bool {
	if len(s.trusted) == 0 {
		return false
	}
	addr, err := netip.ParseAddr(c.RemoteIP())
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range s.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// trustedPrefixes parses http.trusted_proxies (addresses or CIDRs), which
// gin has already accepted.
func trustedPrefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range list {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

// RequestID returns the id of the request whose context ctx is, or "" for
// work no request started (background writers, caches).
func RequestID(ctx context.Context) string {
	if rl := requestLogOf(ctx); rl != nil {
		return rl.id
	}
	return ""
}

// contextHandler adds the request id of a log call's context to the line.
type contextHandler struct{ slog.Handler }

// WithRequestID wraps a log handler so that lines logged with a request's
// context (InfoContext and friends) carry its request_id.
func WithRequestID(h slog.Handler) slog.Handler { return contextHandler{h} }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(a)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// observe logs one line per request (method, route, status, duration and
// what the handler annotated; never the query string, which can carry
// codes), or per failed one with http.access_log: failures, and records
// the metrics of every one.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	status := c.Writer.Status()
	s.metrics.observeRequest(route, c.Request.Method, status, d)
	if s.logFailuresOnly && status < http.StatusBadRequest {
		return
	}
	ctx := c.Request.Context()
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	// The record is made here rather than by Logger.LogAttrs, which would
	// read the clock again and walk the stack for a source position that
	// this line never shows; typed attributes, no boxing into an any.
	r := slog.NewRecord(start.Add(d), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("method", c.Request.Method), slog.String("route", route),
		slog.Int("status", status), slog.Float64("duration_ms", float64(d.Microseconds())/1000))
	if rl := requestLogOf(ctx); rl != nil {
		r.AddAttrs(rl.attrs...)
	}
	// As Logger does, a line that cannot be written is dropped: the
	// request it describes has been answered.
	_ = h.Handle(ctx, r)
}

// statusLabel is a status code's metric label, without formatting (and
// allocating) the few that nearly every request is answered with.
func statusLabel(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusFound:
		return "302"
	case http.StatusBadRequest:
		return "400"
	case http.StatusUnauthorized:
		return "401"
	}
	return strconv.Itoa(code)
}

// healthz says the process is alive.
func healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz says whether the server can serve: Redis answers.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "redis": "down"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "redis": "up"})
}

// backlogCollector reports the webhooks' backlog, read from Redis at each
// scrape (one pipeline over the shards).
type backlogCollector struct {
	st                     *store.Store
	undelivered, age, outq *prometheus.Desc
}

func newBacklogCollector(st *store.Store) *backlogCollector {
	return &backlogCollector{st: st,
		undelivered: prometheus.NewDesc("enlace_webhook_queue_depth",
			"Webhook deliveries neither delivered nor failed yet.", nil, nil),
		age: prometheus.NewDesc("enlace_webhook_oldest_undelivered_seconds",
			"Age of the oldest webhook delivery not yet delivered or failed (0 when none).", nil, nil),
		outq: prometheus.NewDesc("enlace_webhook_outbox_length",
			"Events in the outboxes not yet turned into deliveries.", nil, nil),
	}
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.undelivered
	ch <- c.age
	ch <- c.outq
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := c.st.Backlog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.undelivered, err)
		return
	}
	age := 0.0
	if !b.Oldest.IsZero() {
		age = max(0, c.st.Now().Sub(b.Oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.undelivered, prometheus.GaugeValue, float64(b.Undelivered))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.outq, prometheus.GaugeValue, float64(b.Outbox))
}

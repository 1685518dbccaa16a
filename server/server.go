// Package server wires enlace's HTTP surface with gin: the authorization
// endpoint (whose pages come from the consent package), the token endpoint
// in its two dialects, and the resource endpoints.
package server

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-oauth2/oauth2/v4"
	oserver "github.com/go-oauth2/oauth2/v4/server"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// Options are what a Server is built from.
type Options struct {
	Config *config.Config
	Store  *store.Store
	// SessionSecret signs session cookies (at least 32 bytes).
	SessionSecret []byte
	// Templates and Static hold templates/ and static/.
	Templates fs.FS
	Static    fs.FS
	Logger    *slog.Logger
	// SeparateMetrics leaves /metrics off the main handler, for serving
	// MetricsHandler on a listener of its own.
	SeparateMetrics bool
	// Demo, in the embedded mode, is the seeded demo app that /demo drives.
	Demo *consent.DemoApp
	// Floor serves the benchmark floor under /_floor/ (see floor.go); never
	// in production.
	Floor bool
}

// Server is enlace's HTTP server.
type Server struct {
	cfg      *config.Config
	store    *store.Store
	appCache *store.AppCache
	// merchants saves /api/d/info a Redis read per call.
	merchants *store.MerchantCache
	metrics   *metrics
	verifier  *resource.Verifier
	oauth     *oserver.Server
	log       *slog.Logger
	engine    *gin.Engine
}

// New builds the server and its routes.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	lib := newOAuthLib()
	cache := store.NewAppCache(opts.Store, time.Minute)
	s := &Server{cfg: opts.Config, store: opts.Store, appCache: cache, verifier: resource.NewVerifier(opts.Store, cache),
		merchants: store.NewMerchantCache(opts.Store, time.Minute, 100000), metrics: newMetrics(),
		oauth: lib, log: opts.Logger}

	opts.Store.Observe(func(e store.Event) { s.metrics.events.WithLabelValues(e.Type).Inc() })
	opts.Store.Instrument(redisHook{errors: s.metrics.redisErrors})
	staticFS, err := fs.Sub(opts.Static, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	static, err := loadAssets(staticFS)
	if err != nil {
		return nil, err
	}
	pages, err := consent.New(consent.Options{
		Assets:         static.links,
		OnLoginFailure: s.metrics.loginFailures.Inc,
		SecureCookies:  opts.Config.Secure(),
		Authorizer:     s,
		Store:          opts.Store,
		Apps:           s.apps,
		Demo:           opts.Demo,
		Sessions:       consent.NewSessionStore(opts.Store, opts.SessionSecret, opts.Config.Session.Lifetime, opts.Config.Secure()),
		Templates:      opts.Templates,
		Catalogue:      opts.Config.Scopes,
		LoginLimits:    s.loginLimits(),
		Logger:         opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("consent pages: %w", err)
	}

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// gin trusts every X-Forwarded-For by default; only configured proxies
	// may name the client's address.
	if err := e.SetTrustedProxies(opts.Config.HTTP.TrustedProxies); err != nil {
		return nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	e.Use(requestID, s.recoverer, s.observe, securityHeaders, limitBodies)
	pages.Register(e)
	e.POST("/oauth/access-token", s.tokenEndpoint(multivende))
	e.POST("/oauth/token", s.tokenEndpoint(rfc6749))
	// The Multinexo-style paths of the platform's own apps.
	e.POST("/auth/v1/token", s.tokenEndpoint(firstParty))
	e.POST("/v1/users", s.register)
	e.GET("/v1/users/:id", s.user)
	e.GET("/.well-known/oauth-authorization-server", s.metadata)
	e.GET("/healthz", healthz)
	e.GET("/readyz", s.readyz)
	if !opts.SeparateMetrics {
		e.GET("/metrics", gin.WrapH(s.metrics.Handler()))
	}
	e.POST("/oauth/revoke", s.revoke)
	e.POST("/oauth/introspect", s.introspect)
	e.GET("/api/d/info", s.info)
	s.registerAdminAPI(e.Group("/admin/api"))
	e.GET("/static/*file", static.serve)
	if opts.Floor {
		s.registerFloor(e)
	}
	e.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not_found", "error_description": "no such endpoint"})
	})
	e.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, gin.H{"error": "invalid_request", "error_description": "method not allowed"})
	})
	s.engine = e
	return s, nil
}

// newOAuthLib configures go-oauth2 for what enlace uses of it: request
// validation and its error vocabulary; its manager is not used (see
// DESIGN.md). "plain" is listed only because the library defaults an absent
// method to plain; enlace itself accepts S256 alone.
func newOAuthLib() *oserver.Server {
	return oserver.NewServer(&oserver.Config{
		TokenType:            "Bearer",
		AllowedResponseTypes: []oauth2.ResponseType{oauth2.Code},
		AllowedGrantTypes:    []oauth2.GrantType{oauth2.AuthorizationCode, oauth2.Refreshing},
		AllowedCodeChallengeMethods: []oauth2.CodeChallengeMethod{
			oauth2.CodeChallengeS256, oauth2.CodeChallengePlain,
		},
	}, nil)
}

// limitBodies caps every request body; token requests have their own,
// equal, cap with an OAuth error.
func limitBodies(c *gin.Context) {
	if c.Request.ContentLength > maxBody {
		if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
			writeAPIErrors(c, bodyTooLarge())
			c.Abort()
			return
		}
		noStore(c)
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "invalid_request",
			"error_description": "the request body is too large"})
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	c.Next()
}

// MetricsHandler serves the Prometheus metrics.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Run does the server's background work until ctx ends: it keeps the app
// cache in step with changes made by any instance (until it runs, apps are
// read from Redis every time) and writes audit events in batches (until it
// runs, each is written at once). ready, if not nil, is closed once the
// cache listens. Run returns after both have stopped and the last audit
// events are written.
func (s *Server) Run(ctx context.Context, ready chan<- struct{}) {
	var wg sync.WaitGroup
	wg.Go(func() { s.appCache.Run(ctx, ready) })
	wg.Go(func() { s.store.RunAuditWriter(ctx) })
	wg.Wait()
}

// apps looks up an app through the in-process cache.
func (s *Server) apps(ctx context.Context, clientID string) (*store.App, error) {
	return s.appCache.Get(ctx, clientID)
}

// securityHeaders are set on every response; pages and token responses are
// never cached. Static assets are the exception to no-store.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// No form-action: Chromium applies it to the redirect that follows the
	// consent form, which goes to the app's own site.
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	if !strings.HasPrefix(c.Request.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// recoverer turns a panic into a 500 without the panic value (which could
// hold request data) reaching the client.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(c.Request.Context(), "panic", "route", c.FullPath(), "panic", fmt.Sprint(v))
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "server_error",
				"error_description": "internal error"})
		}
	}()
	c.Next()
}

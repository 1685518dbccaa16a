// Package server is enlace's HTTP surface, on gin: every route is in the
// table of routes.go; each OAuth flow is one file holding its rules
// (flow_authorize.go, flow_code.go, flow_refresh.go, flow_password.go,
// revocation.go, introspection.go); errors go out through package apierror.
package server

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-oauth2/oauth2/v4"
	oserver "github.com/go-oauth2/oauth2/v4/server"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/server/dpop"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/server/safefetch"
	"github.com/enlace-oauth/enlace/server/signing"
	"github.com/enlace-oauth/enlace/server/webhooks"
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
	// Extensions mount routes that are not enlace's own (see routes.go).
	Extensions []Extension
	// Maintenance tunes the background work Run takes its turn at;
	// the zero value is the production default.
	Maintenance store.MaintenanceOptions
	// Fetch sets the rules for the URLs enlace fetches on someone's word
	// (a registration's logo_uri); the zero value is the production
	// setting, and only tests set it (to reach a TLS server on loopback).
	Fetch safefetch.Options
	// KeyReload is how often the ID-token signing keys are read again
	// (signing.Options.Reload; 10 s when 0). Tests shorten it.
	KeyReload time.Duration
}

// Extension mounts routes that are not part of enlace's HTTP surface —
// the demo client of the embedded mode, enlace-bench's floor — behind the
// same middleware as every route of the table.
type Extension func(r gin.IRouter, h Handles)

// Handles are what an extension may use of the server.
type Handles struct {
	// Kit is the page kit, for pages that look like enlace's own.
	Kit *consent.Kit
	// Verifier checks access tokens as the resource middleware does.
	Verifier *resource.Verifier
	// Apps looks up an app through the server's cache.
	Apps func(ctx context.Context, clientID string) (*store.App, error)
}

// Server is enlace's HTTP server.
type Server struct {
	cfg *config.Config
	// logFailuresOnly: http.access_log is failures.
	logFailuresOnly bool
	// answers lends the buffers of JSON answers (answer.go).
	answers  answers
	store    *store.Store
	appCache *store.AppCache
	// maintenance tunes the store's background work (Run).
	maintenance store.MaintenanceOptions
	// trusted are the front proxies whose X-Request-Id is kept.
	trusted []netip.Prefix
	// merchants saves /api/d/info a Redis read per call.
	merchants *store.MerchantCache
	metrics   *metrics
	verifier  *resource.Verifier
	oauth     *oserver.Server
	// fetch fetches a registration's logo_uri (registration.go).
	fetch *safefetch.Fetcher
	// webhooks delivers the apps' lifecycle events (Run); deliveries are
	// its settings that a resend applies.
	webhooks   *webhooks.Deliverer
	deliveries store.DeliveryOptions
	// keys sign ID tokens; nil without encryption.key (OpenID Connect
	// off).
	keys *signing.Keys
	// dpop checks DPoP proofs, at the token endpoint and (through the
	// verifier) at every resource check; clientKeys caches the keys of
	// apps' jwks_uri (clientauth.go).
	dpop       *dpop.Checker
	clientKeys clientKeys
	log        *slog.Logger
	engine     *gin.Engine
}

// New builds the server and its routes.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cache := store.NewAppCache(opts.Store, time.Minute)
	checker := &dpop.Checker{MaxAge: opts.Config.DPoP.ProofMaxAge, Skew: opts.Config.DPoP.ClockSkew, Now: opts.Store.Now}
	if opts.Config.DPoP.RequireNonce {
		checker.Nonces = dpop.NewNonces(opts.Store.NonceSecret, opts.Config.DPoP.NonceStep)
	}
	s := &Server{cfg: opts.Config, store: opts.Store, appCache: cache, dpop: checker,
		logFailuresOnly: opts.Config.HTTP.AccessLog == config.AccessLogFailures,
		verifier:        resource.NewVerifierWith(opts.Store, cache, resource.Options{DPoP: checker, BaseURL: opts.Config.Issuer}),
		merchants:       store.NewMerchantCache(opts.Store, time.Minute, 100000), metrics: newMetrics(),
		oauth: newOAuthLib(), fetch: safefetch.New(opts.Fetch), log: opts.Logger, maintenance: opts.Maintenance,
		trusted: trustedPrefixes(opts.Config.HTTP.TrustedProxies)}

	if opts.Store.CanSeal() {
		s.keys = signing.New(opts.Store, signing.Options{Policy: opts.Config.OIDC.KeyPolicy(),
			Reload: opts.KeyReload, Logger: opts.Logger})
	} else {
		opts.Logger.Warn("OpenID Connect is off: encryption.key is not set, so there are no ID-token signing keys")
	}
	wc := opts.Config.Webhooks
	s.webhooks = webhooks.New(opts.Store, webhooks.Options{Timeout: wc.Timeout, Schedule: wc.RetrySchedule,
		DisableAfter: wc.DisableAfter, Concurrency: wc.Concurrency, PollInterval: wc.PollInterval,
		TakeoverAfter: wc.TakeoverAfter, Retention: wc.Retention,
		Fetch: safefetch.Options{AllowPrivate: wc.AllowPrivateTargets}, Logger: opts.Logger,
		Observe: func(outcome string, latency time.Duration) {
			s.metrics.webhooks.WithLabelValues(outcome).Inc()
			if outcome != "refused" {
				s.metrics.webhookLatency.Observe(latency.Seconds())
			}
		}})
	s.metrics.reg.MustRegister(newBacklogCollector(opts.Store))
	opts.Store.Observe(func(e store.Event) {
		s.metrics.events.WithLabelValues(string(e.Type)).Inc()
		switch e.Type {
		case store.EventGrant, store.EventSignIn, store.EventRevoke, store.EventReuse, store.EventApp:
			// It may have put an event in an outbox: no need to wait
			// for the next poll.
			s.webhooks.Wake(store.EventShard(e))
		}
	})
	opts.Store.Instrument(redisHook{errors: s.metrics.redisErrors})
	staticFS, err := fs.Sub(opts.Static, "static")
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	static, err := loadAssets(staticFS)
	if err != nil {
		return nil, err
	}
	kit, err := consent.NewKit(consent.KitOptions{
		Templates:      opts.Templates,
		Sessions:       consent.NewSessionStore(opts.Store, opts.SessionSecret, opts.Config.Session.Lifetime, opts.Config.Secure()),
		Assets:         static.links,
		SecureCookies:  opts.Config.Secure(),
		Catalogue:      opts.Config.Scopes,
		ResourceTypes:  opts.Config.ResourceTypes,
		Issuer:         opts.Config.Issuer,
		Apps:           s.apps,
		Limiter:        opts.Store,
		LoginLimits:    s.loginLimits(),
		OnLoginFailure: s.metrics.loginFailures.Inc,
		Logger:         opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("consent pages: %w", err)
	}

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// No 307 to the path without (or with) its trailing slash: a browser
	// would post the credentials again to the new address. A path that is
	// not in the route table is a 404.
	e.RedirectTrailingSlash, e.RedirectFixedPath = false, false
	// gin trusts every X-Forwarded-For by default; only configured proxies
	// may name the client's address.
	if err := e.SetTrustedProxies(opts.Config.HTTP.TrustedProxies); err != nil {
		return nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	e.Use(s.requestID, s.recoverer, s.observe, securityHeaders, limitBodies)
	deliveries := store.DeliveryOptions{Retention: wc.Retention}
	devOpts := consent.DeveloperOptions{OpenSignup: opts.Config.Developers.Signup == config.SignupOpen,
		SignupsPerAddress: opts.Config.Registration.PerAddress, SignupPeriod: opts.Config.Registration.Period,
		AppsPerDay: opts.Config.Developers.AppsPerDay,
		CheckWebhookURL: func(ctx context.Context, raw string) error {
			// A name that takes longer than this to resolve is refused as
			// one that does not: the check is on the request's path.
			ctx, cancel := context.WithTimeout(ctx, webhookCheckTimeout)
			defer cancel()
			return CheckWebhookURL(ctx, raw, wc.AllowPrivateTargets)
		},
		AllowPrivateWebhooks: wc.AllowPrivateTargets, Deliveries: deliveries, WebhookDisableAfter: wc.DisableAfter}
	s.deliveries = deliveries
	s.routes(e, pages{
		merchant: consent.NewMerchantPages(kit, s, opts.Store),
		admin:    consent.NewAdminPages(kit, opts.Store, consent.AdminOptions{Deliveries: deliveries}),
		dev:      consent.NewDeveloperPages(kit, opts.Store, devOpts),
		static:   static,
	}, !opts.SeparateMetrics)
	h := Handles{Kit: kit, Verifier: s.verifier, Apps: s.apps}
	for _, ext := range opts.Extensions {
		ext(e, h)
	}
	s.engine = e
	return s, nil
}

// webhookCheckTimeout bounds the DNS lookup of a webhook endpoint set in
// the portal.
const webhookCheckTimeout = 5 * time.Second

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
// equal, cap with an OAuth error. The logo upload caps its own, larger,
// body and answers an oversized one on a page; a merchant's resources
// (admin_resources.go) cap theirs too.
func limitBodies(c *gin.Context) {
	if p := c.FullPath(); p == logoUploadRoute || p == resourcesRoutePath {
		c.Next()
		return
	}
	if c.Request.ContentLength > maxBody {
		if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
			writeAPI(c, bodyTooLarge())
			return
		}
		if strings.HasPrefix(c.Request.URL.Path, registerPath) {
			writeOAuth(c, apierror.New(apierror.InvalidClientMetadata, "the request body is too large"))
			return
		}
		writeOAuth(c, apierror.Request("the request body is too large"))
		return
	}
	// A request without a body (every GET) has nothing to cap.
	if c.Request.Body != nil && c.Request.Body != http.NoBody {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	}
	c.Next()
}

// MetricsHandler serves the Prometheus metrics.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Run does the server's background work until ctx ends: it keeps the app
// cache in step with changes made by any instance (until it runs, apps are
// read from Redis every time), and takes its turn at the store's
// maintenance (the clean-up after app-wide revocations, the trimming of
// indexes), which one instance at a time does, and delivers the apps'
// webhooks, sharing the work with the other instances, and keeps the
// ID-token signing keys (server/signing). ready, if not nil, is closed
// once the signing keys have been tended and the cache listens. Run
// returns after all have stopped.
func (s *Server) Run(ctx context.Context, ready chan<- struct{}) {
	if s.keys != nil {
		// The signing keys first: a new deployment makes its first keys
		// before it reports ready, rather than on its first ID token.
		if err := s.keys.Tend(ctx); err != nil {
			s.log.Warn("signing keys: could not tend the key set; the loop retries", "err", err)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.appCache.Run(ctx, ready) })
	wg.Go(func() { s.store.RunMaintenance(ctx, s.maintenance) })
	wg.Go(func() { s.webhooks.Run(ctx) })
	if s.keys != nil {
		wg.Go(func() { s.keys.Run(ctx) })
	}
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
	// The values share one array and the keys are in canonical form: one
	// allocation per answer instead of one per header (Header.Set), on
	// every request of the token checks.
	v := [...]string{"nosniff", "DENY", "no-referrer",
		// No form-action: Chromium applies it to the redirect that follows
		// the consent form, which goes to the app's own site.
		"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
		"no-store"}
	vs := v[:]
	h["X-Content-Type-Options"] = vs[0:1:1]
	h["X-Frame-Options"] = vs[1:2:2]
	h["Referrer-Policy"] = vs[2:3:3]
	h["Content-Security-Policy"] = vs[3:4:4]
	if !strings.HasPrefix(c.Request.URL.Path, "/static/") {
		h["Cache-Control"] = vs[4:5:5]
	}
	c.Next()
}

// recoverer turns a panic into a 500 without the panic value (which could
// hold request data) reaching the client.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(c.Request.Context(), "panic", "route", c.FullPath(), "panic", fmt.Sprint(v))
			writeOAuth(c, apierror.New(apierror.ServerError, "internal error"))
		}
	}()
	c.Next()
}

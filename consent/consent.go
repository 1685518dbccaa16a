// Package consent owns what a merchant sees in a browser: the login page,
// the consent page of /apps/authorize, error pages, and the session and
// CSRF protection behind them. The OAuth rules themselves come from an
// Authorizer that the server package provides.
package consent

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// AuthorizeRequest is a validated authorization request.
type AuthorizeRequest struct {
	ClientID    string
	AppName     string
	RedirectURI string
	State       string
	// Scopes are the scopes requested (or the app's registered scopes when
	// the request named none), all of them registered for the app.
	Scopes        []string
	CodeChallenge string
}

// AuthorizeError is a refused authorization request. With RedirectTo set
// the browser is sent back to the app with the error; without it, the
// redirect URI could not be trusted and an error page is shown instead.
type AuthorizeError struct {
	RedirectTo string
	// Message is the message id of the error page.
	Message string
}

func (e *AuthorizeError) Error() string { return "authorize: " + e.Message }

// Authorizer holds the OAuth rules of the authorization endpoint.
type Authorizer interface {
	// ParseAuthorize validates the request's query; a refusal is an
	// *AuthorizeError, any other error a failure of the store.
	ParseAuthorize(r *http.Request) (*AuthorizeRequest, error)
	// Approve records a new connection with the granted scopes and returns
	// where to send the browser: the redirect URI with code, state and iss.
	Approve(ctx context.Context, req *AuthorizeRequest, merchantID string, granted []string) (string, error)
	// Deny returns the redirect URI with error=access_denied, state and iss.
	Deny(req *AuthorizeRequest) string
}

// Store is the part of the store the pages need; *store.Store has it.
type Store interface {
	AuthenticateMerchant(ctx context.Context, email, password string) (*store.Merchant, error)
	GetMerchant(ctx context.Context, id string) (*store.Merchant, error)
	AuthenticateAdmin(ctx context.Context, email, password string) (*store.Admin, error)
	GetAdmin(ctx context.Context, id string) (*store.Admin, error)
	ListMerchants(ctx context.Context) ([]*store.Merchant, error)
	ListApps(ctx context.Context) ([]*store.App, error)
	SetAppDisabled(ctx context.Context, clientID string, disabled bool, by string) error
	ListConnections(ctx context.Context, f store.ConnectionFilter, offset, limit int) ([]*store.Connection, int, error)
	CountConnections(ctx context.Context, clientIDs []string) (map[string]int, error)
	GetConnection(ctx context.Context, id string) (*store.Connection, error)
	RevokeConnection(ctx context.Context, id, by string) error
	RevokeAppConnections(ctx context.Context, clientID, by string) (int, error)
	ListAudit(ctx context.Context, f store.AuditFilter, before string, limit int) ([]store.Event, string, error)
	LoginAttempt(ctx context.Context, kind, email, address string, l store.LoginLimits) (time.Duration, error)
	LoginSucceeded(ctx context.Context, kind, email, address string, l store.LoginLimits) error
}

// Options configure the pages.
type Options struct {
	Authorizer Authorizer
	Store      Store
	// Apps looks up an app (through the server's cache).
	Apps      func(ctx context.Context, clientID string) (*store.App, error)
	Sessions  *SessionStore
	Templates fs.FS // holds templates/*.html
	Catalogue config.Catalogue
	// OnLoginFailure, if set, is called for each failed or limited login.
	OnLoginFailure func()
	// Assets maps static file names to their fingerprinted addresses.
	Assets map[string]string
	// SecureCookies marks cookies Secure (an https issuer).
	SecureCookies bool
	// Demo, when set, serves the built-in demo client under /demo.
	Demo *DemoApp
	// LoginLimits bound login attempts per account and client address.
	LoginLimits store.LoginLimits
	Logger      *slog.Logger
}

// Handler serves the merchant-facing pages.
type Handler struct {
	opts  Options
	i18n  *catalogue
	pages map[string]*template.Template
}

const (
	sessionName   = "enlace_session"
	keyMerchant   = "merchant_id"
	keyCSRF       = "csrf"
	csrfFormField = "csrf_token"
)

// New parses the templates and message catalogues.
func New(opts Options) (*Handler, error) {
	b, err := newBundle()
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, i18n: newCatalogue(b), pages: map[string]*template.Template{}}
	for _, name := range []string{"login", "consent", "error", "home", "demo", "demo_callback", "connections",
		"confirm_revoke", "admin_apps", "admin_merchants", "admin_connections", "admin_audit"} {
		t, err := template.ParseFS(opts.Templates, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	return h, nil
}

// Register adds the pages to a router.
func (h *Handler) Register(r gin.IRoutes) {
	// /auth/v1/authorization is the Multinexo-style name of the same page.
	for _, path := range []string{authorizePath, authorizeAlias} {
		r.GET(path, h.authorize)
		r.POST(path, h.decide)
	}
	r.GET("/login", h.loginPage)
	r.POST("/login", h.login)
	r.POST("/logout", h.logout)
	r.GET("/", h.home)
	r.GET("/connections", h.connections)
	r.GET("/connections/:id/revoke", h.confirmRevoke)
	r.POST("/connections/:id/revoke", h.revoke)
	h.registerAdmin(r)
	if h.opts.Demo != nil {
		h.registerDemo(r)
	}
}

// page is what every template receives.
type page struct {
	localizer
	Lang      string
	Title     string
	CSRF      string
	Data      any
	Languages []langLink
	assets    map[string]string
}

// Asset returns the fingerprinted address of a static file, which can be
// cached for a year; an unknown name gets its plain address.
func (p page) Asset(name string) string {
	if a, ok := p.assets[name]; ok {
		return a
	}
	return "/static/" + name
}

func (h *Handler) render(c *gin.Context, status int, name, titleID string, sess *sessions.Session, data any) {
	lang := h.i18n.pick(c.Request)
	loc := h.i18n.localizer(lang)
	p := page{localizer: loc, Lang: lang.String(), Data: data, Languages: h.langLinks(c.Request, lang),
		assets: h.opts.Assets}
	if q := c.Query("lang"); q != "" {
		// Keep the picked language for the pages that follow (forms,
		// redirects) without carrying ?lang= everywhere.
		http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: lang.String(), Path: "/",
			MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.opts.SecureCookies})
	}
	if titleID != "" {
		p.Title = loc.T(titleID)
	}
	if sess != nil {
		tok, err := h.csrfToken(c, sess)
		if err != nil {
			// A form whose token could not be kept would only fail when
			// posted: say now that the service is unavailable.
			h.opts.Logger.ErrorContext(c.Request.Context(), "save session", "err", err)
			h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
			return
		}
		p.CSRF = tok
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "render page", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// errorPage shows an error in words a merchant understands; it never
// redirects.
func (h *Handler) errorPage(c *gin.Context, status int, messageID string) {
	h.render(c, status, "error", "error_title", nil, map[string]string{"Message": messageID})
}

// session returns the request's session; a broken store is answered with
// an error page and ok=false.
func (h *Handler) session(c *gin.Context) (*sessions.Session, bool) {
	sess, err := h.opts.Sessions.Get(c.Request, sessionName)
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "load session", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return nil, false
	}
	return sess, true
}

// csrfToken returns the session's CSRF token, creating and saving one when
// the session has none. The token is bound to the session (synchronizer
// token pattern); together with SameSite=Lax cookies a cross-site post
// cannot carry it.
func (h *Handler) csrfToken(c *gin.Context, sess *sessions.Session) (string, error) {
	if tok, ok := sess.Values[keyCSRF].(string); ok && tok != "" {
		return tok, nil
	}
	tok := store.NewSecret()
	sess.Values[keyCSRF] = tok
	if err := sess.Save(c.Request, c.Writer); err != nil {
		delete(sess.Values, keyCSRF)
		return "", err
	}
	return tok, nil
}

// csrfOK is checkCSRF that answers a failure itself (403, error page).
func (h *Handler) csrfOK(c *gin.Context, sess *sessions.Session) bool {
	if !checkCSRF(c, sess) {
		h.errorPage(c, http.StatusForbidden, "err_csrf")
		return false
	}
	return true
}

// checkCSRF reports whether the posted form carries the session's token.
func checkCSRF(c *gin.Context, sess *sessions.Session) bool {
	want, _ := sess.Values[keyCSRF].(string)
	got := c.Request.PostFormValue(csrfFormField)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// currentMerchant returns the logged-in merchant, or nil.
func (h *Handler) currentMerchant(c *gin.Context, sess *sessions.Session) (*store.Merchant, error) {
	id, _ := sess.Values[keyMerchant].(string)
	if id == "" {
		return nil, nil
	}
	m, err := h.opts.Store.GetMerchant(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return m, err
}

// parse validates the authorization request; on a refusal it has already
// answered (error page or redirect) and returns nil.
func (h *Handler) parse(c *gin.Context) *AuthorizeRequest {
	req, err := h.opts.Authorizer.ParseAuthorize(c.Request)
	var aerr *AuthorizeError
	switch {
	case err == nil:
		return req
	case errors.As(err, &aerr) && aerr.RedirectTo != "":
		c.Redirect(http.StatusFound, aerr.RedirectTo)
	case errors.As(err, &aerr):
		h.errorPage(c, http.StatusBadRequest, aerr.Message)
	default:
		h.opts.Logger.ErrorContext(c.Request.Context(), "parse authorize request", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
	}
	return nil
}

type scopeView struct {
	Name        string
	Description string
}

// describeScopes returns each scope with its catalogue description in the
// page's language.
func (h *Handler) describeScopes(c *gin.Context, names []string) []scopeView {
	en := h.i18n.pick(c.Request).String() == "en"
	out := make([]scopeView, 0, len(names))
	for _, name := range names {
		sc, _ := h.opts.Catalogue.Lookup(name)
		desc := sc.ES
		if en {
			desc = sc.EN
		}
		if desc == "" {
			desc = name
		}
		out = append(out, scopeView{Name: name, Description: desc})
	}
	return out
}

// authorize shows the consent page, or the login page first.
func (h *Handler) authorize(c *gin.Context) {
	req := h.parse(c)
	if req == nil {
		return
	}
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	lang := h.i18n.pick(c.Request)
	loc := h.i18n.localizer(lang)
	h.render(c, http.StatusOK, "consent", "authorize", sess, map[string]any{
		"AppName":  req.AppName,
		"Initials": initials(req.AppName),
		"Host":     redirectHost(req.RedirectURI),
		"Email":    m.Email,
		"Groups":   h.groupScopes(c, req.Scopes, loc),
		"Self":     c.Request.URL.RequestURI(),
	})
}

// decide handles the consent form: approve with the ticked scopes, or
// cancel. The authorization request is re-validated from the query string.
func (h *Handler) decide(c *gin.Context) {
	req := h.parse(c)
	if req == nil {
		return
	}
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	if !h.csrfOK(c, sess) {
		return
	}
	granted := c.Request.PostForm["granted"]
	for _, g := range granted {
		if !slices.Contains(req.Scopes, g) {
			// Only a forged form can tick a scope that was not offered.
			h.errorPage(c, http.StatusBadRequest, "err_bad_request")
			return
		}
	}
	if c.Request.PostFormValue("decision") != "approve" || len(granted) == 0 {
		c.Redirect(http.StatusSeeOther, h.opts.Authorizer.Deny(req))
		return
	}
	to, err := h.opts.Authorizer.Approve(c.Request.Context(), req, m.ID, granted)
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "approve", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	c.Redirect(http.StatusSeeOther, to)
}

// safeNext keeps a post-login destination on this server: a path, never a
// scheme-relative or absolute URL. Control characters are refused outright,
// because browsers drop some of them ("/\t/evil" becomes "//evil").
func safeNext(next string) string {
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

// Where the authorization endpoint answers.
const (
	authorizePath  = "/apps/authorize"
	authorizeAlias = "/auth/v1/authorization"
)

func isAuthorizePath(p string) bool { return p == authorizePath || p == authorizeAlias }

// appNameFor returns the app name of a pending authorization request, for
// the login page's sentence; empty when next is not one.
func (h *Handler) appNameFor(c *gin.Context, next string) string {
	u, err := url.Parse(next)
	if err != nil || !isAuthorizePath(u.Path) {
		return ""
	}
	r := c.Request.Clone(c.Request.Context())
	r.URL = u
	r.Form, r.PostForm = nil, nil
	req, err := h.opts.Authorizer.ParseAuthorize(r)
	if err != nil {
		return ""
	}
	return req.AppName
}

func (h *Handler) loginPage(c *gin.Context) {
	sess, ok := h.session(c)
	if !ok {
		return
	}
	next := safeNext(c.Query("next"))
	h.render(c, http.StatusOK, "login", "login_title", sess, map[string]any{
		"Next": next, "AppName": h.appNameFor(c, next),
	})
}

func (h *Handler) login(c *gin.Context) {
	sess, ok := h.session(c)
	if !ok {
		return
	}
	if !h.csrfOK(c, sess) {
		return
	}
	next := safeNext(c.PostForm("next"))
	email := c.PostForm("email")
	page := map[string]any{"Next": next, "AppName": h.appNameFor(c, next), "Email": email}
	if !h.loginAllowed(c, sess, "merchant", email, "login_title", page) {
		return
	}
	m, err := h.opts.Store.AuthenticateMerchant(c.Request.Context(), email, c.PostForm("password"))
	if errors.Is(err, store.ErrBadCredentials) {
		h.opts.Logger.InfoContext(c.Request.Context(), "login failed")
		h.loginFailure()
		page["Failed"] = true
		h.render(c, http.StatusUnauthorized, "login", "login_title", sess, page)
		return
	}
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "authenticate merchant", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	if err := h.startSession(c, sess, keyMerchant, m.ID); err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "start session", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	h.loginSucceeded(c, "merchant", email)
	h.opts.Logger.InfoContext(c.Request.Context(), "login", "merchant_id", m.ID)
	c.Redirect(http.StatusSeeOther, next)
}

// loginAllowed counts the attempt against the login limits before any
// password is checked;
// over them it shows the login page asking to wait (429) and returns false.
func (h *Handler) loginAllowed(c *gin.Context, sess *sessions.Session, kind, email, titleID string, page map[string]any) bool {
	wait, err := h.opts.Store.LoginAttempt(c.Request.Context(), kind, email, c.ClientIP(), h.opts.LoginLimits)
	if err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "login limit", "err", err)
		h.errorPage(c, http.StatusServiceUnavailable, "err_unavailable")
		return false
	}
	if wait <= 0 {
		return true
	}
	h.loginFailure()
	h.opts.Logger.WarnContext(c.Request.Context(), "login limited", "kind", kind, "retry_after_s", int(wait.Seconds()))
	page["WaitMinutes"] = strconv.Itoa(int(math.Ceil(wait.Minutes())))
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	h.render(c, http.StatusTooManyRequests, "login", titleID, sess, page)
	return false
}

func (h *Handler) loginFailure() {
	if h.opts.OnLoginFailure != nil {
		h.opts.OnLoginFailure()
	}
}

// loginSucceeded takes back the attempt a successful login counted.
func (h *Handler) loginSucceeded(c *gin.Context, kind, email string) {
	if err := h.opts.Store.LoginSucceeded(c.Request.Context(), kind, email, c.ClientIP(), h.opts.LoginLimits); err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "login limit", "err", err)
	}
}

// startSession logs someone in: a new session id (an id planted before
// login is worthless after it), a new CSRF token, and key = id.
func (h *Handler) startSession(c *gin.Context, sess *sessions.Session, key, id string) error {
	if err := h.opts.Sessions.Renew(c.Request, sess); err != nil {
		return err
	}
	sess.Values = map[any]any{key: id, keyCSRF: store.NewSecret()}
	return sess.Save(c.Request, c.Writer)
}

func (h *Handler) logout(c *gin.Context) {
	if sess, ok := h.session(c); ok && h.endSession(c, sess) {
		c.Redirect(http.StatusSeeOther, "/login?"+url.Values{"next": {safeNext(c.PostForm("next"))}}.Encode())
	}
}

// endSession logs out (a CSRF-checked post): the session is deleted on the
// server and its cookie cleared. It reports false when it has answered.
func (h *Handler) endSession(c *gin.Context, sess *sessions.Session) bool {
	if !h.csrfOK(c, sess) {
		return false
	}
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request, c.Writer); err != nil {
		h.opts.Logger.ErrorContext(c.Request.Context(), "end session", "err", err)
	}
	return true
}

func (h *Handler) home(c *gin.Context) {
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	h.render(c, http.StatusOK, "home", "home_title", sess, map[string]any{"Email": m.Email})
}

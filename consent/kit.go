// Package consent owns what a person sees in a browser. Its page kit (Kit:
// layout, sessions, CSRF, i18n, the login limits) carries the merchant
// pages (MerchantPages: login, the consent page of /apps/authorize, a
// merchant's connections), the admin pages (AdminPages) and the developer
// portal (DeveloperPages); other page groups, such as the demo client in
// consent/demo, are built on the same kit. The OAuth rules come from an
// Authorizer that the server provides.
package consent

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// LoginLimiter counts login attempts (the store has it).
type LoginLimiter interface {
	LoginAttempt(ctx context.Context, kind, email, address string, l store.LoginLimits) (time.Duration, error)
	LoginSucceeded(ctx context.Context, kind, email, address string, l store.LoginLimits) error
}

// KitOptions configure the page kit.
type KitOptions struct {
	Templates fs.FS // holds templates/*.html, each page over templates/layout.html
	Sessions  *SessionStore
	// Assets maps static file names to their fingerprinted addresses.
	Assets map[string]string
	// SecureCookies marks cookies Secure (an https issuer).
	SecureCookies bool
	// Catalogue describes the scopes on the pages, and binds scopes to
	// resource types.
	Catalogue store.Catalogue
	// ResourceTypes are the configured resource types, named on the
	// consent page's choice of resources (issue 17).
	ResourceTypes store.ResourceTypes
	// Issuer is enlace's public address, for the links the pages hand
	// out (a developer invitation's).
	Issuer string
	// Apps looks up an app (through the server's cache), to name it.
	Apps func(ctx context.Context, clientID string) (*store.App, error)
	// Limiter and LoginLimits bound login attempts per account and address.
	Limiter     LoginLimiter
	LoginLimits store.LoginLimits
	// OnLoginFailure, if set, is called for each failed or limited login.
	OnLoginFailure func()
	Logger         *slog.Logger
}

// Kit is what every page group is built on.
type Kit struct {
	opts  KitOptions
	i18n  *catalogue
	pages map[string]*template.Template
}

const (
	sessionName   = "enlace_session"
	keyCSRF       = "csrf"
	csrfFormField = "csrf_token"
)

// NewKit parses every page template and the message catalogues.
func NewKit(opts KitOptions) (*Kit, error) {
	b, err := newBundle()
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	k := &Kit{opts: opts, i18n: newCatalogue(b), pages: map[string]*template.Template{}}
	files, err := fs.Glob(opts.Templates, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.ParseFS(opts.Templates, "templates/layout.html", f)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		k.pages[name] = t
	}
	return k, nil
}

// Logger is the kit's logger.
func (k *Kit) Logger() *slog.Logger { return k.opts.Logger }

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

// With pairs the page with v, for a sub-template that needs both the
// page's translations and a value of its own, which it reads as .V.
func (p page) With(v any) pageWith { return pageWith{page: p, V: v} }

// pageWith is a page with a value for a sub-template (With).
type pageWith struct {
	page
	V any
}

// Asset returns the fingerprinted address of a static file, which can be
// cached for a year; an unknown name gets its plain address.
func (p page) Asset(name string) string {
	if a, ok := p.assets[name]; ok {
		return a
	}
	return "/static/" + name
}

// Render answers with the page template name, titled by the message
// titleID; with a session, the page gets its CSRF token.
func (k *Kit) Render(c *gin.Context, status int, name, titleID string, sess *sessions.Session, data any) {
	lang := k.i18n.pick(c.Request)
	loc := k.i18n.localizer(lang)
	p := page{localizer: loc, Lang: lang.String(), Data: data, Languages: k.langLinks(c.Request, lang),
		assets: k.opts.Assets}
	if q := c.Query("lang"); q != "" {
		// Keep the picked language for the pages that follow (forms,
		// redirects) without carrying ?lang= everywhere.
		http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: lang.String(), Path: "/",
			MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: k.opts.SecureCookies})
	}
	if titleID != "" {
		p.Title = loc.T(titleID)
	}
	if sess != nil {
		tok, err := k.csrfToken(c, sess)
		if err != nil {
			// A form whose token could not be kept would only fail when
			// posted: say now that the service is unavailable.
			k.opts.Logger.ErrorContext(c.Request.Context(), "save session", "err", err)
			k.ErrorPage(c, http.StatusServiceUnavailable, "err_unavailable")
			return
		}
		p.CSRF = tok
	}
	t, ok := k.pages[name]
	var buf bytes.Buffer
	err := fmt.Errorf("no template %q", name)
	if ok {
		err = t.ExecuteTemplate(&buf, "layout", p)
	}
	if err != nil {
		k.opts.Logger.ErrorContext(c.Request.Context(), "render page", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// ErrorPage shows an error in words a person understands; it never
// redirects.
func (k *Kit) ErrorPage(c *gin.Context, status int, messageID string) {
	k.Render(c, status, "error", "error_title", nil, map[string]string{"Message": messageID})
}

// Unavailable logs what failed and shows the "try again later" page.
func (k *Kit) Unavailable(c *gin.Context, what string, err error) {
	k.opts.Logger.ErrorContext(c.Request.Context(), what, "err", err)
	k.ErrorPage(c, http.StatusServiceUnavailable, "err_unavailable")
}

// Session returns the request's session of that name; a broken store is
// answered with an error page and ok=false.
func (k *Kit) Session(c *gin.Context, name string) (*sessions.Session, bool) {
	sess, err := k.opts.Sessions.Get(c.Request, name)
	if err != nil {
		k.Unavailable(c, "load session", err)
		return nil, false
	}
	return sess, true
}

// csrfToken returns the CSRF token of a page's forms. A logged-in session
// holds its own (synchronizer token pattern, set by startSession). A
// visitor without one (the login pages) gets a signed double-submit
// cookie instead, so that a page view writes nothing to Redis: a session
// is stored only once a login is accepted. Together with SameSite=Lax
// cookies a cross-site post can carry neither.
func (k *Kit) csrfToken(c *gin.Context, sess *sessions.Session) (string, error) {
	if tok, ok := sess.Values[keyCSRF].(string); ok && tok != "" {
		return tok, nil
	}
	if tok := k.opts.Sessions.CSRFCookie(c.Request); tok != "" {
		return tok, nil
	}
	tok := store.NewSecret()
	if err := k.opts.Sessions.SetCSRFCookie(c.Writer, tok); err != nil {
		return "", err
	}
	return tok, nil
}

// CSRFOK reports whether the posted form carries the token of the session,
// or of the signed cookie when there is no session, and answers a failure
// itself (403, the expired-form page).
func (k *Kit) CSRFOK(c *gin.Context, sess *sessions.Session) bool {
	want, _ := sess.Values[keyCSRF].(string)
	if want == "" {
		want = k.opts.Sessions.CSRFCookie(c.Request)
	}
	got := c.Request.PostFormValue(csrfFormField)
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		k.formExpired(c)
		return false
	}
	return true
}

// loginAllowed counts the attempt against the login limits before any
// password is checked; over them it shows the login page asking to wait
// (429) and returns false.
func (k *Kit) loginAllowed(c *gin.Context, sess *sessions.Session, kind, email, titleID string, page map[string]any) bool {
	wait, err := k.opts.Limiter.LoginAttempt(c.Request.Context(), kind, email, c.ClientIP(), k.opts.LoginLimits)
	if err != nil {
		k.Unavailable(c, "login limit", err)
		return false
	}
	if wait <= 0 {
		return true
	}
	k.loginFailure()
	k.opts.Logger.WarnContext(c.Request.Context(), "login limited", "kind", kind, "retry_after_s", int(wait.Seconds()),
		"account", AccountRef(email), "address", c.ClientIP())
	page["WaitMinutes"] = strconv.Itoa(int(math.Ceil(wait.Minutes())))
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	k.Render(c, http.StatusTooManyRequests, "login", titleID, sess, page)
	return false
}

// AccountRef names an account in a log line without its email: the first
// 16 hex digits of the digest of the normalised email, the same for every
// attempt on one account, so an operator can follow an attack on it.
func AccountRef(email string) string { return store.Digest(store.NormalizeEmail(email))[:16] }

func (k *Kit) loginFailure() {
	if k.opts.OnLoginFailure != nil {
		k.opts.OnLoginFailure()
	}
}

// loginSucceeded takes back the attempt a successful login counted.
func (k *Kit) loginSucceeded(c *gin.Context, kind, email string) {
	if err := k.opts.Limiter.LoginSucceeded(c.Request.Context(), kind, email, c.ClientIP(), k.opts.LoginLimits); err != nil {
		k.opts.Logger.ErrorContext(c.Request.Context(), "login limit", "err", err)
	}
}

// startSession logs someone in: a new session id (an id planted before
// login is worthless after it), a new CSRF token, and key = id.
func (k *Kit) startSession(c *gin.Context, sess *sessions.Session, key, id string) error {
	if err := k.opts.Sessions.Renew(c.Request, sess); err != nil {
		return err
	}
	sess.Values = map[any]any{key: id, keyCSRF: store.NewSecret(),
		keyLoginAt: strconv.FormatInt(time.Now().UnixMilli(), 10)}
	return sess.Save(c.Request, c.Writer)
}

// keyLoginAt is when the session's login was accepted (Unix ms).
const keyLoginAt = "login_at"

// loginAt is when the session's login was accepted (zero without one).
func loginAt(sess *sessions.Session) time.Time {
	v, _ := sess.Values[keyLoginAt].(string)
	at, err := strconv.ParseInt(v, 10, 64)
	if err != nil || at <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(at)
}

// sessionCurrent reports whether a logged-in session may still act for a:
// not once an operator has set a new password since its login.
func sessionCurrent(sess *sessions.Session, a *store.Account) bool {
	v, _ := sess.Values[keyLoginAt].(string)
	at, _ := strconv.ParseInt(v, 10, 64)
	return a.SessionValid(time.UnixMilli(at))
}

// endSession logs out (a CSRF-checked post): the session is deleted on the
// server and its cookie cleared. It reports false when it has answered.
func (k *Kit) endSession(c *gin.Context, sess *sessions.Session) bool {
	if !k.CSRFOK(c, sess) {
		return false
	}
	k.dropSession(c, sess)
	return true
}

// dropSession deletes the session on the server and clears its cookie.
func (k *Kit) dropSession(c *gin.Context, sess *sessions.Session) {
	sess.Options.MaxAge = -1
	if err := sess.Save(c.Request, c.Writer); err != nil {
		k.opts.Logger.ErrorContext(c.Request.Context(), "end session", "err", err)
	}
}

type scopeView struct {
	Name        string
	Description string
	// Reach, on the connections pages, says which of the merchant's
	// resources a resource-bound scope reaches ("solo en Bodega Central").
	Reach string
}

// describeScopes returns each scope with its catalogue description in the
// page's language.
func (k *Kit) describeScopes(c *gin.Context, names []string) []scopeView {
	en := k.i18n.pick(c.Request).String() == "en"
	out := make([]scopeView, 0, len(names))
	for _, name := range names {
		sc, _ := k.opts.Catalogue.Lookup(name)
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

package consent

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// The developer portal (issue 15), under /developers: a developer's
// account (login, sign-up — open or by invitation — and logout), their
// apps (developer_apps.go) and their RFC 7591 initial access tokens. It
// has a session cookie of its own, never a merchant's or an admin's, and
// every page of an app answers only its owner (404 for anyone else).

// DeveloperStore is what the developer portal needs of the store.
type DeveloperStore interface {
	AuthenticateDeveloper(ctx context.Context, email, password string) (*store.Developer, error)
	GetDeveloper(ctx context.Context, id string) (*store.Developer, error)
	CreateDeveloper(ctx context.Context, email, name, password string) (*store.Developer, error)
	InvitedEmail(ctx context.Context, tok string) (string, error)
	AcceptInvitation(ctx context.Context, tok, name, password string) (*store.Developer, error)
	CheckPassword(password string) error
	MinPasswordLength() int
	CreateInitialAccessToken(ctx context.Context, developerID string, ttl time.Duration) (string, *store.InitialAccess, error)

	DeveloperApps(ctx context.Context, developerID string, p store.Page) (*store.AppPage, error)
	GetApp(ctx context.Context, clientID string) (*store.App, error)
	CreateApp(ctx context.Context, spec store.AppSpec, catalogue []string) (*store.App, string, error)
	AppCreationAttempt(ctx context.Context, developerID string, perDay int) (time.Duration, error)
	RegistrationAttempt(ctx context.Context, address string, perPeriod int, period time.Duration) (time.Duration, error)
	UpdateApp(ctx context.Context, clientID string, u store.AppUpdate, catalogue []string, by store.Actor) (*store.App, error)
	SetAppLogo(ctx context.Context, clientID string, upload []byte, by store.Actor) (*store.App, error)
	SubmitApp(ctx context.Context, clientID string, by store.Actor) error
	RotateSecret(ctx context.Context, clientID string, overlap time.Duration, by store.Actor) (string, *store.App, error)
	RetireSecret(ctx context.Context, clientID string, by store.Actor) error
	DeleteApp(ctx context.Context, clientID string, by store.Actor) (*store.Revocation, error)
	CountConnections(ctx context.Context, apps []*store.App) (map[string]int, error)
	ListAudit(ctx context.Context, f store.AuditFilter, before string, limit int) ([]store.Event, string, error)

	FindMerchant(ctx context.Context, email string) (*store.Merchant, error)
	CreateMerchant(ctx context.Context, email, name, password string) (*store.Merchant, error)
	AccountEmails(ctx context.Context, merchantIDs, adminIDs []string) (map[string]string, map[string]string, error)

	// The app's webhook (developer_webhooks.go).
	SetWebhook(ctx context.Context, clientID, rawURL string, allowHTTP bool, by store.Actor) (string, *store.App, error)
	RemoveWebhook(ctx context.Context, clientID string, by store.Actor) error
	RotateWebhookSecret(ctx context.Context, clientID string, overlap time.Duration, by store.Actor) (string, *store.App, error)
	SendPing(ctx context.Context, clientID string, o store.DeliveryOptions) (*store.Delivery, error)
	DeliveryReader
}

// DeliveryReader is what the deliveries pages (the portal's and the
// admin's) need of the store.
type DeliveryReader interface {
	Deliveries(ctx context.Context, clientID, cursor string, limit int) (*store.DeliveryPage, error)
	GetDelivery(ctx context.Context, clientID, id string) (*store.Delivery, error)
	ResendDelivery(ctx context.Context, clientID, id string, o store.DeliveryOptions) error
}

// DeveloperOptions configure the portal.
type DeveloperOptions struct {
	// OpenSignup lets anyone open a developer account; otherwise (the
	// default) only someone holding an invitation may.
	OpenSignup bool
	// SignupsPerAddress open sign-ups from one client address in each
	// SignupPeriod (the merchants' registration limit).
	SignupsPerAddress int
	SignupPeriod      time.Duration
	// AppsPerDay is how many apps one developer may create in 24 hours.
	AppsPerDay int
	// CheckWebhookURL checks where a webhook endpoint points before it is
	// saved (the server's SSRF rules: no loopback, private, link-local or
	// metadata address); an error wrapping store.ErrInvalid is a refusal
	// shown on the page. nil leaves only the store's syntax rules.
	CheckWebhookURL func(ctx context.Context, raw string) error
	// AllowPrivateWebhooks lets endpoints be http
	// (webhooks.allow_private_targets, for development and tests).
	AllowPrivateWebhooks bool
	// Deliveries are the deliverer's settings a ping or a resend applies
	// (how long the delivery's record is kept).
	Deliveries store.DeliveryOptions
	// WebhookDisableAfter is how long an endpoint may fail before it is
	// disabled (webhooks.disable_after), as its page says.
	WebhookDisableAfter time.Duration
}

// DeveloperPages are the developer portal's pages.
type DeveloperPages struct {
	*Kit
	store DeveloperStore
	cfg   DeveloperOptions
}

// NewDeveloperPages returns the developer portal over the kit.
func NewDeveloperPages(k *Kit, st DeveloperStore, opts DeveloperOptions) *DeveloperPages {
	return &DeveloperPages{Kit: k, store: st, cfg: opts}
}

const (
	developerSessionName = "enlace_developer"
	keyDeveloper         = "developer_id"
	// developerHome is the portal's address: the login page, or the
	// developer's apps once logged in.
	developerHome = "/developers"
)

func (h *DeveloperPages) developerSession(c *gin.Context) (*sessions.Session, bool) {
	return h.Session(c, developerSessionName)
}

// currentDeveloper returns the session's developer, or nil when nobody
// (or a developer whose password was reset since) is logged in.
func (h *DeveloperPages) currentDeveloper(c *gin.Context, sess *sessions.Session) (*store.Developer, error) {
	id, _ := sess.Values[keyDeveloper].(string)
	if id == "" {
		return nil, nil
	}
	d, err := h.store.GetDeveloper(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !sessionCurrent(sess, d)) {
		return nil, nil
	}
	return d, err
}

// requireDeveloper returns the session and its developer; a post must
// carry the session's CSRF token. Anyone else goes to the portal's login.
func (h *DeveloperPages) requireDeveloper(c *gin.Context) (*sessions.Session, *store.Developer, bool) {
	sess, ok := h.developerSession(c)
	if !ok {
		return nil, nil, false
	}
	d, err := h.currentDeveloper(c, sess)
	if err != nil {
		h.Unavailable(c, "load developer", err)
		return nil, nil, false
	}
	if d == nil {
		c.Redirect(http.StatusSeeOther, developerHome)
		return nil, nil, false
	}
	if c.Request.Method == http.MethodPost && !h.CSRFOK(c, sess) {
		return nil, nil, false
	}
	return sess, d, true
}

// loginData is the developer login page's data (templates/login.html).
func (h *DeveloperPages) loginData(email string) map[string]any {
	return map[string]any{"Action": developerHome + "/login", "Developer": true, "Email": email,
		"SignupLink": developerHome + "/signup"}
}

// Home is the portal: the login page, or the developer's apps.
func (h *DeveloperPages) Home(c *gin.Context) {
	sess, ok := h.developerSession(c)
	if !ok {
		return
	}
	d, err := h.currentDeveloper(c, sess)
	if err != nil {
		h.Unavailable(c, "load developer", err)
		return
	}
	if d == nil {
		h.Render(c, http.StatusOK, "login", "developer_login_title", sess, h.loginData(""))
		return
	}
	h.appList(c, sess, d)
}

// Login checks a developer's email and password, under the merchants'
// login limits, and starts a developer session.
func (h *DeveloperPages) Login(c *gin.Context) {
	sess, ok := h.developerSession(c)
	if !ok {
		return
	}
	if !h.CSRFOK(c, sess) {
		return
	}
	email := c.PostForm("email")
	page := h.loginData(email)
	if !h.loginAllowed(c, sess, "developer", email, "developer_login_title", page) {
		return
	}
	d, err := h.store.AuthenticateDeveloper(c.Request.Context(), email, c.PostForm("password"))
	if errors.Is(err, store.ErrBadCredentials) {
		h.Logger().InfoContext(c.Request.Context(), "developer login failed", "account", AccountRef(email), "address", c.ClientIP())
		h.loginFailure()
		page["Failed"] = true
		h.Render(c, http.StatusUnauthorized, "login", "developer_login_title", sess, page)
		return
	}
	if err == nil {
		err = h.startSession(c, sess, keyDeveloper, d.ID)
	}
	if err != nil {
		h.Unavailable(c, "developer login", err)
		return
	}
	h.loginSucceeded(c, "developer", email)
	h.Logger().InfoContext(c.Request.Context(), "developer login", "developer_id", d.ID)
	c.Redirect(http.StatusSeeOther, developerHome)
}

// Logout ends the developer session.
func (h *DeveloperPages) Logout(c *gin.Context) {
	if sess, ok := h.developerSession(c); ok && h.endSession(c, sess) {
		c.Redirect(http.StatusSeeOther, developerHome)
	}
}

// signupData is the sign-up page's data: the invitation (and the email it
// is for) or, with open sign-up, an email field.
type signupData struct {
	Invite, InvitedEmail string
	Email, Name          string
	// Closed is invite-only sign-up without a valid invitation: no form.
	Closed bool
	Error  string
	// ErrorArg is the value the error is about.
	ErrorArg string
}

// invitation reads the invitation of the request (?invite= or the form's
// invite): its token and the email it is for; "" for none or an invalid
// one (with found false when one was given but is unknown or used).
func (h *DeveloperPages) invitation(c *gin.Context, tok string) (email string, found bool, err error) {
	if tok == "" {
		return "", false, nil
	}
	email, err = h.store.InvitedEmail(c.Request.Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	return email, err == nil, err
}

// SignupPage shows the sign-up form: to anyone with open sign-up, or to
// the holder of a valid invitation (?invite=TOKEN). Invite-only without
// one says so and offers no form.
func (h *DeveloperPages) SignupPage(c *gin.Context) {
	sess, ok := h.developerSession(c)
	if !ok {
		return
	}
	tok := c.Query("invite")
	email, found, err := h.invitation(c, tok)
	if err != nil {
		h.Unavailable(c, "read invitation", err)
		return
	}
	data := signupData{}
	status := http.StatusOK
	switch {
	case found:
		data.Invite, data.InvitedEmail = tok, email
	case tok != "":
		data.Closed, data.Error, status = !h.cfg.OpenSignup, "developer_invite_invalid", http.StatusNotFound
	case !h.cfg.OpenSignup:
		data.Closed = true
	}
	h.Render(c, status, "developer_signup", "developer_signup_title", sess, data)
}

// Signup opens a developer account and logs its developer in. With
// invite-only sign-up a post without a valid invitation is refused and
// writes nothing; an invitation is used up by the account it opens.
func (h *DeveloperPages) Signup(c *gin.Context) {
	sess, ok := h.developerSession(c)
	if !ok {
		return
	}
	if !h.CSRFOK(c, sess) {
		return
	}
	ctx := c.Request.Context()
	tok := c.PostForm("invite")
	invited, found, err := h.invitation(c, tok)
	if err != nil {
		h.Unavailable(c, "read invitation", err)
		return
	}
	name, email, pw := strings.TrimSpace(c.PostForm("name")), c.PostForm("email"), c.PostForm("password")
	data := signupData{Name: name, Email: email}
	if found {
		data.Invite, data.InvitedEmail = tok, invited
	}
	refuse := func(status int, msg, arg string) {
		data.Error, data.ErrorArg = msg, arg
		h.Render(c, status, "developer_signup", "developer_signup_title", sess, data)
	}
	switch {
	case tok != "" && !found:
		data.Closed = !h.cfg.OpenSignup
		refuse(http.StatusNotFound, "developer_invite_invalid", "")
		return
	case !found && !h.cfg.OpenSignup:
		data.Closed = true
		refuse(http.StatusForbidden, "developer_signup_closed", "")
		return
	case name == "":
		refuse(http.StatusBadRequest, "developer_err_name", "")
		return
	case !found && !store.ValidEmail(store.NormalizeEmail(email)):
		refuse(http.StatusBadRequest, "developer_err_email", email)
		return
	}
	if err := h.store.CheckPassword(pw); err != nil {
		refuse(http.StatusBadRequest, "developer_err_password", strconv.Itoa(h.store.MinPasswordLength()))
		return
	}
	if !found {
		// An open sign-up counts like a merchant's (an invitation is its
		// own limit): only a good form is counted, as each costs a
		// password hash.
		wait, err := h.store.RegistrationAttempt(ctx, c.ClientIP(), h.cfg.SignupsPerAddress, h.cfg.SignupPeriod)
		if err != nil {
			h.Unavailable(c, "registration limit", err)
			return
		}
		if wait > 0 {
			c.Header("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
			refuse(http.StatusTooManyRequests, "developer_err_signups", strconv.Itoa(int(max(time.Minute, wait).Round(time.Minute)/time.Minute)))
			return
		}
	}
	var d *store.Developer
	if found {
		d, err = h.store.AcceptInvitation(ctx, tok, name, pw)
	} else {
		d, err = h.store.CreateDeveloper(ctx, email, name, pw)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The invitation was used meanwhile.
		refuse(http.StatusNotFound, "developer_invite_invalid", "")
		return
	case errors.Is(err, store.ErrConflict):
		refuse(http.StatusConflict, "developer_err_email_taken", "")
		return
	case errors.Is(err, store.ErrInvalid):
		refuse(http.StatusBadRequest, "developer_err_name", "")
		return
	}
	if err == nil {
		err = h.startSession(c, sess, keyDeveloper, d.ID)
	}
	if err != nil {
		h.Unavailable(c, "developer sign-up", err)
		return
	}
	h.Logger().InfoContext(ctx, "developer signed up", "developer_id", d.ID, "invited", found)
	c.Redirect(http.StatusSeeOther, developerHome)
}

// devAppRow is one app on the developer's list.
type devAppRow struct {
	*store.App
	StatusID string
}

// statusLabel is the message id of an app's status as the developer sees
// it; a suspended app says so whatever its lifecycle status.
func statusLabel(a *store.App) string {
	if a.Disabled {
		return "developer_status_suspended"
	}
	switch a.Status {
	case store.StatusReview:
		return "developer_status_review"
	case store.StatusPublished:
		return "developer_status_published"
	}
	return "developer_status_development"
}

// developerPage bounds the app list; a developer rarely has more.
const developerPage = 100

// appList shows the developer's apps, theirs only.
func (h *DeveloperPages) appList(c *gin.Context, sess *sessions.Session, d *store.Developer) {
	page, err := h.store.DeveloperApps(c.Request.Context(), d.ID, store.Page{Cursor: c.Query("cursor"), Limit: developerPage})
	if errors.Is(err, store.ErrInvalid) {
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	if err != nil {
		h.Unavailable(c, "developer apps", err)
		return
	}
	rows := make([]devAppRow, len(page.Apps))
	for i, a := range page.Apps {
		rows[i] = devAppRow{App: a, StatusID: statusLabel(a)}
	}
	next := ""
	if page.Next != "" {
		next = developerHome + "?" + url.Values{"cursor": {page.Next}}.Encode()
	}
	h.Render(c, http.StatusOK, "developer_apps", "developer_apps_title", sess, map[string]any{
		"Developer": d, "Apps": rows, "Total": page.Total, "Next": next,
		"Notice": developerNotice(c.Query("notice")),
	})
}

// CreateToken makes an RFC 7591 initial access token for the developer,
// shown once.
func (h *DeveloperPages) CreateToken(c *gin.Context) {
	sess, d, ok := h.requireDeveloper(c)
	if !ok {
		return
	}
	tok, ia, err := h.store.CreateInitialAccessToken(c.Request.Context(), d.ID, 0)
	if err != nil {
		h.Unavailable(c, "create initial access token", err)
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "initial access token created", "developer_id", d.ID)
	h.Render(c, http.StatusOK, "developer_secret", "developer_token_title", sess, shownOnce{
		TitleID: "developer_token_title", TextID: "developer_token_text", Label: "developer_token_label",
		Value: tok, Expires: formatTime(ia.ExpiresAt), Back: developerHome})
}

// shownOnce is a credential on the one page that shows it: a new app's
// secret, a rotated secret, a sandbox merchant's password, an initial
// access token. It is in this answer only (no-store), never in a log.
type shownOnce struct {
	TitleID, TextID, Label string
	Value                  string
	// Email is the account the value is the password of, if any.
	Email string
	// ClientID is the app the value is a secret of, if any.
	ClientID string
	Expires  string
	Back     string
}

// developerNotice is the message id of a notice named in a redirect's
// query, from a fixed set (anything else shows nothing).
func developerNotice(n string) string {
	switch n {
	case "updated", "logo", "submitted", "retired", "test_merchant_added", "test_merchant_removed", "deleted",
		"webhook_saved", "webhook_removed", "ping_sent", "resent":
		return "developer_notice_" + n
	}
	return ""
}

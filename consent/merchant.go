package consent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

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
	// RequestURI is the pushed request (RFC 9126) this request came from,
	// "" for one sent in the query: the decision consumes it.
	RequestURI string
	// DPoPJKT binds the code to a DPoP key (dpop_jkt, RFC 9449 §10).
	DPoPJKT string
	// App is the app as the request was checked against it: its identity
	// for the consent page, and who may connect it.
	App *store.App
	// Preselect are the resources the app asked for (RFC 9396
	// authorization_details), by scope: the consent page offers them
	// chosen, and the merchant still decides.
	Preselect store.ResourceGrant

	// The OpenID Connect parameters (Core §3.1.2.1), checked.
	// Nonce goes into the code's ID token.
	Nonce string
	// Prompt are the prompt values: none, login, consent, select_account.
	Prompt []string
	// MaxAge is max_age in seconds, nil when the request had none.
	MaxAge *int64
	// LoginHint pre-fills the login page's email.
	LoginHint string
	// HintSubject is the merchant an id_token_hint names ("" without
	// one): a session of another merchant does not answer the request.
	HintSubject string
	// AuthTime is when the merchant logged in; the consent page sets it
	// before Approve, for the ID tokens' auth_time.
	AuthTime time.Time
}

// ErrNotTestMerchant is an approval of an app in development by a merchant
// who is not one of its test merchants.
var ErrNotTestMerchant = errors.New("the app is in development: only its test merchants can connect it")

// AuthorizeError is a refused authorization request. With RedirectTo set
// the browser is sent back to the app with the error; without it, the
// redirect URI could not be trusted and an error page is shown instead.
type AuthorizeError struct {
	RedirectTo string
	// Message is the message id of the error page.
	Message string
}

// Error names the refusal.
func (e *AuthorizeError) Error() string { return "authorize: " + e.Message }

// Authorizer holds the OAuth rules of the authorization endpoint.
type Authorizer interface {
	// ParseAuthorize validates the request's query; a refusal is an
	// *AuthorizeError, any other error a failure of the store.
	ParseAuthorize(r *http.Request) (*AuthorizeRequest, error)
	// Approve records a new connection with the granted scopes, limited to
	// the resources the merchant chose (nil: every scope reaches all), and
	// returns where to send the browser: the redirect URI with code, state
	// and iss. A choice of resources that is not the merchant's, or of a
	// scope not bound to a resource type, wraps store.ErrInvalid.
	Approve(ctx context.Context, req *AuthorizeRequest, merchantID string, granted []string, resources store.ResourceGrant) (string, error)
	// Deny returns the redirect URI with error=access_denied, state and iss.
	// A pushed request (RequestURI) is over with it.
	Deny(ctx context.Context, req *AuthorizeRequest) string
	// Refuse returns the redirect URI with the error code (an OpenID
	// Connect one: login_required, consent_required), its description,
	// state and iss.
	Refuse(req *AuthorizeRequest, code, description string) string
	// ParseLogout validates an RP-initiated logout request (its query, or
	// its form on a POST); a refusal is an *AuthorizeError with a
	// Message, any other error a failure of the store.
	ParseLogout(r *http.Request) (*LogoutRequest, error)
}

// MerchantStore is what the merchant pages need of the store.
type MerchantStore interface {
	AuthenticateMerchant(ctx context.Context, email, password string) (*store.Merchant, error)
	GetMerchant(ctx context.Context, id string) (*store.Merchant, error)
	ListConnections(ctx context.Context, f store.ConnectionFilter, p store.Page) (*store.ConnectionPage, error)
	GetConnection(ctx context.Context, id string) (*store.Connection, error)
	RevokeConnection(ctx context.Context, id string, by store.Actor) error
	NarrowResources(ctx context.Context, id string, g store.ResourceGrant, by store.Actor) (*store.Connection, error)
	// Resources returns the merchant's resources of the named types.
	Resources(ctx context.Context, merchantID string, types store.ResourceTypes, names ...string) (map[string][]store.Resource, error)
}

// MerchantPages are a merchant's pages: login, the consent page of the
// authorization endpoint, and the merchant's connections.
type MerchantPages struct {
	*Kit
	auth  Authorizer
	store MerchantStore
}

const keyMerchant = "merchant_id"

// NewMerchantPages returns the merchant pages over the kit.
func NewMerchantPages(k *Kit, auth Authorizer, st MerchantStore) *MerchantPages {
	return &MerchantPages{Kit: k, auth: auth, store: st}
}

// currentMerchant returns the logged-in merchant, or nil.
func (h *MerchantPages) currentMerchant(c *gin.Context, sess *sessions.Session) (*store.Merchant, error) {
	id, _ := sess.Values[keyMerchant].(string)
	if id == "" {
		return nil, nil
	}
	m, err := h.store.GetMerchant(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !sessionCurrent(sess, m)) {
		return nil, nil
	}
	return m, err
}

// parse validates the authorization request; on a refusal it has already
// answered (error page or redirect) and returns nil.
func (h *MerchantPages) parse(c *gin.Context) *AuthorizeRequest {
	req, err := h.auth.ParseAuthorize(c.Request)
	var aerr *AuthorizeError
	switch {
	case err == nil:
		return req
	case errors.As(err, &aerr) && aerr.RedirectTo != "":
		c.Redirect(http.StatusFound, aerr.RedirectTo)
	case errors.As(err, &aerr):
		h.ErrorPage(c, http.StatusBadRequest, aerr.Message)
	default:
		h.Unavailable(c, "parse authorize request", err)
	}
	return nil
}

// Authorize shows the consent page, or the login page first.
func (h *MerchantPages) Authorize(c *gin.Context) {
	req := h.parse(c)
	if req == nil || !h.interaction(c, req) {
		return
	}
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	h.consentPage(c, http.StatusOK, req, sess, m, consentAgain{})
}

// consentAgain is how the consent page is shown again after an approval it
// could not take: the form as posted (nil on a first showing), and why.
type consentAgain struct {
	posted url.Values
	// sel are the choices of resources as posted.
	sel map[string]resourceSelection
	// nothingTicked: no scope was ticked.
	nothingTicked bool
	// noResource is the scope whose "only these" had nothing ticked.
	noResource string
	// resourceGone: a chosen resource is no longer the merchant's.
	resourceGone bool
}

// consentPage renders the consent page of req. Read and write scopes start
// ticked, as they always have (apps rely on a merchant's plain "Autorizar"
// granting what they asked for); manage scopes, which can delete or cancel,
// start unticked: the merchant grants them deliberately. A resource-bound
// scope's choice starts at "all" unless the app asked for specific
// resources (req.Preselect). Shown again (again.posted set), every box and
// choice is as the merchant left it, with a message saying why nothing
// happened.
func (h *MerchantPages) consentPage(c *gin.Context, status int, req *AuthorizeRequest, sess *sessions.Session,
	m *store.Merchant, again consentAgain) {
	if req.App != nil && !req.App.MayConnect(m.ID) {
		h.notTestMerchant(c, req)
		return
	}
	before, err := h.connectedBefore(c, m.ID, req.ClientID)
	if err != nil {
		h.Unavailable(c, "count connections", err)
		return
	}
	have, err := h.merchantResources(c.Request.Context(), m.ID, req.Scopes)
	if err != nil {
		h.Unavailable(c, "consent page", err)
		return
	}
	loc := h.i18n.localizer(h.i18n.pick(c.Request))
	var groups []scopeGroup
	sel := preselection(req.Preselect)
	if again.posted != nil {
		groups = h.groupScopesTicked(c, req.Scopes, loc, again.posted["granted"])
		sel = again.sel
	} else {
		groups = h.groupScopes(c, req.Scopes, loc, true)
	}
	choices := h.resourceChoices(loc, req.Scopes, have, sel)
	var reaches []scopeReach
	for i := range groups {
		for j := range groups[i].Scopes {
			gs := &groups[i].Scopes[j]
			gs.Choice = choices[gs.Name]
			if gs.Choice != nil {
				gs.Choice.Invalid = again.noResource == gs.Name
				reaches = append(reaches, scopeReach{Scope: gs.Name, Description: gs.Description, Choice: gs.Choice})
			}
		}
	}
	noResource := ""
	if again.noResource != "" {
		noResource = loc.T("consent_no_resource", "Scope", h.describeScopes(c, []string{again.noResource})[0].Description)
	}
	h.Render(c, status, "consent", "authorize", sess, map[string]any{
		"AppName":       req.AppName,
		"Initials":      initials(req.AppName),
		"App":           identity(req),
		"Host":          redirectHost(req.RedirectURI),
		"Email":         m.Email,
		"Groups":        groups,
		"Reaches":       reaches,
		"Total":         len(req.Scopes),
		"Before":        before,
		"NothingTicked": again.nothingTicked,
		"NoResource":    noResource,
		"ResourceGone":  again.resourceGone,
		"And":           loc.T("resource_and"),
		"Self":          c.Request.URL.RequestURI(),
	})
}

// scopeReach is a line of the consent page's summary: what a
// resource-bound scope reaches as the page stands.
type scopeReach struct {
	Scope       string
	Description string
	Choice      *resourceChoice
}

// connectedBefore is how often the merchant has connected the app already:
// every approval is a new connection, and a merchant who does not know
// that ends up with several alike ones.
type connectedBefore struct {
	Count int
	// AtLeast marks a lower bound: the merchant has more connections than
	// one page, and only the page was counted.
	AtLeast bool
}

// connectedBefore counts the merchant's live connections to the app in one
// page of the merchant's connections (the merchant's index, a bounded read),
// never every record: the store has no index by merchant and app, and the
// Total of a listing filtered by both is the merchant's, not the app's.
// Nil when there are none.
func (h *MerchantPages) connectedBefore(c *gin.Context, merchantID, clientID string) (*connectedBefore, error) {
	page, err := h.store.ListConnections(c.Request.Context(), store.ConnectionFilter{MerchantID: merchantID},
		store.Page{Limit: merchantPage})
	if err != nil {
		return nil, fmt.Errorf("list the merchant's connections: %w", err)
	}
	n := 0
	for _, cn := range page.Connections {
		if cn.ClientID == clientID {
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	return &connectedBefore{Count: n, AtLeast: page.Next != ""}, nil
}

// Decide handles the consent form: approve with the ticked scopes, each
// resource-bound one limited to the resources chosen for it, or cancel
// (which always works: nothing of the choice is read). The authorization
// request is re-validated from the query string.
func (h *MerchantPages) Decide(c *gin.Context) {
	if !asGET(c) {
		// An authorization request sent as a form (Core §3.1.2.1).
		return
	}
	req := h.parse(c)
	if req == nil {
		return
	}
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	if !h.CSRFOK(c, sess) {
		return
	}
	granted := c.Request.PostForm["granted"]
	for _, g := range granted {
		if !slices.Contains(req.Scopes, g) {
			// Only a forged form can tick a scope that was not offered.
			h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
			return
		}
	}
	if c.Request.PostFormValue("decision") != "approve" {
		c.Redirect(http.StatusSeeOther, h.auth.Deny(c.Request.Context(), req))
		return
	}
	have, err := h.merchantResources(c.Request.Context(), m.ID, req.Scopes)
	if err != nil {
		h.Unavailable(c, "approve", err)
		return
	}
	resources, sel, noResource, err := h.parseResourceChoice(c.Request.PostForm, req.Scopes, granted, have)
	if err != nil {
		// Only a forged form (or one posted after the platform changed
		// the merchant's set under it) chooses what was not offered.
		h.Logger().InfoContext(c.Request.Context(), "consent form refused", "merchant_id", m.ID, "err", err)
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	again := consentAgain{posted: c.Request.PostForm, sel: sel}
	if len(granted) == 0 {
		// "Autorizar" with every box unticked is no decision to deny: the
		// merchant pressed the button that connects. Say so and ask again,
		// rather than send them back to the app as if they had cancelled.
		again.nothingTicked = true
		h.consentPage(c, http.StatusUnprocessableEntity, req, sess, m, again)
		return
	}
	if noResource != "" {
		// "Only these" with none of them ticked grants nothing of the
		// scope; granting all instead would be the opposite of the choice.
		again.noResource = noResource
		h.consentPage(c, http.StatusUnprocessableEntity, req, sess, m, again)
		return
	}
	req.AuthTime = loginAt(sess)
	to, err := h.auth.Approve(c.Request.Context(), req, m.ID, granted, resources)
	if errors.Is(err, ErrNotTestMerchant) {
		h.notTestMerchant(c, req)
		return
	}
	if errors.Is(err, store.ErrInvalid) {
		// A resource chosen was removed from the merchant's set after
		// the form was read: the page shows the set as it is now.
		h.Logger().InfoContext(c.Request.Context(), "approval refused: resources changed", "merchant_id", m.ID, "err", err)
		again.resourceGone = true
		h.consentPage(c, http.StatusConflict, req, sess, m, again)
		return
	}
	if err != nil {
		h.Unavailable(c, "approve", err)
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
	// Dot segments resolved, so that a prefix check on the answer holds
	// for where the browser will really go (/admin/x/../../login is /login).
	if clean := path.Clean(u.Path); clean != u.Path && !(strings.HasSuffix(u.Path, "/") && clean+"/" == u.Path) {
		u.Path, u.RawPath = clean, ""
		return u.String()
	}
	return next
}

// Where the authorization endpoint answers: the platform's path, and the
// Multinexo-style name of the same page.
const (
	AuthorizePath  = "/apps/authorize"
	AuthorizeAlias = "/auth/v1/authorization"
)

func isAuthorizePath(p string) bool { return p == AuthorizePath || p == AuthorizeAlias }

// pendingFor returns the pending authorization request next is, for the
// login page's sentence and its login_hint; nil when next is not one.
func (h *MerchantPages) pendingFor(c *gin.Context, next string) *AuthorizeRequest {
	u, err := url.Parse(next)
	if err != nil || !isAuthorizePath(u.Path) {
		return nil
	}
	r := c.Request.Clone(c.Request.Context())
	r.URL = u
	r.Form, r.PostForm = nil, nil
	req, err := h.auth.ParseAuthorize(r)
	if err != nil {
		return nil
	}
	return req
}

// appNameFor returns the app name of a pending authorization request, for
// the login page's sentence; empty when next is not one.
func (h *MerchantPages) appNameFor(c *gin.Context, next string) string {
	if req := h.pendingFor(c, next); req != nil {
		return req.AppName
	}
	return ""
}

// LoginPage shows the merchant login form.
func (h *MerchantPages) LoginPage(c *gin.Context) {
	sess, ok := h.Session(c, sessionName)
	if !ok {
		return
	}
	next := safeNext(c.Query("next"))
	page := map[string]any{"Next": next, "Expired": c.Query("expired") == "1", "Again": c.Query("again") == "1"}
	if req := h.pendingFor(c, next); req != nil {
		// OpenID Connect's login_hint: the email the app expects.
		page["AppName"], page["Email"] = req.AppName, req.LoginHint
	}
	h.Render(c, http.StatusOK, "login", "login_title", sess, page)
}

// signedInCookie marks a browser that signed in and has not signed out.
// It holds no identifier and proves nothing (the session does that); it
// only lets a page that finds no session tell "your session expired" from
// "you never signed in", since by then the session cookie is gone too.
const signedInCookie = "enlace_signed_in"

// signedInMaxAge is how long a browser is remembered as signed in: longer
// than any session, so an expired one is still recognised.
const signedInMaxAge = 30 * 24 * 3600

func (h *MerchantPages) setSignedIn(c *gin.Context, on bool) {
	maxAge := signedInMaxAge
	if !on {
		maxAge = -1
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: signedInCookie, Value: "1", Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.opts.SecureCookies})
}

// hadSession reports a browser that signed in and never signed out.
func hadSession(c *gin.Context) bool {
	v, err := c.Cookie(signedInCookie)
	return err == nil && v == "1"
}

// Login checks the merchant's email and password and starts a session.
func (h *MerchantPages) Login(c *gin.Context) {
	sess, ok := h.Session(c, sessionName)
	if !ok {
		return
	}
	if !h.CSRFOK(c, sess) {
		return
	}
	next := safeNext(c.PostForm("next"))
	email := c.PostForm("email")
	page := map[string]any{"Next": next, "AppName": h.appNameFor(c, next), "Email": email}
	if !h.loginAllowed(c, sess, "merchant", email, "login_title", page) {
		return
	}
	m, err := h.store.AuthenticateMerchant(c.Request.Context(), email, c.PostForm("password"))
	if errors.Is(err, store.ErrBadCredentials) {
		h.Logger().InfoContext(c.Request.Context(), "login failed", "account", AccountRef(email), "address", c.ClientIP())
		h.loginFailure()
		page["Failed"] = true
		h.Render(c, http.StatusUnauthorized, "login", "login_title", sess, page)
		return
	}
	if err != nil {
		h.Unavailable(c, "authenticate merchant", err)
		return
	}
	if err := h.startSession(c, sess, keyMerchant, m.ID); err != nil {
		h.Unavailable(c, "start session", err)
		return
	}
	h.setSignedIn(c, true)
	h.loginSucceeded(c, "merchant", email)
	h.Logger().InfoContext(c.Request.Context(), "login", "merchant_id", m.ID)
	c.Redirect(http.StatusSeeOther, next)
}

// Logout ends the merchant's session.
func (h *MerchantPages) Logout(c *gin.Context) {
	if sess, ok := h.Session(c, sessionName); ok && h.endSession(c, sess) {
		h.setSignedIn(c, false)
		c.Redirect(http.StatusSeeOther, "/login?"+url.Values{"next": {safeNext(c.PostForm("next"))}}.Encode())
	}
}

// Home is the merchant's start page.
func (h *MerchantPages) Home(c *gin.Context) {
	sess, m, ok := h.requireMerchant(c)
	if !ok {
		return
	}
	h.Render(c, http.StatusOK, "home", "home_title", sess, map[string]any{"Email": m.Email})
}

// identity is the app's identity for the consent page (only its name, when
// the request did not carry the app).
func identity(req *AuthorizeRequest) appIdentity {
	if req.App == nil {
		return appIdentity{Name: req.AppName, ClientID: req.ClientID, Initials: initials(req.AppName)}
	}
	return identityOf(req.App)
}

// notTestMerchant tells a merchant that the app is still in development,
// with a way back to it that says they did not connect (access_denied).
func (h *MerchantPages) notTestMerchant(c *gin.Context, req *AuthorizeRequest) {
	h.Render(c, http.StatusForbidden, "error", "error_title", nil, map[string]string{
		"Message": "err_app_in_development", "Retry": h.auth.Deny(c.Request.Context(), req), "RetryLabel": "back_to_app"})
}

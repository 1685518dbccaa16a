package consent

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// A developer's apps in the portal: create, edit, logo, test merchants,
// review, secret rotation, deletion. Every handler starts from ownApp,
// which answers 404 for an app the session's developer does not own, so
// another developer's app is indistinguishable from one that does not
// exist.

// MaxLogoRequest bounds the body of a logo upload: the largest logo
// (store.MaxLogoBytes) with room for the multipart form around it. The
// body is cut off there before it is parsed.
const MaxLogoRequest = 300 << 10

// LogoPath is where enlace serves an app's logo: on its own origin, so a
// page showing it loads nothing from elsewhere, under the logo's
// fingerprint, so it can be cached for good.
func LogoPath(clientID, fingerprint string) string {
	return "/apps/" + url.PathEscape(clientID) + "/logo/" + url.PathEscape(fingerprint)
}

func appPath(clientID string) string { return developerHome + "/apps/" + url.PathEscape(clientID) }

// ownApp returns the app of the path if the developer owns it; anything
// else (unknown, deleted, another developer's, an operator's) is the same
// 404 page.
func (h *DeveloperPages) ownApp(c *gin.Context, d *store.Developer) (*store.App, bool) {
	a, err := h.store.GetApp(c.Request.Context(), c.Param("client_id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Unavailable(c, "get app", err)
		return nil, false
	}
	if a == nil || a.Owner == "" || a.Owner != d.ID {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return nil, false
	}
	return a, true
}

// requireOwnApp is requireDeveloper then ownApp.
func (h *DeveloperPages) requireOwnApp(c *gin.Context) (*sessions.Session, *store.Developer, *store.App, bool) {
	sess, d, ok := h.requireDeveloper(c)
	if !ok {
		return nil, nil, nil, false
	}
	a, ok := h.ownApp(c, d)
	return sess, d, a, ok
}

// appForm is the create and edit form of an app, as posted.
type appForm struct {
	Name, Description, Publisher, Homepage, PrivacyPolicy, Terms, SupportEmail string
	// RedirectURIs are one per line.
	RedirectURIs string
	Scopes       []string
	Public       bool
	// IDTokenAlg is the ID token signing algorithm chosen (one of
	// store.IDTokenAlgs; "" is the default); PostLogoutRedirectURIs are
	// one per line, none by default.
	IDTokenAlg             string
	PostLogoutRedirectURIs string
	// The security settings, on the edit form only (appsecurity.go in
	// the store): the switches, the client authentication ("" the
	// secret, or store.AuthPrivateKeyJWT), the JWK Set as text and the
	// jwks_uri.
	RequirePAR, RequireDPoP, FAPI2 bool
	AuthMethod, JWKS, JWKSURI      string
}

func readAppForm(c *gin.Context) appForm {
	return appForm{Name: strings.TrimSpace(c.PostForm("name")), Description: c.PostForm("description"),
		Publisher: c.PostForm("publisher"), Homepage: strings.TrimSpace(c.PostForm("homepage")),
		PrivacyPolicy: strings.TrimSpace(c.PostForm("privacy_policy")), Terms: strings.TrimSpace(c.PostForm("terms")),
		SupportEmail: strings.TrimSpace(c.PostForm("support_email")), RedirectURIs: c.PostForm("redirect_uris"),
		Scopes: c.PostFormArray("scopes"), Public: c.PostForm("client_type") == "public",
		IDTokenAlg: strings.TrimSpace(c.PostForm("id_token_alg")), PostLogoutRedirectURIs: c.PostForm("post_logout_redirect_uris"),
		RequirePAR: c.PostForm("require_par") != "", RequireDPoP: c.PostForm("require_dpop") != "", FAPI2: c.PostForm("fapi2") != "",
		AuthMethod: strings.TrimSpace(c.PostForm("auth_method")), JWKS: strings.TrimSpace(c.PostForm("jwks")),
		JWKSURI: strings.TrimSpace(c.PostForm("jwks_uri"))}
}

func formOf(a *store.App) appForm {
	f := appForm{Name: a.Name, Description: a.Profile.Description, Publisher: a.Profile.Publisher,
		Homepage: a.Profile.Homepage, PrivacyPolicy: a.Profile.PrivacyPolicy, Terms: a.Profile.Terms,
		SupportEmail: a.Profile.SupportEmail, RedirectURIs: strings.Join(a.RedirectURIs, "\n"),
		Scopes: a.Scopes, Public: a.Public, IDTokenAlg: a.IDTokenSigningAlg(),
		PostLogoutRedirectURIs: strings.Join(a.PostLogoutRedirectURIs, "\n")}
	f.RequirePAR, f.RequireDPoP, f.FAPI2 = a.RequirePAR, a.RequireDPoP, a.FAPI2
	f.AuthMethod, f.JWKS, f.JWKSURI = a.AuthMethod, indentJSON(a.JWKS), a.JWKSURI
	return f
}

// indentJSON is the stored JWK Set indented for the form's textarea: the
// store keeps it compact, and reads either back the same.
func indentJSON(compact string) string {
	var b bytes.Buffer
	if compact == "" || json.Indent(&b, []byte(compact), "", "  ") != nil {
		return compact
	}
	return b.String()
}

// security is the form's security settings.
func (f appForm) security() store.Security {
	return store.Security{RequirePAR: f.RequirePAR, RequireDPoP: f.RequireDPoP, FAPI2: f.FAPI2, AuthMethod: f.AuthMethod,
		JWKS: f.JWKS, JWKSURI: f.JWKSURI}
}

// changes is the update that makes a what the edit form says, with only
// the parts that differ (the form posts every field; the app's activity
// names each part an update sets), and whether there is any.
func (f appForm) changes(a *store.App) (store.AppUpdate, bool) {
	u, changed := a.Changes(store.AppSpec{Name: f.Name, RedirectURIs: f.redirectList(), Scopes: f.Scopes,
		IDTokenAlg: f.IDTokenAlg, PostLogoutRedirectURIs: f.postLogoutList(),
		Profile: store.Profile{Description: f.Description, Publisher: f.Publisher, Homepage: f.Homepage,
			PrivacyPolicy: f.PrivacyPolicy, Terms: f.Terms, SupportEmail: f.SupportEmail}},
		store.FieldDescription, store.FieldPublisher, store.FieldHomepage, store.FieldPrivacyPolicy, store.FieldTerms,
		store.FieldSupportEmail)
	if a.SecurityChanges(&u, f.security()) {
		changed = true
	}
	return u, changed
}

// redirectList is the form's redirect URIs, one per line, blank lines
// left out.
func (f appForm) redirectList() []string { return lineList(f.RedirectURIs) }

// postLogoutList is the form's post-logout redirect URIs, as
// redirectList.
func (f appForm) postLogoutList() []string { return lineList(f.PostLogoutRedirectURIs) }

// lineList is a textarea's lines, trimmed, blank ones left out.
func lineList(text string) []string {
	var out []string
	for line := range strings.Lines(text) {
		if v := strings.TrimSpace(line); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// check applies the store's own rules to the form (its exported
// validators), so that a refusal names the field in the page's language;
// the store checks everything again. It returns the message id and the
// value it is about, or "" when the form passes.
func (f appForm) check(catalogue []string) (string, string) {
	if f.Name == "" {
		return "developer_err_app_name", ""
	}
	uris := f.redirectList()
	if len(uris) == 0 {
		return "developer_err_redirect_none", ""
	}
	for _, u := range uris {
		if err := store.ValidateRedirectURI(u); err != nil {
			return "developer_err_redirect", u
		}
	}
	post := f.postLogoutList()
	for _, u := range post {
		if err := store.ValidateRedirectURI(u); err != nil {
			return "developer_err_post_logout", u
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(post)))) > store.MaxPostLogoutRedirectURIs {
		return "developer_err_post_logout_many", strconv.Itoa(store.MaxPostLogoutRedirectURIs)
	}
	if len(f.Scopes) == 0 {
		return "developer_err_scope_none", ""
	}
	for _, sc := range f.Scopes {
		if !slices.Contains(catalogue, sc) {
			return "developer_err_scope", sc
		}
	}
	if store.ValidateIDTokenAlg(f.IDTokenAlg) != nil {
		return "developer_err_id_token_alg", f.IDTokenAlg
	}
	for _, l := range []struct{ name, v string }{{"homepage", f.Homepage}, {"privacy policy", f.PrivacyPolicy}, {"terms", f.Terms}} {
		if l.v != "" && store.ValidateHTTPSURL(l.name, l.v) != nil {
			return "developer_err_url", l.v
		}
	}
	if f.SupportEmail != "" && !store.ValidEmail(store.NormalizeEmail(f.SupportEmail)) {
		return "developer_err_email", f.SupportEmail
	}
	return f.checkSecurity()
}

// checkSecurity names the field of the security settings that
// store.ValidateSecurity refuses, in the order the store checks them;
// a refusal it does not tell apart is the form's generic one.
func (f appForm) checkSecurity() (string, string) {
	sec := f.security()
	if _, err := store.ValidateSecurity(sec, f.Public, false); err == nil {
		return "", ""
	}
	pkj := sec.AuthMethod == store.AuthPrivateKeyJWT
	switch {
	case sec.AuthMethod != "" && !pkj:
		return "developer_err_auth_method", sec.AuthMethod
	case pkj && f.Public:
		return "developer_err_auth_public", ""
	case pkj && sec.JWKS == "" && sec.JWKSURI == "":
		return "developer_err_keys_none", ""
	case pkj && sec.JWKS != "" && sec.JWKSURI != "":
		return "developer_err_keys_both", ""
	case !pkj && (sec.JWKS != "" || sec.JWKSURI != ""):
		return "developer_err_keys_unused", ""
	case sec.JWKSURI != "" && store.ValidateRedirectURI(sec.JWKSURI) != nil:
		// A jwks_uri has a redirect URI's rules.
		return "developer_err_jwks_uri", sec.JWKSURI
	case sec.JWKS != "":
		if _, err := store.ValidateSecurity(store.Security{AuthMethod: store.AuthPrivateKeyJWT, JWKS: sec.JWKS}, false, false); err != nil {
			var set jose.JSONWebKeySet
			if json.Unmarshal([]byte(sec.JWKS), &set) == nil {
				for i, k := range set.Keys {
					if !k.IsPublic() {
						return "developer_err_jwks_private", strconv.Itoa(i + 1)
					}
				}
			}
			return "developer_err_jwks", ""
		}
	}
	switch {
	case sec.FAPI2 && f.Public:
		return "developer_err_fapi2_public", ""
	case sec.FAPI2 && !pkj:
		return "developer_err_fapi2_auth", ""
	}
	return "developer_err_invalid", ""
}

// scopeChoice is one checkbox of the form's scopes.
type scopeChoice struct {
	scopeView
	Checked bool
}

// authChoice is one option of the form's client authentication.
type authChoice struct {
	Value, LabelID string
	Selected       bool
}

// algChoice is one option of the form's ID token algorithm.
type algChoice struct {
	Value, LabelID string
	Selected       bool
}

// appFormView is the form page's data.
type appFormView struct {
	Form     appForm
	Choices  []scopeChoice
	Algs     []algChoice
	Auths    []authChoice
	Action   string
	ClientID string
	Edit     bool
	Error    string
	ErrorArg string
}

func (h *DeveloperPages) renderForm(c *gin.Context, status int, sess *sessions.Session, v appFormView) {
	for _, sc := range h.describeScopes(c, h.catalogue()) {
		v.Choices = append(v.Choices, scopeChoice{scopeView: sc, Checked: slices.Contains(v.Form.Scopes, sc.Name)})
	}
	chosen := (&store.App{IDTokenAlg: v.Form.IDTokenAlg}).IDTokenSigningAlg()
	for _, alg := range store.IDTokenAlgs() {
		v.Algs = append(v.Algs, algChoice{Value: alg, LabelID: "developer_alg_" + strings.ToLower(alg), Selected: alg == chosen})
	}
	for _, m := range []struct{ value, label string }{{"", "developer_auth_secret"}, {store.AuthPrivateKeyJWT, "developer_auth_private_key_jwt"}} {
		v.Auths = append(v.Auths, authChoice{Value: m.value, LabelID: m.label, Selected: m.value == v.Form.AuthMethod})
	}
	title := "developer_new_app"
	if v.Edit {
		title = "developer_edit_app"
	}
	h.Render(c, status, "developer_app_form", title, sess, v)
}

// catalogue is the scope catalogue's names, in its order.
func (h *DeveloperPages) catalogue() []string { return h.opts.Catalogue.Names() }

// NewAppPage shows the form of a new app: confidential, no scope ticked.
func (h *DeveloperPages) NewAppPage(c *gin.Context) {
	sess, _, ok := h.requireDeveloper(c)
	if !ok {
		return
	}
	h.renderForm(c, http.StatusOK, sess, appFormView{Action: developerHome + "/apps"})
}

// CreateApp registers a new app of the developer's, in development, and
// shows its secret once. A refused form writes nothing.
func (h *DeveloperPages) CreateApp(c *gin.Context) {
	sess, d, ok := h.requireDeveloper(c)
	if !ok {
		return
	}
	f := readAppForm(c)
	// The security settings are the edit form's: a new app starts with
	// the defaults, and a secret to show.
	f.RequirePAR, f.RequireDPoP, f.FAPI2, f.AuthMethod, f.JWKS, f.JWKSURI = false, false, false, "", "", ""
	v := appFormView{Form: f, Action: developerHome + "/apps"}
	if v.Error, v.ErrorArg = f.check(h.catalogue()); v.Error != "" {
		h.renderForm(c, http.StatusBadRequest, sess, v)
		return
	}
	// Counted only once the form is good: a refused form costs nothing.
	wait, err := h.store.AppCreationAttempt(c.Request.Context(), d.ID, h.cfg.AppsPerDay)
	if err != nil {
		h.Unavailable(c, "app creation limit", err)
		return
	}
	if wait > 0 {
		v.Error, v.ErrorArg = "developer_err_apps_per_day", strconv.Itoa(h.cfg.AppsPerDay)
		c.Header("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		h.renderForm(c, http.StatusTooManyRequests, sess, v)
		return
	}
	a, secret, err := h.store.CreateApp(c.Request.Context(), store.AppSpec{
		Name: f.Name, RedirectURIs: f.redirectList(), Scopes: f.Scopes, Public: f.Public, Owner: d.ID,
		IDTokenAlg: f.IDTokenAlg, PostLogoutRedirectURIs: f.postLogoutList(),
		Profile: store.Profile{Description: f.Description, Publisher: f.Publisher, Homepage: f.Homepage,
			PrivacyPolicy: f.PrivacyPolicy, Terms: f.Terms, SupportEmail: f.SupportEmail},
		By: store.ActorDeveloper(d.ID),
	}, h.catalogue())
	if errors.Is(err, store.ErrInvalid) {
		v.Error = "developer_err_invalid"
		h.renderForm(c, http.StatusBadRequest, sess, v)
		return
	}
	if err != nil {
		h.Unavailable(c, "create app", err)
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "app created", "client_id", a.ClientID, "developer_id", d.ID)
	if a.Public {
		c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=created")
		return
	}
	h.Render(c, http.StatusOK, "developer_secret", "developer_secret_title", sess, shownOnce{
		TitleID: "developer_secret_title", TextID: "developer_secret_new_text", Label: "developer_secret_label",
		Value: secret, ClientID: a.ClientID, Back: appPath(a.ClientID)})
}

// EditPage shows the edit form of an app, filled in.
func (h *DeveloperPages) EditPage(c *gin.Context) {
	sess, _, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	h.renderForm(c, http.StatusOK, sess, appFormView{Form: formOf(a), Action: appPath(a.ClientID) + "/edit",
		ClientID: a.ClientID, Edit: true})
}

// Edit changes an app's registration and profile, keeping its client id:
// redirect URIs added to or removed from the list, scopes ticked or not,
// the ID token algorithm, the post-logout redirect URIs, the security
// settings.
func (h *DeveloperPages) Edit(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	f := readAppForm(c)
	f.Public = a.Public // a client's type is fixed at its registration
	v := appFormView{Form: f, Action: appPath(a.ClientID) + "/edit", ClientID: a.ClientID, Edit: true}
	if v.Error, v.ErrorArg = f.check(h.catalogue()); v.Error != "" {
		h.renderForm(c, http.StatusBadRequest, sess, v)
		return
	}
	u, changed := f.changes(a)
	if !changed {
		// Saved as it was: nothing to write, nor to audit.
		c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=updated")
		return
	}
	_, err := h.store.UpdateApp(c.Request.Context(), a.ClientID, u, h.catalogue(), store.ActorDeveloper(d.ID))
	if errors.Is(err, store.ErrInvalid) {
		v.Error = "developer_err_invalid"
		h.renderForm(c, http.StatusBadRequest, sess, v)
		return
	}
	if h.failed(c, "update app", err) {
		return
	}
	c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=updated")
}

// failed answers a store failure that no form can fix (the app gone
// meanwhile is a 404) and reports whether it did.
func (h *DeveloperPages) failed(c *gin.Context, what string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
	default:
		h.Unavailable(c, what, err)
	}
	return true
}

// testMerchantView is a test merchant on the app page.
type testMerchantView struct{ ID, Email string }

// devAuditRow is one event of the app's audit trail on its page.
type devAuditRow struct {
	Time              string
	TypeID, Type      string
	ActorID, ActorRef string
	// Said is the detail in the page's language (describeDetail).
	Said eventDetail
}

// appView is the app page's data.
type appView struct {
	App            *store.App
	Initials       string
	StatusID       string
	LogoURL        string
	TestMerchants  []testMerchantView
	Events         []devAuditRow
	PrevUntil      string
	Notice         string
	Error          string
	ErrorArg       string
	Overlaps       []int
	DefaultOverlap int
	MaxTest        bool
	// Webhook is the app's endpoint; WebhookURL is the value of its form
	// (the endpoint's, or what a refused post sent, then WebhookInvalid).
	Webhook        webhookState
	WebhookURL     string
	WebhookInvalid bool
	// DisableAfter says how long an endpoint may fail before it is
	// disabled, in the page's language.
	DisableAfter string
	// ClientKeys are the keys of the app's registered JWK Set, by kid
	// and algorithm (either may be "").
	ClientKeys []clientKeyView
}

// clientKeyView is one key of the app's JWK Set on its page.
type clientKeyView struct{ ID, Alg string }

// overlaps are the choices of a rotation's overlap, in hours: up to
// store.MaxSecretOverlap.
var overlaps = []int{1, 24, 72, 168}

// appAuditEvents is how many of the app's latest events its page shows.
const appAuditEvents = 20

// appPage shows an app to its developer: status, review note, profile,
// logo, test merchants, secret, webhook, the latest events, and every
// action.
func (h *DeveloperPages) appPage(c *gin.Context, status int, sess *sessions.Session, d *store.Developer, a *store.App, msg, arg string) {
	v, ok := h.appData(c, d, a)
	if !ok {
		return
	}
	v.Error, v.ErrorArg = msg, arg
	h.Render(c, status, "developer_app", "developer_app_title", sess, v)
}

// appData reads what the app page shows; false after an error page.
func (h *DeveloperPages) appData(c *gin.Context, d *store.Developer, a *store.App) (appView, bool) {
	ctx := c.Request.Context()
	emails, _, err := h.store.AccountEmails(ctx, a.TestMerchants, nil)
	var events []store.Event
	if err == nil {
		events, _, err = h.store.ListAudit(ctx, store.AuditFilter{ClientID: a.ClientID}, "", appAuditEvents)
	}
	if err != nil {
		h.Unavailable(c, "app page", err)
		return appView{}, false
	}
	loc := h.i18n.localizer(h.i18n.pick(c.Request))
	v := appView{App: a, Initials: initials(a.Name), StatusID: statusLabel(a), Notice: developerNotice(c.Query("notice")),
		Overlaps: overlaps, DefaultOverlap: int(store.DefaultSecretOverlap.Hours()),
		MaxTest: len(a.TestMerchants) >= store.MaxTestMerchants,
		Webhook: newWebhookState(loc, a.Webhook, time.Now()), WebhookURL: a.Webhook.URL,
		DisableAfter: durationText(loc, h.cfg.WebhookDisableAfter)}
	if c.Query("notice") == "created" {
		v.Notice = "developer_notice_created"
	}
	if a.Profile.Logo != "" {
		v.LogoURL = LogoPath(a.ClientID, a.Profile.Logo)
	}
	if a.PrevSecretDigest != "" && time.Now().Before(a.PrevSecretUntil) {
		v.PrevUntil = formatTime(a.PrevSecretUntil)
	}
	for _, id := range a.TestMerchants {
		v.TestMerchants = append(v.TestMerchants, testMerchantView{ID: id, Email: emails[id]})
	}
	if keys, err := a.ClientKeys(); err == nil {
		for _, k := range keys.Keys {
			v.ClientKeys = append(v.ClientKeys, clientKeyView{ID: k.KeyID, Alg: k.Algorithm})
		}
	}
	for _, e := range events {
		v.Events = append(v.Events, developerAuditRow(e, d))
	}
	return v, true
}

// developerAuditRow names an event for the developer: who acted (they
// themselves, an admin, the CLI, the app, a merchant) and what changed, in
// the page's language where the store wrote fixed words.
func developerAuditRow(e store.Event, d *store.Developer) devAuditRow {
	r := devAuditRow{Time: formatTime(e.Time), TypeID: eventLabel(e.Type), Type: string(e.Type), Said: describeDetail(e.Detail)}
	kind, id, _ := strings.Cut(string(e.Actor), ":")
	switch kind {
	case "developer":
		if id == d.ID {
			r.ActorID = "developer_actor_you"
		} else {
			r.ActorID, r.ActorRef = "developer_actor_developer", id
		}
	case "admin", "admin-key":
		r.ActorID = "admin_actor_admin"
	case "merchant":
		r.ActorID, r.ActorRef = "admin_actor_merchant", id
	case "client":
		r.ActorID = "admin_actor_client"
	case string(store.ActorCLI):
		r.ActorID = "admin_actor_cli"
	case string(store.ActorCodeReuse):
		r.ActorID = "admin_actor_code_reuse"
	case string(store.ActorRefreshReuse):
		r.ActorID = "admin_actor_refresh_reuse"
	case string(store.ActorDeliverer):
		r.ActorID = "admin_actor_deliverer"
	default:
		r.ActorRef = string(e.Actor)
	}
	return r
}

// App shows one of the developer's apps.
func (h *DeveloperPages) App(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	h.appPage(c, http.StatusOK, sess, d, a, "", "")
}

// Logo replaces the app's logo with an uploaded image. The body is cut
// off at MaxLogoRequest before the form is parsed, so a larger upload is
// refused (413) without being read; what is refused writes nothing.
func (h *DeveloperPages) Logo(c *gin.Context) {
	if c.Request.ContentLength > MaxLogoRequest {
		h.ErrorPage(c, http.StatusRequestEntityTooLarge, "developer_err_logo_too_large")
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxLogoRequest)
	if err := c.Request.ParseMultipartForm(MaxLogoRequest); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.ErrorPage(c, http.StatusRequestEntityTooLarge, "developer_err_logo_too_large")
			return
		}
		h.ErrorPage(c, http.StatusBadRequest, "err_bad_request")
		return
	}
	defer func() { _ = c.Request.MultipartForm.RemoveAll() }()
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	f, _, err := c.Request.FormFile("logo")
	var upload []byte
	if err == nil {
		upload, err = store.ReadLogo(f)
		_ = f.Close()
	}
	if err == nil {
		_, err = h.store.SetAppLogo(c.Request.Context(), a.ClientID, upload, store.ActorDeveloper(d.ID))
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) && (errors.Is(err, store.ErrInvalid) || errors.Is(err, http.ErrMissingFile)) {
		h.appPage(c, http.StatusBadRequest, sess, d, a, "developer_err_logo", "")
		return
	}
	if h.failed(c, "set logo", err) {
		return
	}
	c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=logo")
}

// AddTestMerchant lets an existing merchant, named by email, connect the
// app while it is in development.
func (h *DeveloperPages) AddTestMerchant(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	email := strings.TrimSpace(c.PostForm("email"))
	m, err := h.store.FindMerchant(c.Request.Context(), email)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m == nil) {
		h.appPage(c, http.StatusBadRequest, sess, d, a, "developer_err_no_merchant", email)
		return
	}
	if err == nil {
		if len(a.TestMerchants) >= store.MaxTestMerchants && !slices.Contains(a.TestMerchants, m.ID) {
			h.appPage(c, http.StatusBadRequest, sess, d, a, "developer_err_too_many_test", "")
			return
		}
		_, err = h.store.UpdateApp(c.Request.Context(), a.ClientID, store.AppUpdate{AddTestMerchants: []string{m.ID}},
			h.catalogue(), store.ActorDeveloper(d.ID))
	}
	if h.failed(c, "add test merchant", err) {
		return
	}
	c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=test_merchant_added")
}

// RemoveTestMerchant takes a test merchant off the app.
func (h *DeveloperPages) RemoveTestMerchant(c *gin.Context) {
	_, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	id := c.PostForm("merchant_id")
	if !slices.Contains(a.TestMerchants, id) {
		h.ErrorPage(c, http.StatusNotFound, "err_not_found")
		return
	}
	_, err := h.store.UpdateApp(c.Request.Context(), a.ClientID, store.AppUpdate{RemoveTestMerchants: []string{id}},
		h.catalogue(), store.ActorDeveloper(d.ID))
	if h.failed(c, "remove test merchant", err) {
		return
	}
	c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=test_merchant_removed")
}

// sandboxDomain is the domain of the sandbox merchants' emails: .invalid
// (RFC 2606) can never be a real mailbox.
const sandboxDomain = "sandbox.invalid"

// CreateSandbox makes a merchant account for testing the app (a random
// email and password, the password shown once) and adds it as a test
// merchant.
func (h *DeveloperPages) CreateSandbox(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	if len(a.TestMerchants) >= store.MaxTestMerchants {
		h.appPage(c, http.StatusBadRequest, sess, d, a, "developer_err_too_many_test", "")
		return
	}
	ctx := c.Request.Context()
	tag := strings.ToLower(strings.ReplaceAll(store.NewID(), "-", "")[:12])
	pw := store.NewSecret()
	m, err := h.store.CreateMerchant(ctx, "sandbox-"+tag+"@"+sandboxDomain, "Sandbox "+tag, pw)
	if err == nil {
		_, err = h.store.UpdateApp(ctx, a.ClientID, store.AppUpdate{AddTestMerchants: []string{m.ID}},
			h.catalogue(), store.ActorDeveloper(d.ID))
	}
	if h.failed(c, "create sandbox merchant", err) {
		return
	}
	h.Logger().InfoContext(ctx, "sandbox merchant created", "client_id", a.ClientID, "merchant_id", m.ID, "developer_id", d.ID)
	h.Render(c, http.StatusOK, "developer_secret", "developer_sandbox_title", sess, shownOnce{
		TitleID: "developer_sandbox_title", TextID: "developer_sandbox_text", Label: "password",
		Value: pw, Email: m.Email, Back: appPath(a.ClientID)})
}

// Submit sends an app in development to review.
func (h *DeveloperPages) Submit(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	err := h.store.SubmitApp(c.Request.Context(), a.ClientID, store.ActorDeveloper(d.ID))
	if errors.Is(err, store.ErrConflict) {
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_status", "")
		return
	}
	if h.failed(c, "submit app", err) {
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "app submitted for review", "client_id", a.ClientID, "developer_id", d.ID)
	c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=submitted")
}

// RotateSecret gives the app a new secret, shown once; the one it had
// keeps working for the chosen overlap (24 h unless chosen, at most 7
// days).
func (h *DeveloperPages) RotateSecret(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	overlap, ok := postedOverlap(c)
	if !ok {
		h.appPage(c, http.StatusBadRequest, sess, d, a, "developer_err_overlap", "")
		return
	}
	if a.Public {
		h.appPage(c, http.StatusBadRequest, sess, d, a, "developer_err_public_secret", "")
		return
	}
	secret, a, err := h.store.RotateSecret(c.Request.Context(), a.ClientID, overlap, store.ActorDeveloper(d.ID))
	if errors.Is(err, store.ErrConflict) {
		c.Redirect(http.StatusSeeOther, appPath(c.Param("client_id")))
		return
	}
	if h.failed(c, "rotate secret", err) {
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "app secret rotated", "client_id", a.ClientID, "developer_id", d.ID)
	h.Render(c, http.StatusOK, "developer_secret", "developer_secret_title", sess, shownOnce{
		TitleID: "developer_secret_title", TextID: "developer_secret_rotated_text", Label: "developer_secret_label",
		Value: secret, ClientID: a.ClientID, Expires: formatTime(a.PrevSecretUntil), Back: appPath(a.ClientID)})
}

// RetireSecret stops the previous secret now, before its overlap ends.
func (h *DeveloperPages) RetireSecret(c *gin.Context) {
	sess, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	err := h.store.RetireSecret(c.Request.Context(), a.ClientID, store.ActorDeveloper(d.ID))
	if errors.Is(err, store.ErrInvalid) || errors.Is(err, store.ErrConflict) {
		h.appPage(c, http.StatusConflict, sess, d, a, "developer_err_no_previous", "")
		return
	}
	if h.failed(c, "retire secret", err) {
		return
	}
	c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"?notice=retired")
}

// ConfirmDelete asks before deleting an app, saying how many connections
// it revokes.
func (h *DeveloperPages) ConfirmDelete(c *gin.Context) {
	sess, _, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	counts, err := h.store.CountConnections(c.Request.Context(), []*store.App{a})
	if err != nil {
		h.Unavailable(c, "count connections", err)
		return
	}
	h.Render(c, http.StatusOK, "developer_confirm_delete", "developer_delete_title", sess, map[string]any{
		"App": a, "Count": counts[a.ClientID], "Counted": true, "TitleID": "developer_delete_title", "TextID": "developer_delete",
		"ButtonID": "developer_delete_button", "Action": appPath(a.ClientID) + "/delete", "Back": appPath(a.ClientID)})
}

// Delete removes the app, once confirmed: its client id stops working and
// every connection it had is revoked.
func (h *DeveloperPages) Delete(c *gin.Context) {
	_, d, a, ok := h.requireOwnApp(c)
	if !ok {
		return
	}
	if !confirmed(c) {
		c.Redirect(http.StatusSeeOther, appPath(a.ClientID)+"/delete")
		return
	}
	r, err := h.store.DeleteApp(c.Request.Context(), a.ClientID, store.ActorDeveloper(d.ID))
	if h.failed(c, "delete app", err) {
		return
	}
	h.Logger().InfoContext(c.Request.Context(), "app deleted", "client_id", a.ClientID, "generation", r.Generation, "developer_id", d.ID)
	c.Redirect(http.StatusSeeOther, developerHome+"?notice=deleted")
}

// postedOverlap reads a rotation form's overlap, in hours (24 when the
// form has none); ok is false outside (0, store.MaxSecretOverlap].
func postedOverlap(c *gin.Context) (time.Duration, bool) {
	hours, err := strconv.Atoi(c.DefaultPostForm("overlap", strconv.Itoa(int(store.DefaultSecretOverlap.Hours()))))
	overlap := time.Duration(hours) * time.Hour
	return overlap, err == nil && overlap > 0 && overlap <= store.MaxSecretOverlap
}

package consent

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// What the merchant pages do for OpenID Connect: the authorization
// request's prompt and max_age (Core §3.1.2.1), and RP-initiated logout
// (RP-Initiated Logout 1.0). Their rules:
//   - prompt=none shows no page: without a session (or with one older
//     than max_age) the app hears login_required, and with one it hears
//     consent_required, since every connection is the merchant's
//     explicit approval on the consent page;
//   - prompt=login (or select_account) and a session older than max_age
//     send the merchant to the login page first, whatever session there
//     is; the login page comes back to the request without those
//     parameters, so that the fresh login satisfies it, and the ID token's
//     auth_time is that login's;
//   - an id_token_hint naming another merchant than the session's is
//     handled as a session too old: login_required with prompt=none, a
//     fresh login otherwise;
//   - prompt=consent is what enlace always does;
//   - a logout with a valid id_token_hint naming the session's merchant
//     ends the session at once; any other asks first (a form with CSRF),
//     so that no other site can log a merchant out; afterwards the browser
//     goes to the registered post_logout_redirect_uri (with state), or to
//     a page that says the session ended.

// LogoutRequest is a validated RP-initiated logout request.
type LogoutRequest struct {
	// AppName is the app that asked, when the request named one.
	AppName string
	// Subject is the merchant the id_token_hint names ("" without one).
	Subject string
	// RedirectTo is the post_logout_redirect_uri with state, or "".
	RedirectTo string
	// Params are the request's parameters, which the confirmation form
	// posts again.
	Params url.Values
}

// Prompted reports whether the request's prompt holds v.
func (r *AuthorizeRequest) Prompted(v string) bool { return slices.Contains(r.Prompt, v) }

// interaction applies prompt and max_age before the consent page; when it
// has answered (a redirect) it returns false.
func (h *MerchantPages) interaction(c *gin.Context, req *AuthorizeRequest) bool {
	if len(req.Prompt) == 0 && req.MaxAge == nil && req.HintSubject == "" {
		return true
	}
	sess, ok := h.Session(c, sessionName)
	if !ok {
		return false
	}
	m, err := h.currentMerchant(c, sess)
	if err != nil {
		h.Unavailable(c, "load merchant", err)
		return false
	}
	// In seconds: a huge max_age must not overflow a Duration.
	stale := m != nil && req.MaxAge != nil && time.Since(loginAt(sess)).Seconds() > float64(*req.MaxAge)
	// An id_token_hint of another merchant than the session's: that
	// merchant has to log in (Core §3.1.2.1).
	stale = stale || (m != nil && req.HintSubject != "" && req.HintSubject != m.ID)
	if req.Prompted("none") {
		if m == nil || stale {
			c.Redirect(http.StatusFound, h.auth.Refuse(req, "login_required", "the merchant is not logged in"))
		} else {
			c.Redirect(http.StatusFound, h.auth.Refuse(req, "consent_required",
				"every connection needs the merchant's consent on the consent page"))
		}
		return false
	}
	if m != nil && !stale && !req.Prompted("login") && !req.Prompted("select_account") {
		return true
	}
	// The login page, coming back to the request without what asked for
	// it: otherwise the fresh login would be asked for again.
	c.Redirect(http.StatusFound, "/login?"+url.Values{"next": {withoutLoginPrompt(c.Request.URL)}, "again": {"1"}}.Encode())
	return false
}

// withoutLoginPrompt is the request's path and query without max_age,
// id_token_hint and prompt's login and select_account.
func withoutLoginPrompt(u *url.URL) string {
	q := u.Query()
	q.Del("max_age")
	q.Del("id_token_hint")
	if p := q.Get("prompt"); p != "" {
		kept := slices.DeleteFunc(strings.Fields(p), func(v string) bool { return v == "login" || v == "select_account" })
		if len(kept) == 0 {
			q.Del("prompt")
		} else {
			q.Set("prompt", strings.Join(kept, " "))
		}
	}
	return u.Path + "?" + q.Encode()
}

// asGET answers a POST that is a request, not one of enlace's forms
// (RP-Initiated Logout §2 and Core §3.1.2.1 let the app post its request),
// with a 303 to the same request as a GET: the app's site posting to
// enlace's carries no SameSite=Lax cookie, a top-level GET does, so the
// merchant's session is seen. It reports false when it has answered.
func asGET(c *gin.Context) bool {
	if c.Request.Method != http.MethodPost {
		return true
	}
	if err := c.Request.ParseForm(); err != nil {
		return true // the handler refuses it
	}
	f := c.Request.PostForm
	if f.Has("decision") || f.Has("csrf_token") {
		return true
	}
	q := c.Request.URL.Query()
	for k, v := range f {
		q[k] = v
	}
	c.Redirect(http.StatusSeeOther, c.Request.URL.Path+"?"+q.Encode())
	return false
}

// EndSession is the OpenID Provider's end_session_endpoint (GET or POST).
func (h *MerchantPages) EndSession(c *gin.Context) {
	if !asGET(c) {
		return
	}
	req, err := h.auth.ParseLogout(c.Request)
	var aerr *AuthorizeError
	switch {
	case errors.As(err, &aerr):
		h.ErrorPage(c, http.StatusBadRequest, aerr.Message)
		return
	case err != nil:
		h.Unavailable(c, "parse logout request", err)
		return
	}
	sess, ok := h.Session(c, sessionName)
	if !ok {
		return
	}
	m, err := h.currentMerchant(c, sess)
	if err != nil {
		h.Unavailable(c, "load merchant", err)
		return
	}
	// The confirmation form posts a decision; an app's own request (a GET,
	// its POST turned into one by asGET) has none.
	decision := c.Request.PostFormValue("decision")
	switch {
	case m == nil:
		// Nobody to log out.
	case decision == "" && req.Subject == m.ID:
		h.dropSession(c, sess)
		h.setSignedIn(c, false)
		h.Logger().InfoContext(c.Request.Context(), "logout (RP-initiated)", "merchant_id", m.ID)
	case decision == "":
		h.Render(c, http.StatusOK, "logout", "logout_title", sess, map[string]any{
			"AppName": req.AppName, "Email": m.Email, "Params": req.Params})
		return
	default:
		if !h.CSRFOK(c, sess) {
			return
		}
		if decision != "logout" {
			c.Redirect(http.StatusSeeOther, "/")
			return
		}
		h.dropSession(c, sess)
		h.setSignedIn(c, false)
		h.Logger().InfoContext(c.Request.Context(), "logout (RP-initiated)", "merchant_id", m.ID)
	}
	if req.RedirectTo != "" {
		c.Redirect(http.StatusSeeOther, req.RedirectTo)
		return
	}
	h.Render(c, http.StatusOK, "logged_out", "logged_out_title", nil, map[string]any{"AppName": req.AppName})
}

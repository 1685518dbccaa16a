package consent

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// formExpired answers a posted form whose CSRF token does not match the
// session's: almost always a form left open until its session ended. The
// page gives one instruction and one button, which opens the form again
// from where it came (the same authorization request, the login page with
// the same destination), so the merchant never has to work out how to
// restart the flow.
func (k *Kit) formExpired(c *gin.Context) {
	k.Render(c, http.StatusForbidden, "error", "form_expired_title", nil, map[string]string{
		"Message": "err_csrf", "Retry": retryURL(c.Request), "RetryLabel": "form_expired_button",
	})
}

// retryURL is the page that shows again the form posted in r: a GET of
// the same address where there is one, else the start of its section.
func retryURL(r *http.Request) string {
	p := r.URL.Path
	switch {
	case isAuthorizePath(p):
		// The authorization request is the query string: the consent page
		// (or the login page before it) comes back as it was.
		return r.URL.RequestURI()
	case p == "/login":
		if next := safeNext(r.PostFormValue("next")); next != "/" {
			return "/login?" + url.Values{"next": {next}}.Encode()
		}
		return "/login"
	case strings.HasPrefix(p, "/connections/") && strings.HasSuffix(p, "/revoke"):
		return safeNext(p) // the confirmation page of the same connection
	case p == "/admin/login":
		return p
	case strings.HasPrefix(p, "/admin/"):
		return "/admin"
	case strings.HasPrefix(p, "/demo/"):
		return "/demo"
	}
	return "/"
}

// NotFoundPage answers a browser that asked for a page that does not
// exist (status 404) or that exists for another method (405, e.g. a link
// to /logout): the page kit's error page, with a way back to the start,
// instead of the JSON error API clients get.
func (k *Kit) NotFoundPage(c *gin.Context, status int) {
	k.Render(c, status, "error", "not_found_title", nil, map[string]string{
		"Message": "err_not_found", "Retry": "/", "RetryLabel": "go_home",
	})
	c.Abort()
}

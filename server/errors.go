package server

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// Errors leave the server through three renderers of package apierror,
// one per dialect: writeOAuth (RFC 6749 §5.2: the token endpoints, the
// admin API, every path without a dialect of its own), writeBearer (RFC
// 6750: resources) and writeAPI (JSON:API: /v1).

func writeOAuth(c *gin.Context, e *apierror.Error) {
	apierror.WriteOAuth(c.Writer, e)
	c.Abort()
}

func writeBearer(c *gin.Context, e *apierror.Error) {
	apierror.WriteBearer(c.Writer, e)
	c.Abort()
}

func writeAPI(c *gin.Context, errs ...*apierror.Error) {
	apierror.WriteJSONAPI(c.Writer, errs...)
	c.Abort()
}

// refusals are how the store's refusals of a grant read on the wire.
var refusals = map[store.RefusalCode]apierror.Code{
	store.RefusedGrant: apierror.InvalidGrant,
	store.RefusedScope: apierror.InvalidScope,
}

// grantError turns what a grant's flow returned into the answer: its own
// error, the store's refusal (logged at info: the client's mistake), or a
// failure of the store (logged at error: ours), which the client may
// retry.
func (s *Server) grantError(ctx context.Context, grantType, clientID string, err error) *apierror.Error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return ae
	}
	if r, ok := store.AsRefusal(err); ok {
		s.log.InfoContext(ctx, "grant refused", "grant_type", grantType, "client_id", clientID, "reason", r.Description)
		code, ok := refusals[r.Code]
		if !ok {
			code = apierror.InvalidGrant
		}
		return apierror.New(code, r.Description)
	}
	s.log.ErrorContext(ctx, "grant failed", "grant_type", grantType, "client_id", clientID, "err", err)
	return apierror.Unavailable()
}

// notFound answers a path that is no endpoint.
func notFound(c *gin.Context) {
	writeOAuth(c, apierror.New(apierror.NotFound, "no such endpoint"))
}

// methodNotAllowed answers a known path with the wrong method.
func methodNotAllowed(c *gin.Context) {
	writeOAuth(c, apierror.Request("method not allowed").WithStatus(http.StatusMethodNotAllowed))
}

// pageOr answers a browser (a request whose Accept prefers HTML to JSON)
// with the page kit's page-not-found page, in the page language, and
// everyone else with api: API clients, which send application/json, */*
// or no Accept at all, keep the JSON error they parse.
func pageOr(m *consent.MerchantPages, status int, api gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if prefersHTML(c.GetHeader("Accept")) {
			m.NotFoundPage(c, status)
			return
		}
		api(c)
	}
}

// prefersHTML reports whether an Accept header ranks text/html above
// application/json (RFC 9110 §12.5.1: a type's quality is that of the most
// specific range matching it). A tie goes to HTML only when HTML is named
// and JSON only matched a wildcard, as in a browser's
// "text/html,…,*/*;q=0.8"; "*/*" alone is an API client's.
func prefersHTML(accept string) bool {
	html, htmlExact := acceptQuality(accept, "text", "html")
	json, jsonExact := acceptQuality(accept, "application", "json")
	return html > json || (html == json && html > 0 && htmlExact && !jsonExact)
}

// acceptQuality is the quality Accept gives type/sub, and whether a range
// named it exactly.
func acceptQuality(accept, typ, sub string) (q float64, exact bool) {
	best := -1 // specificity of the range that set q: 0 */*, 1 type/*, 2 type/sub
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		t, s, _ := strings.Cut(mt, "/")
		spec := -1
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		}
		if spec <= best {
			continue
		}
		v := 1.0
		if qs, ok := params["q"]; ok {
			if v, err = strconv.ParseFloat(qs, 64); err != nil || v < 0 || v > 1 {
				continue
			}
		}
		best, q = spec, v
	}
	return q, best == 2
}

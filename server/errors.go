package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

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

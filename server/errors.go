package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// oauthError is an RFC 6749 §5.2 error answer. The error codes come from
// go-oauth2's vocabulary; the status codes do not, because the library
// answers invalid_grant and friends with 401 where §5.2 says 400.
type oauthError struct {
	code        error // one of go-oauth2's errors.Err* values
	description string
	status      int
	// basic marks a failed client authentication by HTTP Basic, which
	// answers 401 with a WWW-Authenticate challenge (§5.2).
	basic bool
	// retryAfter, when set, is sent as Retry-After (a limited sign-in).
	retryAfter time.Duration
}

func (e *oauthError) Error() string { return e.code.Error() + ": " + e.description }

func newError(code error, description string) *oauthError {
	status := http.StatusBadRequest
	switch {
	case errors.Is(code, oerrors.ErrServerError):
		status = http.StatusInternalServerError
	case errors.Is(code, oerrors.ErrTemporarilyUnavailable):
		status = http.StatusServiceUnavailable
	}
	return &oauthError{code: code, description: description, status: status}
}

func errInvalidRequest(desc string) *oauthError { return newError(oerrors.ErrInvalidRequest, desc) }

// errUnavailable answers a failure of the store: the client may retry.
func errUnavailable() *oauthError {
	return newError(oerrors.ErrTemporarilyUnavailable, "the service is temporarily unavailable, retry later")
}

// writeOAuthError sends the JSON error with the headers §5.1 asks of every
// token response.
func writeOAuthError(c *gin.Context, e *oauthError) {
	status := e.status
	if e.basic && errors.Is(e.code, oerrors.ErrInvalidClient) {
		status = http.StatusUnauthorized
		c.Header("WWW-Authenticate", `Basic realm="github.com/enlace-oauth/enlace", charset="UTF-8"`)
	}
	if e.retryAfter > 0 {
		retryAfter(c, e.retryAfter)
	}
	noStore(c)
	c.JSON(status, gin.H{"error": e.code.Error(), "error_description": e.description})
}

// retryAfter tells a limited client how many whole seconds to wait.
func retryAfter(c *gin.Context, d time.Duration) {
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

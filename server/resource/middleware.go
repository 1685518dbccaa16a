package resource

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// contextKey is unexported so that no other package can overwrite or forge
// the verified token in a request's context.
type contextKey struct{}

// FromContext returns the token that Authenticate or Handler verified for
// this request. Handlers read the merchant, the app and the scopes from it
// instead of parsing the header again; ok is false when nothing verified
// the request, which a handler should treat as a wiring mistake. With gin,
// pass c.Request.Context().
func FromContext(ctx context.Context) (info *store.TokenInfo, ok bool) {
	info, ok = ctx.Value(contextKey{}).(*store.TokenInfo)
	return info, ok && info != nil
}

// HasScope reports whether the verified token in ctx grants every one of
// scopes. It is for handlers whose needs depend on the request (say, a
// write only for some fields), which RequireScope cannot express.
func HasScope(ctx context.Context, scopes ...string) bool {
	info, ok := FromContext(ctx)
	return ok && grants(info, scopes)
}

// Allows reports whether the verified token in ctx grants scope on the
// merchant's resource id (issue 17): the scope is granted, for all of the
// merchant's resources or for this one among those the merchant chose.
func Allows(ctx context.Context, scope, id string) bool {
	info, ok := FromContext(ctx)
	return ok && grants(info, []string{scope}) && info.Resources.Allows(scope, id)
}

// RequireResource is gin middleware, placed after Authenticate, that lets
// a request through only when the token grants scope on the resource the
// request names (resourceID reads it: a path parameter, a header): 403
// insufficient_scope for a resource outside the grant, or for a token
// without the scope; 401 without a verified token. It panics on an
// invalid scope name, as RequireScope does.
func RequireResource(scope string, resourceID func(*http.Request) string) gin.HandlerFunc {
	mustValidScopes([]string{scope})
	return func(c *gin.Context) {
		if e := authorizeResource(c.Request, scope, resourceID); e != nil {
			apierror.WriteBearer(c.Writer, e)
			c.Abort()
			return
		}
		c.Next()
	}
}

// ResourceHandler is RequireResource for plain net/http, after Handler:
// next runs only when the verified token grants scope on the request's
// resource.
func ResourceHandler(next http.Handler, scope string, resourceID func(*http.Request) string) http.Handler {
	mustValidScopes([]string{scope})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := authorizeResource(r, scope, resourceID); e != nil {
			apierror.WriteBearer(w, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func authorizeResource(r *http.Request, scope string, resourceID func(*http.Request) string) *apierror.Error {
	if e := authorize(r.Context(), []string{scope}); e != nil {
		return e
	}
	id := resourceID(r)
	if info, _ := FromContext(r.Context()); !info.Resources.Allows(scope, id) {
		e := apierror.New(apierror.InsufficientScope, "the access token does not grant "+scope+" on this resource")
		e.Scope = scope
		Challenge(e, info)
		return e
	}
	return nil
}

// Authenticate is gin middleware that lets a request through only with a
// live access token in "Authorization: Bearer <token>" (any case of
// "Bearer"), or a DPoP-bound one in "Authorization: DPoP <token>" with
// its proof (VerifyRequest). Refresh tokens are refused: they are for the token endpoint,
// and accepting them would stretch an access grant to the refresh token's
// lifetime. A missing, unknown, expired or revoked token, or one of a
// disabled app, gets 401; a failure to reach Redis gets 503 and is attached
// to the gin context with c.Error for the server's own logging (the error
// never contains the token). The verified token is put in
// c.Request.Context() for FromContext; a DPoP request let through gets
// the current DPoP-Nonce when the Verifier requires nonces (OfferNonce).
func Authenticate(v *Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		info, f := authenticate(v, c.Request)
		if f != nil {
			if f.cause != nil {
				_ = c.Error(f)
			}
			apierror.WriteBearer(c.Writer, f.answer)
			c.Abort()
			return
		}
		v.OfferNonce(c.Request.Context(), c.Writer.Header(), info)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), contextKey{}, info))
		c.Next()
	}
}

// RequireScope is gin middleware, placed after Authenticate, that refuses
// with 403 insufficient_scope a token lacking any of scopes; the challenge
// names them all, so the client knows what to ask the merchant for. Without
// a verified token (Authenticate missing from the chain) it answers 401
// rather than let the request through. It panics on a scope name that
// could not appear in a challenge, because that is a programming error
// best found at start-up.
func RequireScope(scopes ...string) gin.HandlerFunc {
	mustValidScopes(scopes)
	return func(c *gin.Context) {
		if e := authorize(c.Request.Context(), scopes); e != nil {
			apierror.WriteBearer(c.Writer, e)
			c.Abort()
			return
		}
		c.Next()
	}
}

// Handler is Authenticate and RequireScope for plain net/http: next runs
// only for a live access token that grants every one of scopes, and finds
// the token with FromContext(r.Context()). With no scopes, any live access
// token will do. A failure to reach Redis is answered with 503 and not
// logged, since Handler has no logger; wrap the returned handler to observe
// 503s. It panics on an invalid scope name, as RequireScope does.
func Handler(v *Verifier, next http.Handler, scopes ...string) http.Handler {
	mustValidScopes(scopes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, f := authenticate(v, r)
		if f != nil {
			apierror.WriteBearer(w, f.answer)
			return
		}
		v.OfferNonce(r.Context(), w.Header(), info)
		ctx := context.WithValue(r.Context(), contextKey{}, info)
		if e := authorize(ctx, scopes); e != nil {
			apierror.WriteBearer(w, e)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// failure is a refusal, with the store error behind a 503 kept for the
// caller's logs (gin's c.Error); the error never contains the token. It is
// passed around as *failure, so that a nil one stays nil.
type failure struct {
	answer *apierror.Error
	cause  error
}

func (f *failure) Error() string {
	if f.cause != nil {
		return "resource: " + f.cause.Error()
	}
	return "resource: " + f.answer.Error()
}

func (f *failure) Unwrap() error { return f.cause }

// errNoToken answers a request without credentials: its challenge names no
// error code (RFC 6750 §3.1).
func errNoToken() *apierror.Error {
	e := apierror.New(apierror.InvalidToken, "an access token is required in an Authorization: Bearer header")
	e.Anonymous = true
	return e
}

// authenticate verifies the request's access token, bearer or DPoP
// (Verifier.VerifyRequest).
func authenticate(v *Verifier, r *http.Request) (*store.TokenInfo, *failure) {
	info, refusal, cause := v.VerifyRequest(r)
	if refusal != nil {
		return nil, &failure{answer: refusal, cause: cause}
	}
	return info, nil
}

// authorize checks the verified token in ctx against scopes.
func authorize(ctx context.Context, scopes []string) *apierror.Error {
	info, ok := FromContext(ctx)
	if !ok {
		return errNoToken()
	}
	if !grants(info, scopes) {
		e := apierror.New(apierror.InsufficientScope, "the access token does not grant "+strings.Join(scopes, " "))
		e.Scope = strings.Join(scopes, " ")
		Challenge(e, info)
		return e
	}
	return nil
}

func grants(info *store.TokenInfo, scopes []string) bool {
	for _, s := range scopes {
		if !slices.Contains(info.Scopes, s) {
			return false
		}
	}
	return true
}

// BearerToken returns the token of an "Authorization: Bearer" header; the
// scheme is case-insensitive (RFC 9110 §11.1). Tokens in the query or the
// body (RFC 6750 §2.2, §2.3) are not read: they end up in logs and caches.
func BearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

// mustValidScopes rejects names that are empty or hold characters RFC 6750
// §3 does not allow in a scope token, which would break the challenge's
// quoting.
func mustValidScopes(scopes []string) {
	for _, s := range scopes {
		if s == "" {
			panic("resource: empty scope name")
		}
		for _, r := range s {
			if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
				panic(fmt.Sprintf("resource: invalid scope name %q", s))
			}
		}
	}
}

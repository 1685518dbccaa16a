// Package apierror is enlace's one error vocabulary: a single Error type
// (code, description, HTTP status, optional URI) and one renderer per wire
// dialect — RFC 6749 §5.2 JSON for the OAuth endpoints and the admin API,
// RFC 6750 bearer challenges for resources, JSON:API error documents for
// /v1. Every error code enlace answers is a constant here, and only here.
package apierror

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// Code is an error code as clients see it.
type Code string

// OAuth 2.0 codes (RFC 6749 §4.1.2.1, §5.2), in go-oauth2's vocabulary.
var (
	InvalidRequest          = Code(oerrors.ErrInvalidRequest.Error())
	InvalidClient           = Code(oerrors.ErrInvalidClient.Error())
	InvalidGrant            = Code(oerrors.ErrInvalidGrant.Error())
	UnauthorizedClient      = Code(oerrors.ErrUnauthorizedClient.Error())
	UnsupportedGrantType    = Code(oerrors.ErrUnsupportedGrantType.Error())
	UnsupportedResponseType = Code(oerrors.ErrUnsupportedResponseType.Error())
	InvalidScope            = Code(oerrors.ErrInvalidScope.Error())
	AccessDenied            = Code(oerrors.ErrAccessDenied.Error())
	ServerError             = Code(oerrors.ErrServerError.Error())
	TemporarilyUnavailable  = Code(oerrors.ErrTemporarilyUnavailable.Error())
)

// InvalidAuthorizationDetails refuses an authorization request's
// authorization_details (RFC 9396 §5).
const InvalidAuthorizationDetails Code = "invalid_authorization_details"

// Dynamic client registration codes (RFC 7591 §3.2.2), answered by
// /oauth/register and its RFC 7592 management.
const (
	InvalidRedirectURI    Code = "invalid_redirect_uri"
	InvalidClientMetadata Code = "invalid_client_metadata"
)

// OpenID Connect's authorization errors (Core §3.1.2.6) that enlace
// answers.
const (
	LoginRequired           Code = "login_required"
	ConsentRequired         Code = "consent_required"
	RequestNotSupported     Code = "request_not_supported"
	RegistrationUnsupported Code = "registration_not_supported"
)

// DPoP's codes (RFC 9449 §5, §7.1, §8).
const (
	InvalidDPoPProof Code = "invalid_dpop_proof"
	UseDPoPNonce     Code = "use_dpop_nonce"
)

// Bearer token codes (RFC 6750 §3.1) and enlace's own.
const (
	InvalidToken      Code = "invalid_token"
	InsufficientScope Code = "insufficient_scope"
	NotFound          Code = "not_found"
	// The JSON:API codes of the /v1 endpoints.
	RegistrationDisabled Code = "registration_disabled"
	UnsupportedMediaType Code = "unsupported_media_type"
	MalformedDocument    Code = "malformed_document"
	ClientGeneratedID    Code = "client_generated_id"
	BodyTooLarge         Code = "body_too_large"
	TooManyRequests      Code = "too_many_requests"
	EmailTaken           Code = "email_taken"
	InvalidEmail         Code = "invalid_email"
	Blank                Code = "blank"
	TooLong              Code = "too_long"
	Invalid              Code = "invalid"
	PasswordTooShort     Code = "password_too_short"
	PasswordTooLong      Code = "password_too_long"
)

// Error is one error answer. Build it with New (or a helper below) and
// render it with WriteOAuth, WriteBearer or WriteJSONAPI.
type Error struct {
	Code        Code
	Description string
	// Status is the HTTP status; New picks the usual one for the code.
	Status int
	// URI, when set, is the error_uri (RFC 6749 §5.2) or the JSON:API
	// error's about link.
	URI string
	// RetryAfter, when set, is sent as Retry-After (a limit was reached).
	RetryAfter time.Duration
	// Basic marks a failed HTTP Basic client authentication: 401 with a
	// Basic challenge (RFC 6749 §5.2).
	Basic bool
	// Anonymous marks a request that carried no credentials at all: its
	// bearer challenge names no error code (RFC 6750 §3.1).
	Anonymous bool
	// Scope is what an insufficient_scope challenge asks for.
	Scope string
	// Realm names the protection space of a bearer challenge; "" is
	// BearerRealm.
	Realm string
	// Pointer is the JSON:API source.pointer of the member at fault.
	Pointer string
	// DPoP marks a resource refusal of a DPoP request or a DPoP-bound
	// token: its challenge is DPoP's (RFC 9449 §7.1), with DPoPAlgs.
	DPoP     bool
	DPoPAlgs string
	// DPoPNonce, when set, is sent as DPoP-Nonce: the nonce the next
	// proof must carry (RFC 9449 §8).
	DPoPNonce string
}

// Error is the code and description, for logs.
func (e *Error) Error() string { return string(e.Code) + ": " + e.Description }

// statuses are the usual HTTP statuses of the codes; any other is 400.
var statuses = map[Code]int{
	ServerError:            http.StatusInternalServerError,
	TemporarilyUnavailable: http.StatusServiceUnavailable,
	InvalidToken:           http.StatusUnauthorized,
	InsufficientScope:      http.StatusForbidden,
	NotFound:               http.StatusNotFound,
	RegistrationDisabled:   http.StatusNotFound,
	UnsupportedMediaType:   http.StatusUnsupportedMediaType,
	ClientGeneratedID:      http.StatusForbidden,
	BodyTooLarge:           http.StatusRequestEntityTooLarge,
	TooManyRequests:        http.StatusTooManyRequests,
	EmailTaken:             http.StatusConflict,
	InvalidEmail:           http.StatusUnprocessableEntity,
	Blank:                  http.StatusUnprocessableEntity,
	TooLong:                http.StatusUnprocessableEntity,
	Invalid:                http.StatusUnprocessableEntity,
	PasswordTooShort:       http.StatusUnprocessableEntity,
	PasswordTooLong:        http.StatusUnprocessableEntity,
}

// New returns an error with the usual status of its code.
func New(code Code, description string) *Error {
	status, ok := statuses[code]
	if !ok {
		status = http.StatusBadRequest
	}
	return &Error{Code: code, Description: description, Status: status}
}

// Request is invalid_request: the request is malformed.
func Request(description string) *Error { return New(InvalidRequest, description) }

// Unavailable answers a failure of the store: the client may retry.
func Unavailable() *Error {
	return New(TemporarilyUnavailable, "the service is temporarily unavailable, retry later")
}

// WithStatus sets the status.
func (e *Error) WithStatus(status int) *Error { e.Status = status; return e }

// NoStore marks a response as never to be cached, as RFC 6749 §5.1 asks of
// every token response.
func NoStore(h http.Header) {
	// One allocation for both values (canonical keys), not one per Set:
	// every token answer and token check passes here.
	v := [...]string{"no-store", "no-cache"}
	h["Cache-Control"], h["Pragma"] = v[0:1:1], v[1:2:2]
}

// SetRetryAfter tells a limited client how many whole seconds to wait.
func SetRetryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
}

// oauthBody is the RFC 6749 §5.2 error object.
type oauthBody struct {
	Error       Code   `json:"error"`
	Description string `json:"error_description"`
	URI         string `json:"error_uri,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

// BasicRealm and BearerRealm name enlace in its challenges.
const (
	BasicRealm  = `Basic realm="enlace", charset="UTF-8"`
	BearerRealm = "enlace"
)

// WriteOAuth answers with e as RFC 6749 §5.2 JSON, never cached.
func WriteOAuth(w http.ResponseWriter, e *Error) {
	h := w.Header()
	status := e.Status
	if e.Basic && e.Code == InvalidClient {
		status = http.StatusUnauthorized
		h.Set("WWW-Authenticate", BasicRealm)
	}
	writeJSON(w, status, JSONType, e, oauthBody{e.Code, e.Description, e.URI, ""})
}

// WriteBearer answers with e as RFC 6750 §3 says: a Bearer challenge (none
// for a 503, where the credentials were not at fault) and a body in the
// RFC 6749 §5.2 shape that clients of the token endpoint already parse.
func WriteBearer(w http.ResponseWriter, e *Error) {
	h := w.Header()
	realm := e.Realm
	if realm == "" {
		realm = BearerRealm
	}
	switch {
	case e.Status == http.StatusServiceUnavailable:
	case e.Anonymous:
		h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q`, realm))
		if e.DPoPAlgs != "" {
			// Both schemes are taken (RFC 9449 §7.1): say so to a client
			// that sent nothing.
			h.Add("WWW-Authenticate", fmt.Sprintf(`DPoP algs=%q`, e.DPoPAlgs))
		}
	case e.DPoP && e.Scope != "":
		h.Set("WWW-Authenticate", fmt.Sprintf(`DPoP error=%q, scope=%q, algs=%q`, e.Code, e.Scope, e.DPoPAlgs))
	case e.DPoP:
		h.Set("WWW-Authenticate", fmt.Sprintf(`DPoP error=%q, algs=%q`, e.Code, e.DPoPAlgs))
	case e.Scope != "":
		h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error=%q, scope=%q`, realm, e.Code, e.Scope))
	default:
		h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error=%q`, realm, e.Code))
	}
	writeJSON(w, e.Status, JSONType, e, oauthBody{e.Code, e.Description, e.URI, e.Scope})
}

// JSONType is the media type of the OAuth and bearer bodies, errors and
// answers alike.
const JSONType = "application/json; charset=utf-8"

// JSONAPIType is the JSON:API media type.
const JSONAPIType = "application/vnd.api+json"

// titles are the JSON:API titles of the codes.
var titles = map[Code]string{
	RegistrationDisabled:   "Registration is off",
	UnsupportedMediaType:   "Unsupported media type",
	MalformedDocument:      "Malformed document",
	ClientGeneratedID:      "Client-generated id",
	BodyTooLarge:           "Body too large",
	TemporarilyUnavailable: "Service unavailable",
	ServerError:            "Internal error",
	TooManyRequests:        "Too many sign-ups",
	EmailTaken:             "Email already registered",
	InvalidEmail:           "Invalid attribute",
	Blank:                  "Invalid attribute",
	TooLong:                "Invalid attribute",
	Invalid:                "Invalid attribute",
	PasswordTooShort:       "Invalid attribute",
	PasswordTooLong:        "Invalid attribute",
	InsufficientScope:      "Insufficient scope",
	NotFound:               "Not found",
}

type jsonAPIError struct {
	Status string         `json:"status"`
	Code   Code           `json:"code"`
	Title  string         `json:"title"`
	Detail string         `json:"detail"`
	Source *jsonAPISource `json:"source,omitempty"`
	Links  *jsonAPILinks  `json:"links,omitempty"`
}

type jsonAPISource struct {
	Pointer string `json:"pointer"`
}

type jsonAPILinks struct {
	About string `json:"about"`
}

// WriteJSONAPI answers with a JSON:API errors document, never cached; the
// status is the first error's. An insufficient_scope error also gets its
// bearer challenge.
func WriteJSONAPI(w http.ResponseWriter, errs ...*Error) {
	out := make([]jsonAPIError, len(errs))
	for i, e := range errs {
		out[i] = jsonAPIError{Status: strconv.Itoa(e.Status), Code: e.Code, Title: titles[e.Code], Detail: e.Description}
		if e.Pointer != "" {
			out[i].Source = &jsonAPISource{Pointer: e.Pointer}
		}
		if e.URI != "" {
			out[i].Links = &jsonAPILinks{About: e.URI}
		}
	}
	if e := errs[0]; e.Code == InsufficientScope {
		w.Header().Set("WWW-Authenticate",
			fmt.Sprintf(`Bearer realm=%q, error=%q, scope=%q`, BearerRealm, e.Code, e.Scope))
	}
	writeJSON(w, errs[0].Status, JSONAPIType, errs[0], map[string]any{"errors": out})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, e *Error, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{}`)
	}
	h := w.Header()
	if e.RetryAfter > 0 {
		SetRetryAfter(h, e.RetryAfter)
	}
	if e.DPoPNonce != "" {
		h.Set("DPoP-Nonce", e.DPoPNonce)
	}
	NoStore(h)
	h.Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

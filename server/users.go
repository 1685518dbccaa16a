package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/store"
)

// Merchants' own sign-up, Multinexo style: POST /v1/users takes and gives
// JSON:API documents (https://jsonapi.org/format/), and GET /v1/users/{id}
// is the created resource's self link, readable with an access token of
// that same user.

// jsonAPIType is the JSON:API media type; plain application/json is
// accepted on requests too.
const jsonAPIType = "application/vnd.api+json"

// maxNameLength and maxPasswordLength bound what a sign-up may send (a
// password is hashed whole, so its length is bounded too).
const (
	maxNameLength     = 100
	maxPasswordLength = 256
)

// jsonAPIError is one JSON:API error object.
type jsonAPIError struct {
	Status string         `json:"status"`
	Code   string         `json:"code"`
	Title  string         `json:"title"`
	Detail string         `json:"detail"`
	Source *jsonAPISource `json:"source,omitempty"`
}

type jsonAPISource struct {
	Pointer string `json:"pointer"`
}

func newJSONAPIError(status int, code, title, detail, pointer string) jsonAPIError {
	e := jsonAPIError{Status: strconv.Itoa(status), Code: code, Title: title, Detail: detail}
	if pointer != "" {
		e.Source = &jsonAPISource{Pointer: pointer}
	}
	return e
}

// writeAPIErrors answers with a JSON:API errors document; the status is
// the first error's.
func writeAPIErrors(c *gin.Context, errs ...jsonAPIError) {
	status, _ := strconv.Atoi(errs[0].Status)
	writeAPI(c, status, gin.H{"errors": errs})
}

func writeAPI(c *gin.Context, status int, doc any) {
	b, err := json.Marshal(doc)
	if err != nil {
		c.Status(http.StatusInternalServerError)
		return
	}
	noStore(c)
	c.Data(status, jsonAPIType, b)
}

// userDocument is a request document creating a user. Attributes are raw
// so that a value of the wrong JSON type is told apart from a missing one.
type userDocument struct {
	Data *struct {
		Type       *string                    `json:"type"`
		ID         *string                    `json:"id"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	} `json:"data"`
}

// userAttributes are the attributes a sign-up must send.
var userAttributes = []string{"first_name", "last_name", "email", "password"}

// register serves POST /v1/users.
func (s *Server) register(c *gin.Context) {
	if !s.cfg.Registration.Enabled {
		writeAPIErrors(c, newJSONAPIError(http.StatusNotFound, "registration_disabled", "Registration is off",
			"this server does not take sign-ups", ""))
		return
	}
	mediaType, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || !(mediaType == jsonAPIType && len(params) == 0 || mediaType == "application/json") {
		// JSON:API: a media type with parameters is refused with 415 too.
		writeAPIErrors(c, newJSONAPIError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"Unsupported media type", "send the document as "+jsonAPIType+" (or application/json)", ""))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeAPIErrors(c, bodyTooLarge())
		return
	}
	if err != nil {
		writeAPIErrors(c, newJSONAPIError(http.StatusBadRequest, "malformed_document", "Malformed document",
			"the request body could not be read", ""))
		return
	}
	attrs, apiErr := parseUserDocument(body)
	if apiErr != nil {
		writeAPIErrors(c, *apiErr)
		return
	}
	if errs := s.validateUser(attrs); len(errs) > 0 {
		writeAPIErrors(c, errs...)
		return
	}
	// Counted only now: a refused document costs nothing, while every
	// counted attempt costs a password hash.
	ctx := c.Request.Context()
	wait, err := s.store.RegistrationAttempt(ctx, c.ClientIP(), s.cfg.Registration.PerAddress, s.cfg.Registration.Period)
	if err != nil {
		s.log.ErrorContext(ctx, "registration limit", "err", err)
		writeAPIErrors(c, apiUnavailable())
		return
	}
	if wait > 0 {
		retryAfter(c, wait)
		writeAPIErrors(c, newJSONAPIError(http.StatusTooManyRequests, "too_many_requests", "Too many sign-ups",
			"too many sign-ups from this address; wait before trying again", ""))
		return
	}
	m, err := s.store.RegisterMerchant(ctx, store.Registration{FirstName: attrs["first_name"],
		LastName: attrs["last_name"], Email: attrs["email"], Password: attrs["password"]})
	switch {
	case errors.Is(err, store.ErrConflict):
		// The password was hashed before the email was looked at, so this
		// answer takes as long as a success.
		writeAPIErrors(c, newJSONAPIError(http.StatusConflict, "email_taken", "Email already registered",
			"an account with this email already exists", "/data/attributes/email"))
		return
	case errors.Is(err, store.ErrInvalid):
		writeAPIErrors(c, newJSONAPIError(http.StatusUnprocessableEntity, "invalid_email", "Invalid attribute",
			"email is not a valid email address", "/data/attributes/email"))
		return
	case err != nil:
		s.log.ErrorContext(ctx, "register", "err", err)
		writeAPIErrors(c, apiUnavailable())
		return
	}
	s.log.InfoContext(ctx, "merchant registered", "merchant_id", m.ID)
	self := s.cfg.Issuer + "/v1/users/" + m.ID
	c.Header("Location", self)
	writeAPI(c, http.StatusCreated, userResource(m, self, true))
}

func bodyTooLarge() jsonAPIError {
	return newJSONAPIError(http.StatusRequestEntityTooLarge, "body_too_large", "Body too large",
		"the request body is larger than 64 KiB", "")
}

func apiUnavailable() jsonAPIError {
	return newJSONAPIError(http.StatusServiceUnavailable, "temporarily_unavailable", "Service unavailable",
		"the service is temporarily unavailable, retry later", "")
}

// parseUserDocument reads a user-creating document: its attributes as
// strings, or the 400 (403 for a client-generated id) that it earns.
func parseUserDocument(body []byte) (map[string]string, *jsonAPIError) {
	bad := func(detail, pointer string) *jsonAPIError {
		e := newJSONAPIError(http.StatusBadRequest, "malformed_document", "Malformed document", detail, pointer)
		return &e
	}
	if !utf8.Valid(body) {
		return nil, bad("the document is not valid UTF-8", "")
	}
	var doc userDocument
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, bad("the body is not a JSON object of the expected shape", "")
	}
	if dec.More() {
		return nil, bad("the body holds more than one JSON value", "")
	}
	if doc.Data == nil {
		return nil, bad("the document needs a data object", "/data")
	}
	if doc.Data.Type == nil || *doc.Data.Type != "users" {
		return nil, bad(`data.type must be "users"`, "/data/type")
	}
	if doc.Data.ID != nil {
		e := newJSONAPIError(http.StatusForbidden, "client_generated_id", "Client-generated id",
			"the server assigns user ids; leave data.id out", "/data/id")
		return nil, &e
	}
	if doc.Data.Attributes == nil {
		return nil, bad("the document needs data.attributes", "/data/attributes")
	}
	out := make(map[string]string, len(userAttributes))
	for _, name := range userAttributes {
		raw, ok := doc.Data.Attributes[name]
		if !ok || string(raw) == "null" {
			continue // missing: a 422 of validateUser
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, bad(name+" must be a string", "/data/attributes/"+name)
		}
		out[name] = v
	}
	return out, nil
}

// validateUser checks a sign-up's attributes: every broken rule is one 422
// error pointing at its attribute.
func (s *Server) validateUser(attrs map[string]string) []jsonAPIError {
	var errs []jsonAPIError
	invalid := func(name, code, detail string) {
		errs = append(errs, newJSONAPIError(http.StatusUnprocessableEntity, code, "Invalid attribute", detail,
			"/data/attributes/"+name))
	}
	for _, name := range []string{"first_name", "last_name"} {
		v := strings.TrimSpace(attrs[name])
		switch {
		case v == "":
			invalid(name, "blank", name+" is required")
		case utf8.RuneCountInString(v) > maxNameLength:
			invalid(name, "too_long", name+" is longer than "+strconv.Itoa(maxNameLength)+" characters")
		case strings.ContainsFunc(v, isControl):
			invalid(name, "invalid", name+" contains control characters")
		}
	}
	if !store.ValidEmail(store.NormalizeEmail(attrs["email"])) {
		invalid("email", "invalid_email", "email is not a valid email address")
	}
	pw := attrs["password"]
	minLen := s.cfg.Registration.MinPasswordLength
	switch n := utf8.RuneCountInString(pw); {
	case n < minLen:
		invalid("password", "password_too_short", "password must be at least "+strconv.Itoa(minLen)+" characters")
	case n > maxPasswordLength:
		invalid("password", "password_too_long", "password must be at most "+strconv.Itoa(maxPasswordLength)+" characters")
	}
	return errs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// userResource is a user as a JSON:API resource document. The password
// and its digest are never part of it; the email only when showEmail.
func userResource(m *store.Merchant, self string, showEmail bool) gin.H {
	first, last := personName(m)
	attrs := gin.H{
		"first_name": first,
		"last_name":  last,
		"status":     "active",
		// No email confirmation step: a user can sign in at once.
		"activated":  true,
		"created_at": m.CreatedAt.UTC().Format(tokenTime),
	}
	if showEmail {
		attrs["email"] = m.Email
	}
	return gin.H{
		"data":  gin.H{"type": "users", "id": m.ID, "attributes": attrs, "links": gin.H{"self": self}},
		"links": gin.H{"self": self},
	}
}

// user serves GET /v1/users/{id}: the user an access token belongs to,
// with the profile scope (and the email with the email scope). Another
// user's id is answered as not found.
func (s *Server) user(c *gin.Context) {
	ai, ok := s.bearer(c, func(c *gin.Context) { writeAPIErrors(c, apiUnavailable()) })
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if !slices.Contains(ai.Scopes, "profile") {
		c.Header("WWW-Authenticate", `Bearer realm="github.com/enlace-oauth/enlace", error="insufficient_scope", scope="profile"`)
		writeAPIErrors(c, newJSONAPIError(http.StatusForbidden, "insufficient_scope", "Insufficient scope",
			"reading a user needs the profile scope", ""))
		return
	}
	id := c.Param("id")
	var (
		m   *store.Merchant
		err error
	)
	if id == ai.MerchantID {
		m, err = s.store.GetMerchant(ctx, id)
	}
	if m == nil && (err == nil || errors.Is(err, store.ErrNotFound)) {
		writeAPIErrors(c, newJSONAPIError(http.StatusNotFound, "not_found", "Not found", "no such user", ""))
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "load merchant", "err", err)
		writeAPIErrors(c, apiUnavailable())
		return
	}
	writeAPI(c, http.StatusOK, userResource(m, s.cfg.Issuer+"/v1/users/"+m.ID, slices.Contains(ai.Scopes, "email")))
}

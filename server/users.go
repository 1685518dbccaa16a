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

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// Merchants' own sign-up, Multinexo style: POST /v1/users takes and gives
// JSON:API documents (https://jsonapi.org/format/), and GET /v1/users/{id}
// is the created resource's self link, readable with an access token of
// that same user.

// maxNameLength bounds the names a sign-up may send (passwords have the
// store's bounds, store.CheckPassword).
const maxNameLength = 100

// writeDocument answers with a JSON:API document, never cached.
func writeDocument(c *gin.Context, status int, doc any) {
	b, err := json.Marshal(doc)
	if err != nil {
		writeAPI(c, apierror.New(apierror.ServerError, "the answer could not be encoded"))
		return
	}
	apierror.NoStore(c.Writer.Header())
	c.Data(status, apierror.JSONAPIType, b)
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
		writeAPI(c, apierror.New(apierror.RegistrationDisabled, "this server does not take sign-ups"))
		return
	}
	mediaType, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || !(mediaType == apierror.JSONAPIType && len(params) == 0 || mediaType == "application/json") {
		// JSON:API: a media type with parameters is refused with 415 too.
		writeAPI(c, apierror.New(apierror.UnsupportedMediaType, "send the document as "+apierror.JSONAPIType+" (or application/json)"))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeAPI(c, bodyTooLarge())
		return
	}
	if err != nil {
		writeAPI(c, apierror.New(apierror.MalformedDocument, "the request body could not be read"))
		return
	}
	attrs, apiErr := parseUserDocument(body)
	if apiErr != nil {
		writeAPI(c, apiErr)
		return
	}
	if errs := s.validateUser(attrs); len(errs) > 0 {
		writeAPI(c, errs...)
		return
	}
	// Counted only now: a refused document costs nothing, while every
	// counted attempt costs a password hash.
	ctx := c.Request.Context()
	wait, err := s.store.RegistrationAttempt(ctx, c.ClientIP(), s.cfg.Registration.PerAddress, s.cfg.Registration.Period)
	if err != nil {
		s.log.ErrorContext(ctx, "registration limit", "err", err)
		writeAPI(c, apierror.Unavailable())
		return
	}
	if wait > 0 {
		e := apierror.New(apierror.TooManyRequests, "too many sign-ups from this address; wait before trying again")
		e.RetryAfter = wait
		writeAPI(c, e)
		return
	}
	m, err := s.store.RegisterMerchant(ctx, store.Registration{FirstName: attrs["first_name"],
		LastName: attrs["last_name"], Email: attrs["email"], Password: attrs["password"]})
	switch {
	case errors.Is(err, store.ErrConflict):
		// The password was hashed before the email was looked at, so this
		// answer takes as long as a success.
		writeAPI(c, pointed(apierror.EmailTaken, "an account with this email already exists", "/data/attributes/email"))
		return
	case errors.Is(err, store.ErrInvalid):
		writeAPI(c, pointed(apierror.InvalidEmail, "email is not a valid email address", "/data/attributes/email"))
		return
	case err != nil:
		s.log.ErrorContext(ctx, "register", "err", err)
		writeAPI(c, apierror.Unavailable())
		return
	}
	s.log.InfoContext(ctx, "merchant registered", "merchant_id", m.ID)
	self := s.cfg.Issuer + "/v1/users/" + m.ID
	c.Header("Location", self)
	writeDocument(c, http.StatusCreated, userResource(m, self, true))
}

func bodyTooLarge() *apierror.Error {
	return apierror.New(apierror.BodyTooLarge, "the request body is larger than 64 KiB")
}

// pointed is an error about one member of the document.
func pointed(code apierror.Code, detail, pointer string) *apierror.Error {
	e := apierror.New(code, detail)
	e.Pointer = pointer
	return e
}

// parseUserDocument reads a user-creating document: its attributes as
// strings, or the 400 (403 for a client-generated id) that it earns.
func parseUserDocument(body []byte) (map[string]string, *apierror.Error) {
	bad := func(detail, pointer string) *apierror.Error {
		return pointed(apierror.MalformedDocument, detail, pointer)
	}
	if !utf8.Valid(body) {
		return nil, bad("the document is not valid UTF-8", "")
	}
	if err := strictJSON(body); err != nil {
		return nil, bad(err.Error(), "")
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
		return nil, pointed(apierror.ClientGeneratedID, "the server assigns user ids; leave data.id out", "/data/id")
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
func (s *Server) validateUser(attrs map[string]string) []*apierror.Error {
	var errs []*apierror.Error
	invalid := func(name string, code apierror.Code, detail string) {
		errs = append(errs, pointed(code, detail, "/data/attributes/"+name))
	}
	for _, name := range []string{"first_name", "last_name"} {
		v := strings.TrimSpace(attrs[name])
		switch {
		case v == "":
			invalid(name, apierror.Blank, name+" is required")
		case utf8.RuneCountInString(v) > maxNameLength:
			invalid(name, apierror.TooLong, name+" is longer than "+strconv.Itoa(maxNameLength)+" characters")
		case strings.ContainsFunc(v, isControl):
			invalid(name, apierror.Invalid, name+" contains control characters")
		}
	}
	if !store.ValidEmail(store.NormalizeEmail(attrs["email"])) {
		invalid("email", apierror.InvalidEmail, "email is not a valid email address")
	}
	pw := attrs["password"]
	// The store's one password rule, with the field's own error codes.
	minLen := s.store.MinPasswordLength()
	switch n := utf8.RuneCountInString(pw); {
	case n < minLen:
		invalid("password", apierror.PasswordTooShort, "password must be at least "+strconv.Itoa(minLen)+" characters")
	case n > store.MaxPasswordLength:
		invalid("password", apierror.PasswordTooLong, "password must be at most "+strconv.Itoa(store.MaxPasswordLength)+" characters")
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
	ai, ok := s.bearer(c, func(c *gin.Context) { writeAPI(c, apierror.Unavailable()) })
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if !slices.Contains(ai.Scopes, "profile") {
		e := apierror.New(apierror.InsufficientScope, "reading a user needs the profile scope")
		e.Scope = "profile"
		writeAPI(c, e)
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
		writeAPI(c, apierror.New(apierror.NotFound, "no such user"))
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "load merchant", "err", err)
		writeAPI(c, apierror.Unavailable())
		return
	}
	writeDocument(c, http.StatusOK, userResource(m, s.cfg.Issuer+"/v1/users/"+m.ID, slices.Contains(ai.Scopes, "email")))
}

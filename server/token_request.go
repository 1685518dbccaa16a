package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/enlace-oauth/enlace/server/apierror"
)

// maxBody bounds every request body; real ones are well under 4 KiB.
const maxBody = 64 << 10

// tokenRequest is a token endpoint request in either dialect, before the
// client is authenticated.
type tokenRequest struct {
	GrantType    string
	ClientID     string
	ClientSecret string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
	// Token is the token of a revocation or introspection request.
	Token string
	// Username and Password are a first-party sign-in's (password grant).
	Username, Password string
	// Basic is set when the client authenticated with HTTP Basic.
	Basic bool
	// Assertion and AssertionType are a private_key_jwt client
	// authentication's (clientauth.go).
	Assertion, AssertionType string
	// Path is the endpoint's, which a client assertion's aud may name.
	Path string
	// pending is the verified client assertion's jti, to be claimed
	// (claimClient) once the rest of the request has passed.
	pending assertionClaim
	// form is a form body whole, for the endpoint that reads more than
	// the token endpoint's parameters (PAR).
	form url.Values
}

// tokenParams are the parameters the token endpoint reads; others are
// ignored, as RFC 6749 §3.2 requires.
var tokenParams = []string{"grant_type", "client_id", "client_secret", "code", "redirect_uri",
	"code_verifier", "refresh_token", "scope", "token", "username", "password", "client_assertion",
	"client_assertion_type"}

// parseTokenRequest reads a token request from a form body, or from a JSON
// body when allowJSON is set (the Multivende dialect), and the client's
// Basic credentials. It refuses malformed bodies, repeated parameters and
// invalid UTF-8 with invalid_request.
func parseTokenRequest(r *http.Request, allowJSON bool) (*tokenRequest, *apierror.Error) {
	if r.Method != http.MethodPost {
		return nil, apierror.Request("the token endpoint accepts only POST")
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, apierror.Request("the Content-Type header is missing or malformed")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apierror.Request("the request body is too large")
		}
		return nil, apierror.Request("the request body could not be read")
	}
	var values map[string]string
	var form url.Values
	switch {
	case mediaType == "application/x-www-form-urlencoded":
		values, form, err = parseFormBody(body)
	case mediaType == "application/json" && allowJSON:
		values, err = parseJSONBody(body)
	case allowJSON:
		return nil, apierror.Request("the body must be application/json or application/x-www-form-urlencoded")
	default:
		return nil, apierror.Request("the body must be application/x-www-form-urlencoded")
	}
	if err != nil {
		return nil, apierror.Request(err.Error())
	}
	for k, v := range values {
		if !utf8.ValidString(v) {
			return nil, apierror.Request("parameter " + k + " is not valid UTF-8")
		}
	}
	tr := &tokenRequest{
		GrantType:    values["grant_type"],
		ClientID:     values["client_id"],
		ClientSecret: values["client_secret"],
		Code:         values["code"],
		RedirectURI:  values["redirect_uri"],
		CodeVerifier: values["code_verifier"],
		RefreshToken: values["refresh_token"],
		Scope:        values["scope"],
		Token:        values["token"],
		Username:     values["username"],
		Password:     values["password"],

		Assertion:     values["client_assertion"],
		AssertionType: values["client_assertion_type"],
		Path:          r.URL.Path,
		form:          form,
	}
	if h := r.Header.Get("Authorization"); h != "" {
		id, secret, ok := parseBasic(h)
		if !ok {
			e := apierror.New(apierror.InvalidClient, "the Authorization header is not valid HTTP Basic credentials")
			e.Basic = true
			return nil, e
		}
		if tr.ClientSecret != "" {
			return nil, apierror.Request("use one client authentication method, not both Basic and client_secret")
		}
		if tr.ClientID != "" && tr.ClientID != id {
			return nil, apierror.Request("client_id does not match the Basic credentials")
		}
		tr.ClientID, tr.ClientSecret, tr.Basic = id, secret, true
	}
	return tr, nil
}

func parseFormBody(body []byte) (map[string]string, url.Values, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, nil, errors.New("the form body is malformed")
	}
	// Sized for the parameters sent, not for every one known: a token
	// request carries a handful, an introspection one or two, and a map
	// sized for all thirteen is twice as large.
	out := make(map[string]string, min(len(vals), len(tokenParams)))
	for _, k := range tokenParams {
		switch v := vals[k]; len(v) {
		case 0:
		case 1:
			out[k] = v[0]
		default:
			return nil, nil, errors.New("parameter " + k + " is repeated")
		}
	}
	return out, vals, nil
}

func parseJSONBody(body []byte) (map[string]string, error) {
	if err := strictJSON(body); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, errors.New("the JSON body is malformed or not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("the JSON body has data after the object")
	}
	out := make(map[string]string, min(len(raw), len(tokenParams)))
	for _, k := range tokenParams {
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, errors.New("parameter " + k + " must be a string")
		}
		out[k] = s
	}
	return out, nil
}

// parseBasic decodes HTTP Basic client credentials. RFC 6749 §2.3.1 has the
// client form-URL-encode its id and secret before Basic encoding, so both
// are decoded again (where r.BasicAuth would not).
func parseBasic(header string) (id, secret string, ok bool) {
	scheme, enc, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	u, p, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	if id, err = url.QueryUnescape(u); err != nil {
		return "", "", false
	}
	if secret, err = url.QueryUnescape(p); err != nil {
		return "", "", false
	}
	if id == "" || !utf8.ValidString(id) || !utf8.ValidString(secret) {
		return "", "", false
	}
	return id, secret, true
}

// parseScopes splits a scope parameter on spaces and commas, dropping
// repeats and empty entries.
func parseScopes(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	out := make([]string, 0, len(fields))
	// A set, not slices.Contains: that is quadratic, and a 64 KiB scope of
	// distinct names then costs a second of CPU per request.
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

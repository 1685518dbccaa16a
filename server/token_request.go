package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
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
	// the token endpoint's parameters (PAR: formValues).
	form string
}

// formValues is the whole form body (PAR reads more parameters than the
// token endpoint). parseTokenRequest has accepted it, so it parses, unless
// GODEBUG=urlmaxqueryparams sets url.ParseQuery a bound of its own below
// parseFormBody's (maxFormParams).
func (tr *tokenRequest) formValues() (url.Values, error) {
	v, err := url.ParseQuery(tr.form)
	if err != nil {
		return nil, fmt.Errorf("parse the form: %w", err)
	}
	return v, nil
}

// tokenParams are the parameters the token endpoint reads; others are
// ignored, as RFC 6749 §3.2 requires.
var tokenParams = [...]string{"grant_type", "client_id", "client_secret", "code", "redirect_uri",
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
	// The body is read before its media type is judged, so that a body
	// too large is refused as such whatever it claims to be.
	body, err := readBody(r.Body, r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apierror.Request("the request body is too large")
		}
		return nil, apierror.Request("the request body could not be read")
	}
	isForm := mediaType == "application/x-www-form-urlencoded"
	if !isForm && !(mediaType == "application/json" && allowJSON) {
		if allowJSON {
			return nil, apierror.Request("the body must be application/json or application/x-www-form-urlencoded")
		}
		return nil, apierror.Request("the body must be application/x-www-form-urlencoded")
	}
	var values params
	var form string
	if isForm {
		form = string(body)
		values, err = parseFormBody(form)
	} else {
		values, err = parseJSONBody(body)
	}
	if err != nil {
		return nil, apierror.Request(err.Error())
	}
	for i, v := range values {
		if !utf8.ValidString(v) {
			return nil, apierror.Request("parameter " + tokenParams[i] + " is not valid UTF-8")
		}
	}
	tr := &tokenRequest{
		GrantType:    values[pGrantType],
		ClientID:     values[pClientID],
		ClientSecret: values[pClientSecret],
		Code:         values[pCode],
		RedirectURI:  values[pRedirectURI],
		CodeVerifier: values[pCodeVerifier],
		RefreshToken: values[pRefreshToken],
		Scope:        values[pScope],
		Token:        values[pToken],
		Username:     values[pUsername],
		Password:     values[pPassword],

		Assertion:     values[pAssertion],
		AssertionType: values[pAssertionType],
		Path:          r.URL.Path,
	}
	tr.form = form
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

// params are a token request's parameters, by their index in tokenParams;
// a parameter not sent is "".
type params [len(tokenParams)]string

// parseFormBody keeps the parameters seen in a uint16's bits.
var _ [16 - len(tokenParams)]struct{}

// The indexes of tokenParams.
const (
	pGrantType = iota
	pClientID
	pClientSecret
	pCode
	pRedirectURI
	pCodeVerifier
	pRefreshToken
	pScope
	pToken
	pUsername
	pPassword
	pAssertion
	pAssertionType
)

// paramIndex is k's index in tokenParams, or -1 for a parameter the token
// endpoint ignores.
func paramIndex(k string) int {
	switch k {
	case "grant_type":
		return pGrantType
	case "client_id":
		return pClientID
	case "client_secret":
		return pClientSecret
	case "code":
		return pCode
	case "redirect_uri":
		return pRedirectURI
	case "code_verifier":
		return pCodeVerifier
	case "refresh_token":
		return pRefreshToken
	case "scope":
		return pScope
	case "token":
		return pToken
	case "username":
		return pUsername
	case "password":
		return pPassword
	case "client_assertion":
		return pAssertion
	case "client_assertion_type":
		return pAssertionType
	}
	return -1
}

// maxFormParams is url.ParseQuery's bound on a form's parameters, which
// parseFormBody keeps.
const maxFormParams = 10000

// parseFormBody reads the token endpoint's parameters from a form body in
// one pass, refusing what url.ParseQuery refuses (a bad escape, a
// semicolon, more than maxFormParams parameters) and a repeated
// parameter. url.ParseQuery and a map copied out of it were a tenth of an
// introspection's handler, building a map of slices for every parameter
// sent; FuzzParseTokenRequest holds the two to the same answers.
func parseFormBody(body string) (params, error) {
	var out params
	if strings.Count(body, "&") >= maxFormParams {
		return out, errors.New("the form body is malformed")
	}
	malformed := false
	var seen, repeated uint16
	for rest := body; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if strings.Contains(pair, ";") {
			malformed = true
			continue
		}
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			malformed = true
			continue
		}
		// Every value is unescaped, the ignored ones' too: a bad escape
		// anywhere makes the body malformed, as for url.ParseQuery.
		if v, err = url.QueryUnescape(v); err != nil {
			malformed = true
			continue
		}
		i := paramIndex(k)
		switch {
		case i < 0:
		case seen&(1<<i) != 0:
			repeated |= 1 << i
		default:
			seen |= 1 << i
			out[i] = v
		}
	}
	if malformed {
		return params{}, errors.New("the form body is malformed")
	}
	if repeated != 0 {
		return params{}, errors.New("parameter " + tokenParams[bits.TrailingZeros16(repeated)] + " is repeated")
	}
	return out, nil
}

// readBody reads a request body of at most maxBody bytes into one buffer
// sized by its declared length (io.ReadAll starts at 512 bytes and grows),
// but never more than maxBodyPrealloc ahead of what has arrived: a client
// declaring 64 KiB and sending ten bytes does not get 64 KiB allocated.
func readBody(body io.ReadCloser, declared int64) ([]byte, error) {
	r := http.MaxBytesReader(nil, body, maxBody)
	size := 512
	if declared >= 0 {
		// One byte more than declared, so the end is seen without growing.
		size = int(min(declared, maxBodyPrealloc)) + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}

// maxBodyPrealloc bounds what readBody allocates on a body's word.
const maxBodyPrealloc = 4 << 10

func parseJSONBody(body []byte) (params, error) {
	var out params
	if err := strictJSON(body); err != nil {
		return out, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return out, errors.New("the JSON body is malformed or not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return out, errors.New("the JSON body has data after the object")
	}
	for i, k := range tokenParams {
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, &out[i]); err != nil {
			return params{}, errors.New("parameter " + k + " must be a string")
		}
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

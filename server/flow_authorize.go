package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// The authorization request (RFC 6749 §4.1.1), before and after the
// merchant's decision on the consent page. Its rules:
//   - the client must be a registered, enabled app, and redirect_uri one of
//     its registered URIs, compared as exact strings (RFC 9700 §4.1.3);
//     until both hold, a refusal is an error page and never a redirect;
//   - from then on errors go back to the app with state and iss (RFC 9207);
//   - response_type must be code; every parameter appears at most once;
//   - PKCE is S256 only, and required for public apps and apps that ask
//     for it;
//   - scope (spaces or commas; absent means the app's registered scopes)
//     must name only scopes the app is registered for;
//   - approving records a new connection, never reusing one
//     (store/lua/approve.lua), and redirects with code, state and iss;
//   - OpenID Connect (Core §3.1.2.1): openid is refused while OpenID
//     Connect is off (no encryption.key); nonce is at most
//     store.MaxNonce bytes and, with openid, one use per app while a code
//     can live (a nonce seen before is invalid_request at the approval);
//     prompt takes none, login, consent and select_account, none alone;
//     max_age is a whole number of seconds; login_hint at most 254
//     bytes; id_token_hint an ID token this server issued to the app
//     (its subject goes to the consent pages); response_mode query or
//     absent; request, request_uri and registration are refused with
//     their own errors (Core §3.1.2.6). What prompt and max_age do is the
//     consent pages' (consent/oidc.go);
//   - request_uri is only ever one the PAR endpoint handed out (par.go),
//     presented with the client_id that pushed it: its parameters are the
//     request, and any other request_uri is an error page; an app that
//     must push (or every app, with par.require) is refused a request in
//     the query;
//   - dpop_jkt, a JWK thumbprint, binds the code to that DPoP key (RFC
//     9449 §10): the exchange needs a proof of it;
//   - an app on the fapi2 profile gets codes that live 60 seconds.

// ParseAuthorize validates an authorization request (GET or the consent
// form's POST; only the query string is read). The app and the redirect URI
// are checked first, by exact match against the app's registered list: until
// both are known good, a refusal is an error page, never a redirect, because
// go-oauth2 would redirect errors to the unvalidated redirect_uri (an open
// redirector) after a host-suffix match. After that, errors go back to the
// app with state and iss.
func (s *Server) ParseAuthorize(r *http.Request) (*consent.AuthorizeRequest, error) {
	return s.parseAuthorize(r.Context(), r.URL.RawQuery, s.apps, s.claimPushed)
}

// claimPushed is the pushed request behind a request_uri (par.go): its
// parameters, for the app that pushed it; once presented, the merchant
// has pushedWindow (at most the session's lifetime) to decide.
func (s *Server) claimPushed(ctx context.Context, requestURI, clientID string) (string, error) {
	return s.store.ClaimPushed(ctx, requestURI, clientID, min(pushedWindow, s.cfg.Session.Lifetime))
}

// pushedWindow is how long a presented pushed request waits for the
// merchant's login and decision: long enough for a person, short enough
// that a request_uri left in a browser's history soon starts nothing.
const pushedWindow = 30 * time.Minute

// parseAuthorize is ParseAuthorize over a raw query string, an app lookup
// and a pushed-request lookup, so that it can be fuzzed without Redis.
func (s *Server) parseAuthorize(ctx context.Context, rawQuery string,
	apps func(context.Context, string) (*store.App, error),
	pushed func(ctx context.Context, requestURI, clientID string) (string, error)) (*consent.AuthorizeRequest, error) {
	q, err := parseQuery(rawQuery)
	if err != nil {
		return nil, &consent.AuthorizeError{Message: "err_bad_request"}
	}
	clientID := q.Get("client_id")
	if len(q["client_id"]) != 1 || clientID == "" {
		return nil, &consent.AuthorizeError{Message: "err_unknown_client"}
	}
	app, err := apps(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && app.Disabled) {
		return nil, &consent.AuthorizeError{Message: "err_unknown_client"}
	}
	if err != nil {
		return nil, fmt.Errorf("load app: %w", err)
	}
	requestURI := ""
	if q.Has("request_uri") {
		// RFC 9126 §4: the pushed parameters, and only those, are the
		// request; the query's client_id must be the app that pushed it.
		if len(q["request_uri"]) != 1 {
			return nil, &consent.AuthorizeError{Message: "err_bad_request"}
		}
		requestURI = q.Get("request_uri")
		params, err := pushed(ctx, requestURI, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &consent.AuthorizeError{Message: "err_request_uri"}
		}
		if err != nil {
			return nil, fmt.Errorf("pushed authorization request: %w", err)
		}
		if q, err = parseQuery(params); err != nil || q.Get("client_id") != clientID {
			return nil, &consent.AuthorizeError{Message: "err_request_uri"}
		}
	}
	redirectURI := q.Get("redirect_uri")
	if len(q["redirect_uri"]) != 1 || !app.AllowsRedirect(redirectURI) {
		return nil, &consent.AuthorizeError{Message: "err_invalid_redirect_uri"}
	}

	// From here on the redirect URI is trusted.
	state := q.Get("state")
	if requestURI == "" && (app.PARRequired() || s.cfg.PAR.Require) {
		return nil, &consent.AuthorizeError{RedirectTo: s.redirectError(redirectURI, state, apierror.InvalidRequest,
			"this app must push its authorization requests to "+s.cfg.Issuer+parPath+" and send the request_uri (RFC 9126)")}
	}
	req, e := s.checkAuthorize(ctx, q, app)
	if e != nil {
		return nil, &consent.AuthorizeError{RedirectTo: s.redirectError(redirectURI, state, e.Code, e.Description)}
	}
	req.RequestURI = requestURI
	return req, nil
}

// validJKT reports whether s is shaped like a JWK SHA-256 thumbprint:
// 32 bytes, base64url without padding.
func validJKT(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// parseQuery reads a query string, refusing one that is malformed or not
// UTF-8.
func parseQuery(raw string) (url.Values, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, err
	}
	for k, v := range q {
		for _, x := range v {
			if !utf8.ValidString(k) || !utf8.ValidString(x) {
				return nil, errors.New("not UTF-8")
			}
		}
	}
	return q, nil
}

// checkAuthorize applies the rules of an authorization request to q, for
// app, once its client and redirect URI are known good: what the consent
// page shows, or the error to send back (to the redirect URI, or, at the
// PAR endpoint, as JSON).
func (s *Server) checkAuthorize(ctx context.Context, q url.Values, app *store.App) (*consent.AuthorizeRequest, *apierror.Error) {
	redirectURI, state := q.Get("redirect_uri"), q.Get("state")
	fail := func(code apierror.Code, desc string) *apierror.Error { return apierror.New(code, desc) }
	for k, v := range q {
		if len(v) > 1 {
			return nil, fail(apierror.InvalidRequest, "parameter "+k+" is repeated")
		}
	}
	if q.Get("response_type") == "" {
		return nil, fail(apierror.InvalidRequest, "response_type is missing")
	}
	// go-oauth2 parses and checks response_type and the PKCE parameters.
	// It reads the request's form, which for the consent POST would include
	// the body, so it is handed the query alone.
	lr := &http.Request{Method: http.MethodGet, Form: q, PostForm: url.Values{}}
	if _, err := s.oauth.ValidationAuthorizeRequest(lr); err != nil {
		switch {
		case errors.Is(err, oerrors.ErrUnsupportedResponseType), errors.Is(err, oerrors.ErrUnauthorizedClient):
			return nil, fail(apierror.UnsupportedResponseType, "response_type must be code")
		default:
			return nil, fail(apierror.InvalidRequest, oerrors.Descriptions[err])
		}
	}
	challenge := q.Get("code_challenge")
	if challenge != "" && q.Get("code_challenge_method") != string(oauth2.CodeChallengeS256) {
		return nil, fail(apierror.InvalidRequest, "code_challenge_method must be S256")
	}
	if challenge == "" && app.NeedsPKCE() {
		return nil, fail(apierror.InvalidRequest, "this app must use PKCE: send code_challenge with code_challenge_method=S256")
	}
	scopes := parseScopes(q.Get("scope"))
	if len(scopes) == 0 {
		scopes = app.Scopes
	}
	if sc := app.Unregistered(scopes); sc != "" {
		return nil, fail(apierror.InvalidScope, "scope "+sc+" is not registered for this app")
	}
	// Request objects (Core §6) are not taken: say so rather than act on
	// the plain parameters alone.
	if q.Has("request") {
		return nil, fail(apierror.RequestNotSupported, "request objects are not supported; send the parameters in the query")
	}
	if q.Has("request_uri") {
		// Only a pushed request (par.go) can get here with one.
		return nil, fail(apierror.InvalidRequest, "a pushed authorization request cannot carry request_uri")
	}
	if m := q.Get("response_mode"); q.Has("response_mode") && m != "query" {
		return nil, fail(apierror.InvalidRequest, "response_mode must be query (or absent)")
	}
	if q.Has("registration") {
		return nil, fail(apierror.RegistrationUnsupported, "the registration parameter is not supported; register at "+registerPath)
	}
	oidc, desc := s.parseOIDCParams(q, scopes)
	if desc == "" && q.Get("id_token_hint") != "" {
		if oidc.HintSubject, desc = s.hintSubject(ctx, q.Get("id_token_hint"), app.ClientID); desc != "" {
			return nil, fail(apierror.InvalidRequest, desc)
		}
	}
	if desc != "" {
		code := apierror.InvalidRequest
		if slices.Contains(scopes, scopeOpenID) && s.keys == nil {
			code = apierror.InvalidScope
		}
		return nil, fail(code, desc)
	}
	jkt := q.Get("dpop_jkt")
	if q.Has("dpop_jkt") && !validJKT(jkt) {
		return nil, fail(apierror.InvalidRequest, "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)")
	}
	var preselect store.ResourceGrant
	if raw := q.Get("authorization_details"); raw != "" {
		var desc string
		if preselect, desc = s.parseAuthorizationDetails(raw, scopes); desc != "" {
			return nil, fail(apierror.InvalidAuthorizationDetails, desc)
		}
	}
	return &consent.AuthorizeRequest{
		DPoPJKT:       jkt,
		Nonce:         oidc.Nonce,
		Prompt:        oidc.Prompt,
		MaxAge:        oidc.MaxAge,
		LoginHint:     oidc.LoginHint,
		HintSubject:   oidc.HintSubject,
		Preselect:     preselect,
		ClientID:      app.ClientID,
		AppName:       app.Name,
		RedirectURI:   redirectURI,
		State:         state,
		Scopes:        scopes,
		CodeChallenge: challenge,
		App:           app,
	}, nil
}

// Approve records a new connection and returns the redirect with its code.
func (s *Server) Approve(ctx context.Context, req *consent.AuthorizeRequest, merchantID string, granted []string, resources store.ResourceGrant) (string, error) {
	// An app in development connects only to its test merchants; the
	// consent page says so before, and this holds for a forged post too.
	if req.App != nil && !req.App.MayConnect(merchantID) {
		return "", consent.ErrNotTestMerchant
	}
	// The app's generation as Redis has it now, not as this instance's
	// cache may still have it: an approval made after an app-wide
	// revocation is of the new generation, and lives.
	if err := s.checkResourceChoice(ctx, merchantID, granted, resources); err != nil {
		return "", err
	}
	gen, err := s.store.AppGeneration(ctx, req.ClientID)
	if err != nil {
		return "", fmt.Errorf("approve: %w", err)
	}
	if req.RequestURI != "" {
		// One pushed request, one code: of two decisions (a double
		// submit, a replayed form) only the first goes on.
		err := s.store.ConsumePushed(ctx, req.RequestURI, req.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			return s.redirectError(req.RedirectURI, req.State, apierror.InvalidRequest,
				"this pushed authorization request was used already; push a new one"), nil
		}
		if err != nil {
			return "", fmt.Errorf("approve: %w", err)
		}
	}
	codeLife := time.Duration(0)
	if req.App != nil && req.App.FAPI2 {
		codeLife = store.FAPI2CodeLifetime
	}
	nonce := ""
	if slices.Contains(granted, scopeOpenID) && req.Nonce != "" {
		// One use: an authorization request replayed with its nonce gets
		// no second ID token carrying it.
		fresh, err := s.store.ClaimNonce(ctx, req.ClientID, req.Nonce, s.cfg.Tokens.Code)
		if err != nil {
			return "", fmt.Errorf("approve: %w", err)
		}
		if !fresh {
			return s.redirectError(req.RedirectURI, req.State, apierror.InvalidRequest,
				"this nonce was used in an earlier authorization request; start a new one with a fresh nonce"), nil
		}
		nonce = req.Nonce
	}
	conn, code, err := s.store.Approve(ctx, store.Grant{
		Nonce:         nonce,
		AuthTime:      req.AuthTime,
		Resources:     resources,
		AppGeneration: gen,
		ClientID:      req.ClientID,
		MerchantID:    merchantID,
		RedirectURI:   req.RedirectURI,
		Scopes:        granted,
		CodeChallenge: req.CodeChallenge,
		CodeLifetime:  codeLife,
		CodeJKT:       req.DPoPJKT,
	})
	if err != nil {
		if nonce != "" {
			// Nothing was issued with it: the same request may be tried
			// again.
			if rerr := s.store.ReleaseNonce(context.WithoutCancel(ctx), req.ClientID, nonce); rerr != nil {
				s.log.WarnContext(ctx, "release nonce", "err", rerr)
			}
		}
		return "", err
	}
	s.log.InfoContext(ctx, "connection approved", "client_id", req.ClientID, "merchant_id", merchantID, "connection_id", conn.ID)
	return s.redirectWith(req.RedirectURI, url.Values{"code": {code}}, req.State), nil
}

// Deny returns the redirect that tells the app the merchant said no.
func (s *Server) Deny(ctx context.Context, req *consent.AuthorizeRequest) string {
	if req.RequestURI != "" {
		// The merchant decided: the pushed request starts nothing more.
		if err := s.store.ConsumePushed(ctx, req.RequestURI, req.ClientID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(ctx, "consume pushed request", "err", err)
		}
	}
	return s.redirectError(req.RedirectURI, req.State, apierror.AccessDenied, "the merchant did not authorize the app")
}

// Refuse returns the redirect that tells the app why no page was shown
// (prompt=none's login_required and consent_required).
func (s *Server) Refuse(req *consent.AuthorizeRequest, code, description string) string {
	return s.redirectError(req.RedirectURI, req.State, apierror.Code(code), description)
}

func (s *Server) redirectError(redirectURI, state string, code apierror.Code, desc string) string {
	return s.redirectWith(redirectURI, url.Values{"error": {string(code)}, "error_description": {desc}}, state)
}

// redirectWith adds params, state (when sent) and iss (RFC 9207) to a
// registered redirect URI, keeping its own query.
func (s *Server) redirectWith(redirectURI string, params url.Values, state string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		// Registered URIs were validated when the app was created.
		return redirectURI
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", s.cfg.Issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

// checkResourceChoice refuses a choice of resources that the consent page
// could not have offered: for a scope that is not granted or not bound to
// a resource type, or of a resource that is not the merchant's (now).
func (s *Server) checkResourceChoice(ctx context.Context, merchantID string, granted []string, g store.ResourceGrant) error {
	if len(g) == 0 {
		return nil
	}
	var types []string
	for sc := range g {
		typ := s.cfg.Scopes.ResourceOf(sc)
		if typ == "" || !slices.Contains(granted, sc) {
			return fmt.Errorf("%w: %q is not a granted scope bound to a resource type", store.ErrInvalid, sc)
		}
		types = append(types, typ)
	}
	have, err := s.store.Resources(ctx, merchantID, s.cfg.ResourceTypes, types...)
	if err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	for sc, ids := range g {
		for _, id := range ids {
			if !slices.ContainsFunc(have[s.cfg.Scopes.ResourceOf(sc)], func(r store.Resource) bool { return r.ID == id }) {
				return fmt.Errorf("%w: %q is not one of the merchant's resources", store.ErrInvalid, id)
			}
		}
	}
	return nil
}

// maxAuthorizationDetails bounds the entries of authorization_details.
const maxAuthorizationDetails = 100

// parseAuthorizationDetails reads RFC 9396 authorization_details of an
// authorization request as enlace speaks them: entries {"type": a resource
// type, "actions": scopes (optional: every requested scope bound to the
// type), "identifier": one of the merchant's resources (optional: none is
// a request for all of them)}. It returns the resources asked for, by
// scope, which the consent page offers chosen (the merchant still
// decides), or the description of why the parameter is refused
// (invalid_authorization_details, RFC 9396 §5).
func (s *Server) parseAuthorizationDetails(raw string, scopes []string) (store.ResourceGrant, string) {
	if err := strictJSON([]byte(raw)); err != nil {
		return nil, "authorization_details is not valid JSON: " + err.Error()
	}
	var details []struct {
		Type       string   `json:"type"`
		Actions    []string `json:"actions"`
		Identifier string   `json:"identifier"`
	}
	if err := json.Unmarshal([]byte(raw), &details); err != nil {
		return nil, "authorization_details must be an array of objects with type, actions and identifier"
	}
	if len(details) == 0 || len(details) > maxAuthorizationDetails {
		return nil, fmt.Sprintf("authorization_details must hold 1 to %d entries", maxAuthorizationDetails)
	}
	var g store.ResourceGrant
	for _, d := range details {
		if _, ok := s.cfg.ResourceTypes.Lookup(d.Type); !ok {
			return nil, fmt.Sprintf("authorization_details: %q is not a type of resource enlace knows", d.Type)
		}
		actions := d.Actions
		if actions == nil {
			for _, sc := range scopes {
				if s.cfg.Scopes.ResourceOf(sc) == d.Type {
					actions = append(actions, sc)
				}
			}
		}
		for _, a := range actions {
			if !slices.Contains(scopes, a) || s.cfg.Scopes.ResourceOf(a) != d.Type {
				return nil, fmt.Sprintf("authorization_details: %q is not a requested scope on %s", a, d.Type)
			}
		}
		if d.Identifier == "" {
			continue
		}
		if len(d.Identifier) > store.MaxResourceID {
			return nil, "authorization_details: an identifier is too long"
		}
		for _, a := range actions {
			if g == nil {
				g = store.ResourceGrant{}
			}
			if !slices.Contains(g[a], d.Identifier) {
				g[a] = append(g[a], d.Identifier)
			}
		}
	}
	return g, ""
}

// oidcParams are an authorization request's OpenID Connect parameters.
type oidcParams struct {
	Nonce       string
	Prompt      []string
	MaxAge      *int64
	LoginHint   string
	HintSubject string
}

// maxLoginHint bounds login_hint: an email address is at most 254 bytes.
const maxLoginHint = 254

// parseOIDCParams checks nonce, prompt, max_age and login_hint; desc is
// why they are refused, "" when they are not.
func (s *Server) parseOIDCParams(q url.Values, scopes []string) (p oidcParams, desc string) {
	if slices.Contains(scopes, scopeOpenID) && s.keys == nil {
		return p, oidcOff().Description
	}
	p.Nonce, p.LoginHint = q.Get("nonce"), q.Get("login_hint")
	if len(p.Nonce) > store.MaxNonce {
		return p, fmt.Sprintf("nonce is longer than %d bytes", store.MaxNonce)
	}
	if len(p.LoginHint) > maxLoginHint {
		return p, fmt.Sprintf("login_hint is longer than %d bytes", maxLoginHint)
	}
	if raw, ok := q["prompt"]; ok {
		p.Prompt = strings.Fields(raw[0])
		if len(p.Prompt) == 0 {
			return p, "prompt is empty"
		}
		for _, v := range p.Prompt {
			if !slices.Contains([]string{"none", "login", "consent", "select_account"}, v) {
				return p, "prompt " + v + " is not supported (none, login, consent, select_account)"
			}
		}
		if slices.Contains(p.Prompt, "none") && len(p.Prompt) > 1 {
			return p, "prompt none cannot be combined with other values"
		}
	}
	if raw, ok := q["max_age"]; ok {
		n, err := strconv.ParseInt(raw[0], 10, 64)
		if err != nil || n < 0 || raw[0] == "" || raw[0][0] == '+' {
			return p, "max_age must be a whole number of seconds"
		}
		p.MaxAge = &n
	}
	return p, ""
}

// hintSubject verifies an authorization request's id_token_hint (an ID
// token this server issued to this app, expired or not) and returns its
// subject, or why it is refused.
func (s *Server) hintSubject(ctx context.Context, hint, clientID string) (string, string) {
	sub, aud, err := s.hintClaims(ctx, hint)
	if err != nil || !aud.Contains(clientID) {
		return "", "id_token_hint is not an ID token this server issued to this app"
	}
	return sub, ""
}

package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server/signing"
	"github.com/enlace-oauth/enlace/store"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at
// end_session_endpoint. Its rules, checked before anything is changed:
//   - id_token_hint, when sent, must be an ID token enlace signed with a
//     key it still publishes, for this issuer and an app that exists; its
//     expiry is not checked (§2: a hint may be sent after the token
//     expired);
//   - client_id, when sent with a hint, must be the hint's audience;
//   - post_logout_redirect_uri needs the app (client_id or the hint) and
//     must be one of the app's registered post_logout_redirect_uris,
//     compared as exact strings; state comes back with it;
//   - a refusal is an error page and never a redirect. The page that asks
//     the merchant is consent/oidc.go's.

// logoutParams are the parameters a logout request may carry; the
// confirmation form posts them again.
var logoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"}

// ParseLogout validates an RP-initiated logout request.
func (s *Server) ParseLogout(r *http.Request) (*consent.LogoutRequest, error) {
	bad := &consent.AuthorizeError{Message: "err_bad_logout"}
	if err := r.ParseForm(); err != nil {
		return nil, bad
	}
	params := url.Values{}
	for _, k := range logoutParams {
		v := r.Form[k]
		if len(v) > 1 {
			return nil, bad
		}
		if len(v) == 1 && v[0] != "" {
			if !utf8.ValidString(v[0]) {
				return nil, bad
			}
			params.Set(k, v[0])
		}
	}
	out := &consent.LogoutRequest{Params: params}
	clientID := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		sub, aud, err := s.verifyHint(r, hint)
		if err != nil {
			return nil, err
		}
		if clientID != "" && clientID != aud {
			return nil, bad
		}
		out.Subject, clientID = sub, aud
	}
	var app *store.App
	if clientID != "" {
		a, err := s.apps(r.Context(), clientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, &consent.AuthorizeError{Message: "err_unknown_client"}
		}
		if err != nil {
			return nil, fmt.Errorf("load app: %w", err)
		}
		app, out.AppName = a, a.Name
	}
	if to := params.Get("post_logout_redirect_uri"); to != "" {
		if app == nil || !app.AllowsPostLogoutRedirect(to) {
			return nil, &consent.AuthorizeError{Message: "err_logout_redirect"}
		}
		u, err := url.Parse(to)
		if err != nil {
			return nil, &consent.AuthorizeError{Message: "err_logout_redirect"}
		}
		if st := params.Get("state"); st != "" {
			q := u.Query()
			q.Set("state", st)
			u.RawQuery = q.Encode()
		}
		out.RedirectTo = u.String()
	}
	return out, nil
}

// verifyHint checks an id_token_hint and returns its subject and its
// audience (one app).
func (s *Server) verifyHint(r *http.Request, hint string) (sub, aud string, err error) {
	bad := &consent.AuthorizeError{Message: "err_bad_logout"}
	sub, auds, err := s.hintClaims(r.Context(), hint)
	if errors.Is(err, signing.ErrUnverified) || (err == nil && len(auds) != 1) {
		return "", "", bad
	}
	if err != nil {
		return "", "", err
	}
	return sub, auds[0], nil
}

// hintClaims verifies an id_token_hint — an ID token this server issued,
// expired or not — and returns its subject and audience. A hint that is
// not one (or OpenID Connect off) is signing.ErrUnverified.
func (s *Server) hintClaims(ctx context.Context, hint string) (string, jwt.Audience, error) {
	if s.keys == nil {
		return "", nil, signing.ErrUnverified
	}
	var c struct {
		Issuer   string       `json:"iss"`
		Subject  string       `json:"sub"`
		Audience jwt.Audience `json:"aud"`
	}
	if err := s.keys.Verify(ctx, hint, &c); err != nil {
		return "", nil, err
	}
	if c.Issuer != s.cfg.Issuer || c.Subject == "" {
		return "", nil, signing.ErrUnverified
	}
	return c.Subject, c.Audience, nil
}

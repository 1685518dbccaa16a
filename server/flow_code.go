package server

import (
	"context"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// exchangeCode runs the authorization_code grant (RFC 6749 §4.1.3) for an
// authenticated client. Its rules, checked in one atomic step by
// store/lua/exchange.lua:
//   - the code must be one this server issued, unexpired, to this client;
//   - redirect_uri, when sent, must be the authorization request's (it is
//     optional here: the code is bound to the registered URI it was sent
//     to, and PKCE binds it to the client that asked);
//   - a code_verifier must match the code's S256 challenge; a verifier
//     without a challenge, or a challenge without a verifier, is refused;
//   - with a DPoP proof (dpopbind.go), the access token is bound to its
//     key, and a public app's refresh token too;
//   - the first exchange wins; any later one is refused and revokes what
//     the code issued (RFC 6749 §4.1.2), since the code has leaked.
//
// go-oauth2's manager reads the code and deletes it in two steps, so two
// concurrent exchanges would both succeed there; it is not used.
func (s *Server) exchangeCode(ctx context.Context, app *store.App, tr *tokenRequest, jkt string) (*store.Issued, error) {
	if tr.Code == "" {
		return nil, apierror.Request("code is missing")
	}
	if tr.CodeVerifier != "" && !validVerifier(tr.CodeVerifier) {
		return nil, apierror.Request("code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, \"-\", \".\", \"_\" and \"~\" (RFC 7636 §4.1)")
	}
	return s.store.ExchangeCode(ctx, store.CodeExchange{
		Code:         tr.Code,
		ClientID:     app.ClientID,
		RedirectURI:  tr.RedirectURI,
		CodeVerifier: tr.CodeVerifier,
		// From the cached app: a code of a connection approved before an
		// app-wide revocation is refused.
		AppGeneration: app.Generation,
		// A redirect URI the app has removed stops working at once, for
		// the codes already issued to it too.
		AppRedirectURIs: app.RedirectURIs,
		// A public app's refresh token is bound to the key too: it has no
		// other proof of who presents it (RFC 9449 §5).
		JKT: jkt, BindRefresh: app.Public,
	})
}

// validVerifier reports whether v is a PKCE code verifier as RFC 7636
// §4.1 spells one: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '_', r == '~':
		default:
			return false
		}
	}
	return true
}

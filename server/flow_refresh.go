package server

import (
	"context"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// refresh runs the refresh_token grant (RFC 6749 §6) for an authenticated
// client. Its rules, checked in one atomic step by store/lua/refresh.lua:
//   - the refresh token must be its connection's current one, unexpired,
//     and issued to this client (go-oauth2 never checks the client);
//   - each refresh returns a new pair and kills the old one, atomically,
//     so concurrent refreshes cannot fork two live families;
//   - a scope parameter may only narrow the grant (invalid_scope if wider);
//   - the just-used token, presented again inside the retry window
//     (tokens.refresh_retry_window), gets the very same answer, for a
//     client that lost it; after the window, or any older token of the
//     connection, is a replay and revokes the connection (RFC 9700
//     §4.14.2);
//   - a disabled app's connections refresh nothing (authenticateClient);
//   - an app on the fapi2 profile keeps its refresh token: only the
//     access token is new (FAPI 2.0 §5.3.2.1 asks for no rotation);
//   - a refresh token bound to a DPoP key (a public app's) refreshes only
//     with a proof of that key, and is refused, without revoking
//     anything, otherwise; the new access token is bound to the
//     request's proof, if it has one (dpopbind.go).
func (s *Server) refresh(ctx context.Context, app *store.App, tr *tokenRequest, jkt string) (*store.Issued, error) {
	if tr.RefreshToken == "" {
		return nil, apierror.Request("refresh_token is missing")
	}
	var scopes []string
	if tr.Scope != "" {
		scopes = parseScopes(tr.Scope)
	}
	return s.store.Refresh(ctx, store.RefreshRequest{
		RefreshToken: tr.RefreshToken,
		ClientID:     app.ClientID,
		Scopes:       scopes,
		// From the cached app: a connection approved before an app-wide
		// revocation refreshes nothing.
		AppGeneration: app.Generation, AppScopes: app.Scopes,
		JKT: jkt, BindRefresh: app.Public, KeepRefresh: app.FAPI2,
	})
}

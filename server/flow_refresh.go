package server

import (
	"context"

	"github.com/enlace-oauth/enlace/store"
)

// refresh runs the refresh_token grant. Unlike go-oauth2's manager, the
// store checks that the caller is the app the token was issued to, rotates
// the pair atomically, and refuses a scope wider than the grant.
func (s *Server) refresh(ctx context.Context, app *store.App, tr *tokenRequest) (*store.Issued, error) {
	if tr.RefreshToken == "" {
		return nil, errInvalidRequest("refresh_token is missing")
	}
	var scopes []string
	if tr.Scope != "" {
		scopes = parseScopes(tr.Scope)
	}
	return s.store.Refresh(ctx, store.RefreshRequest{
		RefreshToken: tr.RefreshToken,
		ClientID:     app.ClientID,
		Scopes:       scopes,
	})
}

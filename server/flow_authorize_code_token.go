package server

import (
	"context"

	"github.com/enlace-oauth/enlace/store"
)

// exchangeCode runs the authorization_code grant. The code is consumed,
// and the token pair recorded, by one Lua script: go-oauth2's manager reads
// the code and deletes it in two steps, so two concurrent exchanges would
// both succeed there.
func (s *Server) exchangeCode(ctx context.Context, app *store.App, tr *tokenRequest) (*store.Issued, error) {
	if tr.Code == "" {
		return nil, errInvalidRequest("code is missing")
	}
	return s.store.ExchangeCode(ctx, store.CodeExchange{
		Code:         tr.Code,
		ClientID:     app.ClientID,
		RedirectURI:  tr.RedirectURI,
		CodeVerifier: tr.CodeVerifier,
	})
}

// Package resource is for the platform's resource servers: it checks
// enlace access tokens against the same Redis, so a revocation bites at
// once, and enforces scopes. See the package example.
package resource

import (
	"context"
	"errors"

	"github.com/enlace-oauth/enlace/store"
)

// ErrInactive means the token is unknown, malformed, expired, replaced or
// revoked (alone or with all of its app's), or its app is disabled. Callers must not tell these apart.
var ErrInactive = errors.New("token is not active")

// Tokens finds what a token grants; *store.Store is one. Both methods
// answer store.ErrNotFound for a token that is not live.
type Tokens interface {
	LookupAccess(ctx context.Context, token string) (*store.TokenInfo, error)
	LookupToken(ctx context.Context, token string) (*store.TokenInfo, error)
}

// Apps finds an app, to refuse the tokens of a disabled one;
// *store.AppCache is one. It answers store.ErrNotFound for an unknown app.
type Apps interface {
	Get(ctx context.Context, clientID string) (*store.App, error)
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	tokens Tokens
	apps   Apps
}

// NewVerifier returns a Verifier over tokens and apps: in a resource
// server, the store on enlace's Redis and an app cache over it (whose Run
// must be running for it to cache anything).
func NewVerifier(tokens Tokens, apps Apps) *Verifier {
	return &Verifier{tokens: tokens, apps: apps}
}

// VerifyAccess returns what a live access token grants, or ErrInactive.
// Any other error is a failure to reach Redis.
func (v *Verifier) VerifyAccess(ctx context.Context, token string) (*store.TokenInfo, error) {
	return v.check(ctx, v.tokens.LookupAccess, token)
}

// Verify is VerifyAccess for either an access or a refresh token.
func (v *Verifier) Verify(ctx context.Context, token string) (*store.TokenInfo, error) {
	return v.check(ctx, v.tokens.LookupToken, token)
}

func (v *Verifier) check(ctx context.Context, lookup func(context.Context, string) (*store.TokenInfo, error), token string) (*store.TokenInfo, error) {
	info, err := lookup(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInactive
	}
	if err != nil {
		return nil, err
	}
	app, err := v.apps.Get(ctx, info.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInactive
	}
	if err != nil {
		return nil, err
	}
	// A disabled app's tokens, and the tokens of connections made before
	// an app-wide revocation, are refused from the cached app alone: no
	// Redis round trip beyond the token's own.
	if app.Disabled || app.Revoked(info.AppGeneration) {
		return nil, ErrInactive
	}
	return info, nil
}

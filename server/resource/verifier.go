// Package resource is for the platform's resource servers: it checks
// enlace access tokens against the same Redis, so a revocation bites at
// once, and enforces scopes. See the package example.
package resource

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/enlace-oauth/enlace/server/dpop"

	"github.com/enlace-oauth/enlace/store"
)

// ErrInactive means the token is unknown, malformed, expired, replaced or
// revoked (alone or with all of its app's), or its app is disabled. Callers must not tell these apart.
var ErrInactive = errors.New("token is not active")

// Tokens finds what a token grants; *store.Store is one. The lookups
// answer store.ErrNotFound for a token that is not live.
type Tokens interface {
	LookupAccess(ctx context.Context, token string) (*store.TokenInfo, error)
	LookupToken(ctx context.Context, token string) (*store.TokenInfo, error)
	// LookupAccessProof is LookupAccess of a token presented with a DPoP
	// proof, and the proof's first use (jkt and jti, remembered for ttl)
	// in the same round trip: fresh is false for a replayed proof.
	LookupAccessProof(ctx context.Context, token, jkt, jti string, ttl time.Duration) (info *store.TokenInfo, fresh bool, err error)
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
	opts   Options
}

// Options tune how a Verifier checks DPoP requests (RFC 9449).
type Options struct {
	// DPoP checks the proofs; nil is a 60-second window, 5 seconds of
	// clock skew and no nonces.
	DPoP *dpop.Checker
	// BaseURL is the scheme and host clients address this resource server
	// by (https://api.example.com), which the proofs' htu must name.
	// Without it DPoP requests are refused: the request's own Host header
	// is the caller's to choose, and would let a proof made for another
	// server pass here (RFC 9449 §11.1).
	BaseURL string
}

// NewVerifier returns a Verifier over tokens and apps: in a resource
// server, the store on enlace's Redis and an app cache over it (whose Run
// must be running for it to cache anything).
func NewVerifier(tokens Tokens, apps Apps) *Verifier {
	return NewVerifierWith(tokens, apps, Options{})
}

// NewVerifierWith is NewVerifier with Options.
func NewVerifierWith(tokens Tokens, apps Apps, opts Options) *Verifier {
	if opts.DPoP == nil {
		opts.DPoP = &dpop.Checker{MaxAge: time.Minute, Skew: 5 * time.Second, Now: time.Now}
	}
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	return &Verifier{tokens: tokens, apps: apps, opts: opts}
}

// VerifyAccess returns what a live bearer access token grants, or
// ErrInactive: for a DPoP-bound token too, which is good only with a
// proof of its key (VerifyRequest checks one), so that a caller of this
// method cannot take a copied bound token. Any other error is a failure
// to reach Redis.
func (v *Verifier) VerifyAccess(ctx context.Context, token string) (*store.TokenInfo, error) {
	info, err := v.check(ctx, v.tokens.LookupAccess, token)
	if err == nil && info.JKT != "" {
		return nil, ErrInactive
	}
	return info, err
}

// Verify is VerifyAccess for either an access or a refresh token, bound
// ones included (with their JKT): it is for introspection, whose answer
// says which key a bound token needs, not for letting a request through.
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
	if _, err := v.live(ctx, info); err != nil {
		return nil, err
	}
	return info, nil
}

// live returns the token's app, refusing a token of a disabled app or of
// a connection that an app-wide revocation ended.
func (v *Verifier) live(ctx context.Context, info *store.TokenInfo) (*store.App, error) {
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
	return app, nil
}

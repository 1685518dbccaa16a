package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// Client authentication with a signed assertion, private_key_jwt (RFC
// 7523 §2.2, OpenID Connect Core §9). Its rules:
//   - client_assertion_type is urn:ietf:params:oauth:client-assertion-type:jwt-bearer,
//     and no secret (Basic or client_secret) comes with the assertion;
//   - the assertion is a JWT signed with one of the app's algorithms
//     (store.App.AssertionAlgsFor: no RS256 on fapi2) by one of the keys
//     the app registered, as jwks or at jwks_uri (fetched through
//     safefetch, https only and never to a private address, kept
//     clientKeysTTL, fetched again when a kid is not there);
//   - iss and sub are the client id (and client_id, when sent, too), aud
//     names the issuer (or the URL of the endpoint it is sent to), exp is
//     there and at most maxAssertionLife ahead, nbf and iat not ahead;
//   - jti is there and used once: a replay is refused on every instance
//     (store.ClaimAssertion) until the assertion expires;
//   - an app registered for private_key_jwt authenticates no other way,
//     and one that is not cannot send an assertion.
// Every refusal is invalid_client, as for a wrong secret.

// clientAssertionType is the one assertion type taken (RFC 7523 §2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// maxAssertionLife bounds how far ahead a client assertion's exp may be:
// its jti is remembered until then.
const maxAssertionLife = 10 * time.Minute

// assertionLeeway is the clock difference tolerated with a client.
const assertionLeeway = 30 * time.Second

// clientKeysTTL is how long a jwks_uri's keys are kept, and
// clientKeysRefetch how soon an unknown kid may fetch them again.
const (
	clientKeysTTL     = 5 * time.Minute
	clientKeysRefetch = 30 * time.Second
)

// clientKeys caches the key sets fetched from apps' jwks_uri.
type clientKeys struct {
	mu sync.Mutex
	m  map[string]fetchedKeys
}

type fetchedKeys struct {
	uri     string
	set     jose.JSONWebKeySet
	fetched time.Time
}

// assertionClient returns the client id an assertion names, unverified:
// enough to find the app whose keys verify it.
func assertionClient(assertion string) (string, error) {
	tok, err := jwt.ParseSigned(assertion, signatureAlgs(store.AssertionAlgs()))
	if err != nil {
		return "", err
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", err
	}
	if c.Subject == "" || c.Subject != c.Issuer {
		return "", errors.New("iss and sub must both be the client id")
	}
	return c.Subject, nil
}

func signatureAlgs(names []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(names))
	for i, n := range names {
		out[i] = jose.SignatureAlgorithm(n)
	}
	return out
}

// verifyAssertion checks a client assertion of app, presented at endpoint
// (a path), by the rules above; desc says why it is refused.
func (s *Server) verifyAssertion(ctx context.Context, app *store.App, assertion, endpoint string) (desc string, err error) {
	tok, perr := jwt.ParseSigned(assertion, signatureAlgs(app.AssertionAlgsFor()))
	if perr != nil {
		return "the client assertion is not a JWT signed with one of " + fmt.Sprint(app.AssertionAlgsFor()), nil
	}
	h := tok.Headers[0]
	if h.JSONWebKey != nil {
		return "the client assertion must not carry its key: it is verified with the app's registered keys", nil
	}
	keys, err := s.keysOf(ctx, app, h.KeyID)
	if err != nil {
		return "", err
	}
	var claims struct {
		jwt.Claims
	}
	verified := false
	for _, k := range keys {
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if tok.Claims(k.Key, &claims) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return "the client assertion's signature does not verify with any of the app's registered keys", nil
	}
	now := s.store.Now()
	c := claims.Claims
	switch {
	case c.Issuer != app.ClientID || c.Subject != app.ClientID:
		return "the client assertion's iss and sub must be the client id", nil
	case c.Expiry == nil:
		return "the client assertion has no exp", nil
	case c.Expiry.Time().After(now.Add(maxAssertionLife + assertionLeeway)):
		return fmt.Sprintf("the client assertion's exp is more than %s ahead", maxAssertionLife), nil
	case c.ID == "" || len(c.ID) > 256:
		return "the client assertion needs a jti of at most 256 bytes", nil
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Time: now}, assertionLeeway); err != nil {
		return "the client assertion is expired or not yet valid", nil
	}
	if !c.Audience.Contains(s.cfg.Issuer) && !c.Audience.Contains(s.cfg.Issuer+endpoint) {
		return "the client assertion's aud must be the issuer, " + s.cfg.Issuer, nil
	}
	fresh, err := s.store.ClaimAssertion(ctx, app.ClientID, c.ID, c.Expiry.Time().Add(assertionLeeway))
	if err != nil {
		return "", err
	}
	if !fresh {
		return "the client assertion was used before; sign a new one with a fresh jti", nil
	}
	return "", nil
}

// keysOf returns the app's registered public keys: its jwks, or its
// jwks_uri's as last fetched (again once they are old, or when kid is
// not among them and they were not fetched a moment ago).
func (s *Server) keysOf(ctx context.Context, app *store.App, kid string) ([]jose.JSONWebKey, error) {
	if app.JWKSURI == "" {
		set, err := app.ClientKeys()
		return set.Keys, err
	}
	now := s.store.Now()
	s.clientKeys.mu.Lock()
	got, ok := s.clientKeys.m[app.ClientID]
	s.clientKeys.mu.Unlock()
	fresh := ok && got.uri == app.JWKSURI && now.Sub(got.fetched) < clientKeysTTL
	missing := kid != "" && !slices.ContainsFunc(got.set.Keys, func(k jose.JSONWebKey) bool { return k.KeyID == kid })
	if fresh && !(missing && now.Sub(got.fetched) >= clientKeysRefetch) {
		return got.set.Keys, nil
	}
	body, _, err := s.fetch.Get(ctx, app.JWKSURI)
	if err != nil {
		s.log.WarnContext(ctx, "fetch jwks_uri", "client_id", app.ClientID, "err", err)
		if ok && got.uri == app.JWKSURI {
			// The keys fetched last still stand while the app's server
			// cannot be reached.
			return got.set.Keys, nil
		}
		return nil, nil
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		s.log.WarnContext(ctx, "jwks_uri is not a JWK Set", "client_id", app.ClientID)
		return nil, nil
	}
	// Only keys that could be registered verify: no private, symmetric
	// or weak key, however the app's server publishes it.
	set.Keys = slices.DeleteFunc(set.Keys, func(k jose.JSONWebKey) bool { return store.CheckClientKey(k) != nil })
	if len(set.Keys) > store.MaxClientKeys {
		set.Keys = set.Keys[:store.MaxClientKeys]
	}
	s.clientKeys.mu.Lock()
	if s.clientKeys.m == nil {
		s.clientKeys.m = map[string]fetchedKeys{}
	}
	s.clientKeys.m[app.ClientID] = fetchedKeys{uri: app.JWKSURI, set: set, fetched: now}
	s.clientKeys.mu.Unlock()
	return set.Keys, nil
}

// authenticateAssertion is authenticateClient for a request carrying a
// client assertion.
func (s *Server) authenticateAssertion(ctx context.Context, tr *tokenRequest, fail func(string) *apierror.Error) (*store.App, *apierror.Error) {
	if tr.ClientSecret != "" || tr.Basic {
		return nil, apierror.Request("use one client authentication method: a client assertion, or a secret")
	}
	if tr.AssertionType != clientAssertionType {
		return nil, fail("client_assertion_type must be " + clientAssertionType)
	}
	id, err := assertionClient(tr.Assertion)
	if err != nil {
		return nil, fail("the client assertion is not a signed JWT whose iss and sub are the client id")
	}
	if tr.ClientID != "" && tr.ClientID != id {
		return nil, fail("client_id is not the client assertion's sub")
	}
	app, err := s.apps(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fail("client authentication failed")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "load app", "err", err)
		return nil, apierror.Unavailable()
	}
	if app.Disabled {
		return nil, fail("the app is disabled")
	}
	if !app.UsesPrivateKeyJWT() {
		return nil, fail("this app is not registered for private_key_jwt")
	}
	desc, err := s.verifyAssertion(ctx, app, tr.Assertion, tr.Path)
	if err != nil {
		s.log.ErrorContext(ctx, "verify client assertion", "err", err)
		return nil, apierror.Unavailable()
	}
	if desc != "" {
		return nil, fail(desc)
	}
	tr.ClientID = id
	return app, nil
}

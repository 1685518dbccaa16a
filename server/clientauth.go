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
//     safefetch, https only and never to a private address, one fetch at
//     a time, kept clientKeysTTL, fetched again when a kid is not there);
//   - iss and sub are the client id (and client_id, when sent, too), aud
//     names the issuer (or the URL of the endpoint it is sent to, or at
//     PAR the token endpoint's; on fapi2 the issuer alone, as a string),
//     exp is there and at most maxAssertionLife ahead, nbf and iat not
//     ahead;
//   - jti is there and used once: a replay is refused on every instance
//     (store.ClaimAssertion) until the assertion expires, recorded once
//     the rest of the request has passed (claimClient);
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

// clientKeysTTL is how long a jwks_uri's keys are kept, clientKeysRefetch
// how soon an unknown kid (or a failed fetch) may fetch them again, and
// clientKeysStale how long they stand in while the app's server cannot be
// reached.
const (
	clientKeysTTL     = 5 * time.Minute
	clientKeysRefetch = 30 * time.Second
	clientKeysStale   = time.Hour
)

// clientKeys caches the key sets fetched from apps' jwks_uri.
type clientKeys struct {
	mu sync.Mutex
	m  map[string]fetchedKeys
}

type fetchedKeys struct {
	uri             string
	set             jose.JSONWebKeySet
	fetched, failed time.Time
	// inflight is closed when the fetch under way ends.
	inflight chan struct{}
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
// (a path), by the rules above; desc says why it is refused. It claims
// nothing: pending gets the jti, which claimClient records once the rest
// of the request has passed.
func (s *Server) verifyAssertion(ctx context.Context, app *store.App, assertion, endpoint string, pending *assertionClaim) (desc string, err error) {
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
	if !s.audienceOK(tok, c.Audience, app, endpoint) {
		return "the client assertion's aud must be the issuer, " + s.cfg.Issuer, nil
	}
	pending.jti, pending.until = c.ID, c.Expiry.Time().Add(assertionLeeway)
	return "", nil
}

// audienceOK applies the aud rules: on fapi2 the issuer alone, as a
// string (FAPI 2.0 §5.3.2.1, against audience injection); otherwise the
// issuer, the URL of the endpoint, or at PAR the token endpoint's too
// (RFC 9126 §2).
func (s *Server) audienceOK(tok *jwt.JSONWebToken, aud jwt.Audience, app *store.App, endpoint string) bool {
	if app.FAPI2 {
		var raw struct {
			Aud json.RawMessage `json:"aud"`
		}
		if tok.UnsafeClaimsWithoutVerification(&raw) != nil {
			return false
		}
		var one string
		return json.Unmarshal(raw.Aud, &one) == nil && one == s.cfg.Issuer
	}
	if aud.Contains(s.cfg.Issuer) || aud.Contains(s.cfg.Issuer+endpoint) {
		return true
	}
	return endpoint == parPath && aud.Contains(s.cfg.Issuer+"/oauth/token")
}

// assertionClaim is a verified assertion's jti, claimed (one use) once
// every other check of the request has passed.
type assertionClaim struct {
	jti   string
	until time.Time
}

// claimClient records the one use of the request's client assertion, if
// it had one; desc is why it is refused (a replay).
func (s *Server) claimClient(ctx context.Context, tr *tokenRequest) *apierror.Error {
	if tr.pending.jti == "" {
		return nil
	}
	fresh, err := s.store.ClaimAssertion(ctx, tr.ClientID, tr.pending.jti, tr.pending.until)
	if err != nil {
		s.log.ErrorContext(ctx, "claim client assertion", "err", err)
		return apierror.Unavailable()
	}
	if !fresh {
		return apierror.New(apierror.InvalidClient, "the client assertion was used before; sign a new one with a fresh jti")
	}
	tr.pending = assertionClaim{}
	return nil
}

// keysOf returns the app's registered public keys: its jwks, or its
// jwks_uri's as last fetched — again once they are clientKeysTTL old, or
// when kid is not among them and they are clientKeysRefetch old. One
// fetch per app at a time; a failed fetch is not tried again for
// clientKeysRefetch, and keys fetched longer than clientKeysStale ago
// are not used while the app's server cannot be reached, so that a key
// the app withdrew does not live on.
func (s *Server) keysOf(ctx context.Context, app *store.App, kid string) ([]jose.JSONWebKey, error) {
	if app.JWKSURI == "" {
		set, err := app.ClientKeys()
		return set.Keys, err
	}
	ck := &s.clientKeys
	for {
		now := s.store.Now()
		ck.mu.Lock()
		got, ok := ck.m[app.ClientID]
		if ok && got.uri != app.JWKSURI {
			got, ok = fetchedKeys{}, false
		}
		age := now.Sub(got.fetched)
		missing := kid != "" && !slices.ContainsFunc(got.set.Keys, func(k jose.JSONWebKey) bool { return k.KeyID == kid })
		usable := ok && !got.fetched.IsZero() && age < clientKeysStale
		switch {
		case ok && got.inflight != nil:
			// Another request is fetching them: wait for its result.
			wait := got.inflight
			ck.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case usable && age < clientKeysTTL && !(missing && age >= clientKeysRefetch),
			ok && now.Sub(got.failed) < clientKeysRefetch:
			ck.mu.Unlock()
			if !usable {
				return nil, nil
			}
			return got.set.Keys, nil
		}
		done := make(chan struct{})
		got.uri, got.inflight = app.JWKSURI, done
		if ck.m == nil {
			ck.m = map[string]fetchedKeys{}
		}
		ck.m[app.ClientID] = got
		ck.mu.Unlock()

		set, ferr := s.fetchClientKeys(ctx, app)
		ck.mu.Lock()
		got.inflight = nil
		if ferr != nil {
			got.failed = now
		} else {
			got.set, got.fetched, got.failed = set, now, time.Time{}
		}
		ck.m[app.ClientID] = got
		ck.mu.Unlock()
		close(done)
		if ferr != nil {
			if !got.fetched.IsZero() && now.Sub(got.fetched) < clientKeysStale {
				return got.set.Keys, nil
			}
			return nil, nil
		}
		return set.Keys, nil
	}
}

// fetchClientKeys fetches an app's jwks_uri through safefetch and keeps
// the keys that could have been registered.
func (s *Server) fetchClientKeys(ctx context.Context, app *store.App) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	body, _, err := s.fetch.Get(ctx, app.JWKSURI)
	if err != nil {
		s.log.WarnContext(ctx, "fetch jwks_uri", "client_id", app.ClientID, "err", err)
		return set, err
	}
	if err := json.Unmarshal(body, &set); err != nil {
		s.log.WarnContext(ctx, "jwks_uri is not a JWK Set", "client_id", app.ClientID)
		return set, fmt.Errorf("jwks_uri: %w", err)
	}
	// Only keys that could be registered verify: no private, symmetric
	// or weak key, however the app's server publishes it.
	set.Keys = slices.DeleteFunc(set.Keys, func(k jose.JSONWebKey) bool { return store.CheckClientKey(k) != nil })
	if len(set.Keys) > store.MaxClientKeys {
		set.Keys = set.Keys[:store.MaxClientKeys]
	}
	return set, nil
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
	desc, err := s.verifyAssertion(ctx, app, tr.Assertion, tr.Path, &tr.pending)
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

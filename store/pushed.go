package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pushed authorization requests (RFC 9126), and the one-use records of the
// proofs that come with sender-constrained tokens: DPoP proofs (RFC 9449)
// and client assertions (RFC 7523). Each is one key with a TTL, written
// with one command or one script, so every instance sees the same.

// RequestURIPrefix starts every request_uri this server hands out (RFC
// 9126 §2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// PushedArgs are the arguments of lua/par.lua.
type PushedArgs struct {
	Op       string `json:"op"`
	ClientID string `json:"client_id"`
	Params   string `json:"params,omitempty"`
	Now      Millis `json:"now"`
	TTL      Millis `json:"ttl"`
}

// PushedResult is the answer of lua/par.lua.
type PushedResult struct {
	verdict
	Params string `json:"params"`
}

var pushedScript = newScript[PushedArgs, PushedResult]("par", false)

// PushAuthorization keeps an app's authorization request (its parameters,
// as a URL query) for lifetime and returns the request_uri that stands for
// it. Only the digest of the request_uri is a key.
func (s *Store) PushAuthorization(ctx context.Context, clientID, params string, lifetime time.Duration) (string, error) {
	uri := RequestURIPrefix + NewSecret()
	_, err := pushedScript.run(ctx, s.rdb, []string{pushedKey(Digest(uri))},
		PushedArgs{Op: "push", ClientID: clientID, Params: params, Now: MillisOf(s.now()), TTL: Millis(lifetime.Milliseconds())})
	if err != nil {
		return "", fmt.Errorf("push authorization request: %w", err)
	}
	return uri, nil
}

// ClaimPushed returns the parameters of a pushed request for the app that
// pushed it, and gives it window to be decided in; ErrNotFound for a
// request_uri that is unknown, expired, another app's or decided already.
// Presenting it again before the decision (a reload) answers the same.
func (s *Store) ClaimPushed(ctx context.Context, requestURI, clientID string, window time.Duration) (string, error) {
	res, err := s.pushed(ctx, requestURI, PushedArgs{Op: "claim", ClientID: clientID, TTL: Millis(window.Milliseconds())})
	if err != nil {
		return "", err
	}
	return res.Params, nil
}

// ConsumePushed ends a claimed pushed request at the merchant's decision;
// ErrNotFound when it was decided already (or never claimed), so that one
// request_uri makes at most one code.
func (s *Store) ConsumePushed(ctx context.Context, requestURI, clientID string) error {
	_, err := s.pushed(ctx, requestURI, PushedArgs{Op: "consume", ClientID: clientID})
	return err
}

func (s *Store) pushed(ctx context.Context, requestURI string, a PushedArgs) (*PushedResult, error) {
	if !strings.HasPrefix(requestURI, RequestURIPrefix) || len(requestURI) > len(RequestURIPrefix)+64 {
		return nil, ErrNotFound
	}
	a.Now = MillisOf(s.now())
	res, err := pushedScript.run(ctx, s.rdb, []string{pushedKey(Digest(requestURI))}, a)
	if err != nil {
		return nil, fmt.Errorf("pushed authorization request: %w", err)
	}
	if res.Outcome != OutcomeOK {
		return nil, ErrNotFound
	}
	return res, nil
}

// ClaimProof records the first use of a DPoP proof (its key's thumbprint
// and its jti) for ttl, the time its iat keeps it acceptable; it reports
// false when the proof was seen before, on any instance. One SET NX.
func (s *Store) ClaimProof(ctx context.Context, jkt, jti string, ttl time.Duration) (bool, error) {
	return s.claimOnce(ctx, proofKey(jkt, jti), ttl, "claim DPoP proof")
}

// ProofArgs are the arguments of lua/proof.lua.
type ProofArgs struct {
	Digest string `json:"digest"`
	JKT    string `json:"jkt"`
	TTL    int64  `json:"ttl"`
}

// ProofResult is the answer of lua/proof.lua.
type ProofResult struct {
	Fields []string `json:"fields"`
	Fresh  bool     `json:"fresh"`
}

var proofScript = newScript[ProofArgs, ProofResult]("proof", false)

// LookupAccessProof is LookupAccess of a DPoP-bound token with the one
// use of the proof that came with it (its key's thumbprint and jti,
// remembered for ttl), in one script: a DPoP check costs the round trip
// of a bearer one, and a proof is recorded only for a live token bound to
// its key. fresh is false for a replayed proof (or one not recorded).
func (s *Store) LookupAccessProof(ctx context.Context, token, jkt, jti string, ttl time.Duration) (info *TokenInfo, fresh bool, err error) {
	connID, ok := ParseCredential(KindAccess, token)
	if !ok {
		return nil, false, ErrNotFound
	}
	res, err := proofScript.run(ctx, s.rdb, []string{connKey(connID), proofKeyIn(connID, jkt, jti)},
		ProofArgs{Digest: Digest(token), JKT: jkt, TTL: ttl.Milliseconds()})
	if err != nil {
		return nil, false, fmt.Errorf("look up DPoP token: %w", err)
	}
	if len(res.Fields) != len(accessLookup) {
		return nil, false, fmt.Errorf("look up DPoP token: %d fields", len(res.Fields))
	}
	v := make([]any, len(res.Fields))
	for i, f := range res.Fields {
		v[i] = f
	}
	info, err = s.tokenInfo(KindAccess, token, connID, v)
	return info, res.Fresh, err
}

// ClaimAssertion records the first use of a client assertion's jti by the
// app until the assertion expires; false when it was used before (RFC 7523
// §3 item 7).
func (s *Store) ClaimAssertion(ctx context.Context, clientID, jti string, until time.Time) (bool, error) {
	ttl := until.Sub(s.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	return s.claimOnce(ctx, assertionKey(clientID, Digest(jti)), ttl, "claim client assertion")
}

// NonceSecret returns the secret every instance derives its DPoP nonces
// from (RFC 9449 §8), made by whichever instance asks first. It is no
// credential: a nonce only proves freshness, so it is kept as it is.
func (s *Store) NonceSecret(ctx context.Context) ([]byte, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if err := s.rdb.SetNX(ctx, nonceSecretKey, b, 0).Err(); err != nil {
		return nil, fmt.Errorf("DPoP nonce secret: %w", err)
	}
	v, err := s.rdb.Get(ctx, nonceSecretKey).Bytes()
	if errors.Is(err, redis.Nil) || (err == nil && len(v) < 32) {
		return nil, fmt.Errorf("DPoP nonce secret: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("DPoP nonce secret: %w", err)
	}
	return v, nil
}

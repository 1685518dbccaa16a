// Package dpop checks DPoP proofs (RFC 9449): the JWT a client signs with
// its own key for each request, which binds enlace's tokens to that key so
// that a copied token is worthless without it. It verifies one proof
// against one request; what must be remembered across requests (the jti
// seen, RFC 9449 §11.1) is the caller's, in Redis, so that a replay is
// refused on every instance.
package dpop

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// Algs are the algorithms a proof may be signed with, as the metadata's
// dpop_signing_alg_values_supported lists them.
func Algs() []string { return []string{"ES256", "PS256", "RS256", "EdDSA"} }

// AlgsHeader is Algs as a challenge's algs parameter spells them.
func AlgsHeader() string { return strings.Join(Algs(), " ") }

var algs = []jose.SignatureAlgorithm{jose.ES256, jose.PS256, jose.RS256, jose.EdDSA}

// MaxProof bounds a DPoP header; a proof with an RSA 4096 key is about 1.5 KiB.
const MaxProof = 8 << 10

// maxJTI bounds a proof's jti, which is kept (as a digest) for the window.
const maxJTI = 256

// Proof is a verified DPoP proof.
type Proof struct {
	// JKT is the JWK SHA-256 thumbprint of the proof's key (RFC 7638),
	// base64url: what a token bound to the key records (cnf.jkt).
	JKT string
	// JTI is the proof's unique id, for the replay check.
	JTI string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
	// Alg is the proof's signature algorithm.
	Alg string
}

// Error is a refused proof: invalid_dpop_proof, or use_dpop_nonce when the
// proof lacks the nonce the server asks for.
type Error struct {
	Nonce       bool
	Description string
}

func (e *Error) Error() string { return "dpop: " + e.Description }

func invalid(format string, args ...any) *Error {
	return &Error{Description: fmt.Sprintf(format, args...)}
}

// Checker verifies proofs. Its zero value is not usable; make one with
// its fields set. It is safe for concurrent use.
type Checker struct {
	// MaxAge is how old a proof's iat may be; Skew how far ahead of this
	// server's clock.
	MaxAge, Skew time.Duration
	// Nonces, when set, makes every proof carry one of its current nonces.
	Nonces *Nonces
	// Now is the clock.
	Now func() time.Time
}

// Window is how long a proof stays acceptable, and so how long its jti
// must be remembered.
func (c *Checker) Window() time.Duration { return c.MaxAge + c.Skew }

// Request is what a proof must match.
type Request struct {
	// Method and URL are the request's (htm, htu); URL is the one the
	// client addressed, without query or fragment.
	Method, URL string
	// AccessToken, at a resource, is the token the proof must name (ath);
	// "" at the token endpoint, where a proof must not name one.
	AccessToken string
	// NoRS256 refuses RS256 proofs (FAPI 2.0 §5.4.1 forbids PKCS#1 v1.5
	// signatures), for an app on the fapi2 profile.
	NoRS256 bool
}

// Check verifies one DPoP header value against the request: a JWS with
// typ dpop+jwt, signed by the public JWK in its header with one of Algs,
// whose htm, htu, iat, ath and (with Nonces) nonce match. Any refusal is
// an *Error.
func (c *Checker) Check(ctx context.Context, header string, req Request) (*Proof, error) {
	if header == "" || len(header) > MaxProof {
		return nil, invalid("the DPoP header is empty or too large")
	}
	jws, err := jose.ParseSignedCompact(header, algs)
	if err != nil {
		return nil, invalid("the DPoP proof is not a compact JWS signed with one of %s", AlgsHeader())
	}
	if len(jws.Signatures) != 1 {
		return nil, invalid("the DPoP proof must have one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "dpop+jwt" {
		return nil, invalid("the DPoP proof's typ must be dpop+jwt")
	}
	if req.NoRS256 && h.Algorithm == string(jose.RS256) {
		return nil, invalid("this app's DPoP proofs must be signed with ES256, PS256 or EdDSA (FAPI 2.0)")
	}
	jwk := h.JSONWebKey
	if jwk == nil {
		return nil, invalid("the DPoP proof has no jwk header")
	}
	if err := store.CheckClientKey(*jwk); err != nil {
		return nil, invalid("the DPoP proof's jwk: %v", err)
	}
	if jwk.Algorithm != "" && jwk.Algorithm != h.Algorithm {
		return nil, invalid("the DPoP proof's jwk is for %s, not %s", jwk.Algorithm, h.Algorithm)
	}
	// The claims are checked before the signature: a proof for another
	// request, or a stale one, costs no verification.
	var claims struct {
		JTI   string      `json:"jti"`
		HTM   string      `json:"htm"`
		HTU   string      `json:"htu"`
		IAT   json.Number `json:"iat"`
		ATH   *string     `json:"ath"`
		Nonce *string     `json:"nonce"`
	}
	dec := json.NewDecoder(bytes.NewReader(jws.UnsafePayloadWithoutVerification()))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, invalid("the DPoP proof's claims are not a JSON object")
	}
	switch {
	case claims.JTI == "" || len(claims.JTI) > maxJTI:
		return nil, invalid("the DPoP proof needs a jti of at most %d bytes", maxJTI)
	case claims.HTM != req.Method:
		return nil, invalid("the DPoP proof's htm is not this request's method (%s)", req.Method)
	case !sameURL(claims.HTU, req.URL):
		return nil, invalid("the DPoP proof's htu is not this request's URL (%s)", req.URL)
	}
	iat, err := claims.IAT.Float64()
	if err != nil {
		return nil, invalid("the DPoP proof's iat must be a number of seconds")
	}
	now := c.Now()
	issued := time.Unix(int64(iat), 0)
	if issued.Before(now.Add(-c.MaxAge)) || issued.After(now.Add(c.Skew)) {
		return nil, invalid("the DPoP proof's iat is outside the accepted window (%s old at most)", c.MaxAge)
	}
	switch {
	case req.AccessToken == "" && claims.ATH != nil:
		return nil, invalid("a DPoP proof at the token endpoint has no ath")
	case req.AccessToken != "" && (claims.ATH == nil || *claims.ATH != ATH(req.AccessToken)):
		return nil, invalid("the DPoP proof's ath is not the hash of this access token")
	}
	if c.Nonces != nil {
		ok := false
		if claims.Nonce != nil {
			if ok, err = c.Nonces.Valid(ctx, *claims.Nonce, now); err != nil {
				return nil, err
			}
		}
		if !ok {
			return nil, &Error{Nonce: true, Description: "the DPoP proof must carry the nonce of the DPoP-Nonce header"}
		}
	}
	if _, err := jws.Verify(jwk); err != nil {
		return nil, invalid("the DPoP proof's signature does not verify with its jwk")
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, invalid("the DPoP proof's jwk has no thumbprint")
	}
	return &Proof{JKT: base64.RawURLEncoding.EncodeToString(tp), JTI: claims.JTI, IssuedAt: issued, Alg: h.Algorithm}, nil
}

// ATH is the ath of a proof for accessToken: the base64url SHA-256 of it.
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sameURL compares a proof's htu with the request's URL as RFC 9449 §4.3
// asks: without query and fragment, after RFC 3986 §6's syntax-based
// normalisation (case of scheme and host, default ports).
func sameURL(htu, want string) bool {
	a, err := url.Parse(htu)
	if err != nil || !a.IsAbs() || a.User != nil {
		return false
	}
	b, err := url.Parse(want)
	if err != nil {
		return false
	}
	norm := func(u *url.URL) string {
		scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
		port := u.Port()
		if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
			port = ""
		}
		if port != "" {
			host += ":" + port
		}
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		return scheme + "://" + host + path
	}
	return norm(a) == norm(b)
}

// Nonces are the server-provided nonces of RFC 9449 §8, the same on every
// instance without a shared write per nonce: a nonce is a time step and
// its HMAC under a secret every instance reads from Redis
// (store.NonceSecret). The current and the previous step's are accepted,
// so a nonce lives one to two steps.
type Nonces struct {
	load func(context.Context) ([]byte, error)
	step time.Duration

	mu     sync.Mutex
	secret []byte
}

// NewNonces makes nonces that change every step, over the secret load
// returns (read once, at the first use that succeeds).
func NewNonces(load func(context.Context) ([]byte, error), step time.Duration) *Nonces {
	return &Nonces{load: load, step: step}
}

func (n *Nonces) key(ctx context.Context) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.secret == nil {
		s, err := n.load(ctx)
		if err != nil {
			return nil, fmt.Errorf("dpop nonces: %w", err)
		}
		n.secret = s
	}
	return n.secret, nil
}

// Current is the nonce to hand out now.
func (n *Nonces) Current(ctx context.Context, now time.Time) (string, error) {
	k, err := n.key(ctx)
	if err != nil {
		return "", err
	}
	return nonceAt(k, now.UnixNano()/int64(n.step)), nil
}

func nonceAt(key []byte, i int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	m := hmac.New(sha256.New, key)
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(append(b[:], m.Sum(nil)[:16]...))
}

// Valid reports whether nonce is the current or the previous step's.
func (n *Nonces) Valid(ctx context.Context, nonce string, now time.Time) (bool, error) {
	k, err := n.key(ctx)
	if err != nil {
		return false, err
	}
	i := now.UnixNano() / int64(n.step)
	for _, j := range []int64{i, i - 1} {
		if hmac.Equal([]byte(nonce), []byte(nonceAt(k, j))) {
			return true, nil
		}
	}
	return false, nil
}

// Refusal is the answer to a proof Check refused: invalid_dpop_proof, or
// use_dpop_nonce with the nonce to send again with (DPoPNonce). It is nil
// when err is no refusal (the nonces' secret could not be read), which
// the caller answers as unavailable. The status is the token endpoint's
// (400); a resource sets its own.
func (c *Checker) Refusal(ctx context.Context, err error) *apierror.Error {
	pe, ok := AsError(err)
	if !ok {
		return nil
	}
	if !pe.Nonce {
		return apierror.New(apierror.InvalidDPoPProof, pe.Description)
	}
	e := apierror.New(apierror.UseDPoPNonce, pe.Description)
	e.DPoPNonce, _ = c.Nonce(ctx)
	return e
}

// Nonce is the nonce to hand out now, "" when nonces are off.
func (c *Checker) Nonce(ctx context.Context) (string, error) {
	if c.Nonces == nil {
		return "", nil
	}
	return c.Nonces.Current(ctx, c.Now())
}

// AsError returns err as an *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

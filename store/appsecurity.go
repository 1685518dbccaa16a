package store

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// An app's security settings beyond the Multivende defaults (issue 19):
// pushed authorization requests (RFC 9126), DPoP-bound tokens (RFC 9449),
// client authentication with a signed assertion (private_key_jwt, RFC
// 7523) and the FAPI 2.0 Security Profile, which turns them all on. Each
// is a switch of one app; an app without any works as it always did.

// AuthPrivateKeyJWT is the token_endpoint_auth_method of an app that
// authenticates with a JWT signed by one of its registered keys (RFC 7523
// §2.2, OpenID Connect Core §9) instead of a secret.
const AuthPrivateKeyJWT = "private_key_jwt"

// The algorithms of a client assertion. FAPI 2.0 (§5.4) leaves out RS256;
// an app on the fapi2 profile is held to FAPI2AssertionAlgs.
const (
	AlgPS256 = "PS256"
	AlgEdDSA = "EdDSA"
)

// AssertionAlgs returns the algorithms a client assertion may be signed with.
func AssertionAlgs() []string { return []string{AlgRS256, AlgPS256, AlgES256, AlgEdDSA} }

// FAPI2AssertionAlgs returns the algorithms FAPI 2.0 allows for a client
// assertion.
func FAPI2AssertionAlgs() []string { return []string{AlgPS256, AlgES256, AlgEdDSA} }

// MaxRSABits bounds an RSA key of a client (registered, fetched or in a
// DPoP proof).
const MaxRSABits = 4096

// MaxClientKeys bounds the keys of an app's registered JWK Set, and
// MaxJWKS the size of the set as JSON.
const (
	MaxClientKeys = 10
	MaxJWKS       = 16 << 10
)

// FAPI2CodeLifetime is the longest an authorization code of an app on the
// fapi2 profile lives (FAPI 2.0 Security Profile §5.3.2.1).
const FAPI2CodeLifetime = 60e9

// PARRequired reports whether the app's authorization requests must be
// pushed first (RFC 9126 §6): it asked for it, or it is on fapi2.
func (a *App) PARRequired() bool { return a.RequirePAR || a.FAPI2 }

// DPoPRequired reports whether every token request of the app must carry
// a DPoP proof, so that its access tokens are all bound to a key (RFC
// 9449 dpop_bound_access_tokens): it asked for it, or it is on fapi2.
func (a *App) DPoPRequired() bool { return a.RequireDPoP || a.FAPI2 }

// UsesPrivateKeyJWT reports whether the app authenticates with a signed
// assertion rather than a secret.
func (a *App) UsesPrivateKeyJWT() bool { return a.AuthMethod == AuthPrivateKeyJWT }

// AuthMethodName is the app's token_endpoint_auth_method as RFC 7591 names
// it: none for a public app, private_key_jwt, or client_secret_basic (which
// stands for the secret sent either way).
func (a *App) AuthMethodName() string {
	switch {
	case a.Public:
		return "none"
	case a.UsesPrivateKeyJWT():
		return AuthPrivateKeyJWT
	}
	return "client_secret_basic"
}

// AssertionAlgsFor returns the algorithms the app's client assertions may
// be signed with.
func (a *App) AssertionAlgsFor() []string {
	if a.FAPI2 {
		return FAPI2AssertionAlgs()
	}
	return AssertionAlgs()
}

// ClientKeys returns the app's registered public keys (its jwks); none
// when it registered a jwks_uri instead, whose keys are fetched.
func (a *App) ClientKeys() (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if a.JWKS == "" {
		return set, nil
	}
	if err := json.Unmarshal([]byte(a.JWKS), &set); err != nil {
		return set, fmt.Errorf("decode app %s jwks: %w", a.ClientID, err)
	}
	return set, nil
}

// Security is an app's security settings as one value, for validation.
type Security struct {
	RequirePAR, RequireDPoP, FAPI2 bool
	// AuthMethod is "" (a secret, or none for a public app) or
	// AuthPrivateKeyJWT.
	AuthMethod string
	// JWKS is a JWK Set of public keys, as JSON; JWKSURI where one is
	// fetched. With private_key_jwt exactly one is set.
	JWKS, JWKSURI string
}

// ValidateSecurity reports whether s may be the security settings of an
// app that is public (or not) and first-party (or not). The JWK Set comes
// back normalised (compact JSON of its keys).
func ValidateSecurity(s Security, public, firstParty bool) (string, error) {
	s = s.trimmed()
	switch s.AuthMethod {
	case "", AuthPrivateKeyJWT:
	default:
		return "", fmt.Errorf("%w: client authentication method %q is not supported (the secret, or %s)", ErrInvalid,
			s.AuthMethod, AuthPrivateKeyJWT)
	}
	if s.AuthMethod == AuthPrivateKeyJWT {
		switch {
		case public:
			return "", fmt.Errorf("%w: a public app has no keys to sign with; private_key_jwt is for confidential apps", ErrInvalid)
		case s.JWKS == "" && s.JWKSURI == "":
			return "", fmt.Errorf("%w: private_key_jwt needs the app's public keys: a jwks or a jwks_uri", ErrInvalid)
		case s.JWKS != "" && s.JWKSURI != "":
			return "", fmt.Errorf("%w: give the app's keys as a jwks or a jwks_uri, not both", ErrInvalid)
		}
	} else if s.JWKS != "" || s.JWKSURI != "" {
		return "", fmt.Errorf("%w: a jwks or jwks_uri is only used with private_key_jwt", ErrInvalid)
	}
	if s.JWKSURI != "" {
		if err := validateURI("jwks_uri", s.JWKSURI); err != nil {
			return "", err
		}
		if !strings.HasPrefix(s.JWKSURI, "https://") {
			// It is fetched from the app's server (safefetch), which takes
			// https only: a loopback http URI would verify nothing.
			return "", fmt.Errorf("%w: jwks_uri must use https, even on loopback", ErrInvalid)
		}
	}
	jwks := ""
	if s.JWKS != "" {
		var err error
		if jwks, err = normalizeJWKS(s.JWKS); err != nil {
			return "", err
		}
	}
	if s.FAPI2 {
		switch {
		case public:
			return "", fmt.Errorf("%w: FAPI 2.0 is for confidential apps", ErrInvalid)
		case firstParty:
			return "", fmt.Errorf("%w: FAPI 2.0 forbids the password grant, which a first-party app exists for", ErrInvalid)
		case s.AuthMethod != AuthPrivateKeyJWT:
			return "", fmt.Errorf("%w: FAPI 2.0 needs private_key_jwt client authentication, with a jwks or a jwks_uri", ErrInvalid)
		}
	}
	return jwks, nil
}

// normalizeJWKS checks a registered JWK Set: at most MaxClientKeys public
// keys (RSA of 2048 to 4096 bits, EC P-256, Ed25519), each with an
// algorithm, when it names one, among AssertionAlgs, and no two with the
// same key id.
func normalizeJWKS(raw string) (string, error) {
	if len(raw) > MaxJWKS {
		return "", fmt.Errorf("%w: the jwks is larger than %d bytes", ErrInvalid, MaxJWKS)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return "", fmt.Errorf("%w: the jwks is not a JWK Set: %v", ErrInvalid, err)
	}
	if len(set.Keys) == 0 || len(set.Keys) > MaxClientKeys {
		return "", fmt.Errorf("%w: the jwks must hold 1 to %d keys", ErrInvalid, MaxClientKeys)
	}
	var kids []string
	for i, k := range set.Keys {
		if err := CheckClientKey(k); err != nil {
			return "", fmt.Errorf("%w: key %d of the jwks: %v", ErrInvalid, i+1, err)
		}
		if k.KeyID != "" {
			if slices.Contains(kids, k.KeyID) {
				return "", fmt.Errorf("%w: the jwks has two keys with kid %q", ErrInvalid, k.KeyID)
			}
			kids = append(kids, k.KeyID)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return "", fmt.Errorf("encode jwks: %w", err)
	}
	return string(b), nil
}

// CheckClientKey reports why k cannot verify an app's client assertions:
// a private key, a symmetric one, a weak one, or one whose use or
// algorithm is not a signature's. The keys of a fetched jwks_uri are held
// to it too.
func CheckClientKey(k jose.JSONWebKey) error {
	if _, symmetric := k.Key.([]byte); symmetric || (k.Valid() && !k.IsPublic()) {
		return fmt.Errorf("a private or symmetric key; register only the public half")
	}
	if !k.Valid() {
		return fmt.Errorf("not a valid key")
	}
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("use %q is not sig", k.Use)
	}
	if k.Algorithm != "" && !slices.Contains(AssertionAlgs(), k.Algorithm) {
		return fmt.Errorf("algorithm %q is not one of %s", k.Algorithm, strings.Join(AssertionAlgs(), ", "))
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		// The upper bound and the usual exponent keep a verification
		// cheap: a 16384-bit key with a large exponent costs a server tens
		// of milliseconds, and anyone can send a DPoP proof.
		if bits := key.N.BitLen(); bits < 2048 || bits > MaxRSABits {
			return fmt.Errorf("an RSA key of %d bits (2048 to %d)", bits, MaxRSABits)
		}
		if key.E != 65537 {
			return fmt.Errorf("an RSA key whose exponent is not 65537")
		}
	case *ecdsa.PublicKey:
		if key.Curve != elliptic.P256() {
			return fmt.Errorf("an EC key on a curve other than P-256")
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("key type not supported (RSA, EC P-256 or Ed25519)")
	}
	return nil
}

// trimmed is s without the spaces around its strings.
func (s Security) trimmed() Security {
	s.AuthMethod, s.JWKS, s.JWKSURI = strings.TrimSpace(s.AuthMethod), strings.TrimSpace(s.JWKS), strings.TrimSpace(s.JWKSURI)
	return s
}

// setSecurity puts validated settings on the app; jwks is the normalised
// set ValidateSecurity returned.
func (a *App) setSecurity(s Security, jwks string) {
	s = s.trimmed()
	a.RequirePAR, a.RequireDPoP, a.FAPI2 = s.RequirePAR, s.RequireDPoP, s.FAPI2
	a.AuthMethod, a.JWKS, a.JWKSURI = s.AuthMethod, jwks, s.JWKSURI
}

// Security returns the app's settings as one value.
func (a *App) Security() Security {
	return Security{RequirePAR: a.RequirePAR, RequireDPoP: a.RequireDPoP, FAPI2: a.FAPI2, AuthMethod: a.AuthMethod,
		JWKS: a.JWKS, JWKSURI: a.JWKSURI}
}

// securityFields are the app hash's fields of its security settings.
func securityFields(a *App) map[string]string {
	return map[string]string{"require_par": boolField(a.RequirePAR), "require_dpop": boolField(a.RequireDPoP),
		"fapi2": boolField(a.FAPI2), "auth_method": a.AuthMethod, "jwks": a.JWKS, "jwks_uri": a.JWKSURI}
}

// SecurityChanges sets on u the security settings sec when they differ
// from the app's, compared as the store keeps them (trimmed, the JWK Set
// normalised), and reports whether they do. All are set together, since
// UpdateApp checks them whole. Changes leaves them out: an edit that
// replaces a registration whole (the portal's form, an RFC 7592 PUT)
// calls both.
func (a *App) SecurityChanges(u *AppUpdate, sec Security) bool {
	sec = sec.trimmed()
	if jwks, err := ValidateSecurity(sec, a.Public, a.FirstParty); err == nil {
		sec.JWKS = jwks
	}
	if sec == a.Security() {
		return false
	}
	u.RequirePAR, u.RequireDPoP, u.FAPI2 = &sec.RequirePAR, &sec.RequireDPoP, &sec.FAPI2
	u.AuthMethod, u.JWKS, u.JWKSURI = &sec.AuthMethod, &sec.JWKS, &sec.JWKSURI
	return true
}

// security is the app's settings with u's changes, and whether u changes
// any.
func (u AppUpdate) security(a *App) (Security, bool) {
	s, changed := a.Security(), false
	for _, f := range []struct {
		v   *bool
		dst *bool
	}{{u.RequirePAR, &s.RequirePAR}, {u.RequireDPoP, &s.RequireDPoP}, {u.FAPI2, &s.FAPI2}} {
		if f.v != nil {
			*f.dst, changed = *f.v, true
		}
	}
	for _, f := range []struct {
		v   *string
		dst *string
	}{{u.AuthMethod, &s.AuthMethod}, {u.JWKS, &s.JWKS}, {u.JWKSURI, &s.JWKSURI}} {
		if f.v != nil {
			*f.dst, changed = strings.TrimSpace(*f.v), true
		}
	}
	return s, changed
}

package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"
)

// Kind is the type prefix of an opaque credential.
type Kind string

// The credential kinds enlace issues.
const (
	KindCode    Kind = "ac-"
	KindAccess  Kind = "at-"
	KindRefresh Kind = "rt-"
)

// randomBytes is the entropy of every generated credential: 256 bits.
const randomBytes = 32

// NewID returns a fresh random identifier (a UUID v4 string) for merchants,
// apps, connections and token records.
func NewID() string { return uuid.NewString() }

// NewSecret returns 256 random bits, base64url-encoded without padding.
func NewSecret() string {
	b := make([]byte, randomBytes)
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewCredential mints an opaque credential of the given kind for a
// connection: the prefix, the connection id (so the store can find the
// connection's hash slot without a lookup) and 256 random bits.
func NewCredential(kind Kind, connectionID string) string {
	return string(kind) + connectionID + "." + NewSecret()
}

// ParseCredential splits a credential into its connection id. It reports
// false for anything that is not shaped like a credential of that kind; the
// caller then answers as for an unknown credential without touching Redis.
// The connection id is only a routing hint: the digest of the whole string
// must still match what the connection stored.
func ParseCredential(kind Kind, s string) (connectionID string, ok bool) {
	rest, found := strings.CutPrefix(s, string(kind))
	if !found {
		return "", false
	}
	id, random, found := strings.Cut(rest, ".")
	if !found || len(random) != base64.RawURLEncoding.EncodedLen(randomBytes) {
		return "", false
	}
	if err := uuid.Validate(id); err != nil || len(id) != 36 {
		return "", false
	}
	return id, true
}

// Digest is the only form in which a credential or app secret is stored:
// the hex SHA-256 of the whole string. Credentials carry 256 random bits, so
// a fast hash is enough; human-chosen passwords use argon2id instead.
func Digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// DigestEqual reports in constant time whether secret hashes to digest.
func DigestEqual(secret, digest string) bool {
	return subtle.ConstantTimeCompare([]byte(Digest(secret)), []byte(digest)) == 1
}

// S256 is the PKCE transform of a code verifier (RFC 7636 §4.2).
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

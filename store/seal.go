package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// The answer to a refresh is kept for a short retry window so that a client
// that lost it can ask again with the same refresh token and get the same
// pair. The stored copy is sealed with AES-256-GCM under a key derived from
// that refresh token, which Redis never holds (only its SHA-256, from which
// the HMAC key cannot be derived): a reader of Redis cannot open it.

const sealLabel = "enlace/refresh-retry/v1"

// sealKey derives the sealing key from the token as HMAC's message, not its
// key: HMAC hashes a key longer than a block (as tokens are) down to its
// SHA-256, which is the digest Redis stores.
func sealKey(token string) []byte {
	m := hmac.New(sha256.New, []byte(sealLabel))
	m.Write([]byte(token))
	return m.Sum(nil)
}

func newGCM(token string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(sealKey(token))
	if err != nil {
		return nil, fmt.Errorf("seal cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal encrypts plaintext for whoever holds token.
func seal(token string, plaintext []byte) (string, error) {
	aead, err := newGCM(token)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, plaintext, []byte(sealLabel))), nil
}

// unseal reverses seal.
func unseal(token, sealed string) ([]byte, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("unseal: %w", err)
	}
	aead, err := newGCM(token)
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize() {
		return nil, errors.New("unseal: too short")
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(sealLabel))
	if err != nil {
		return nil, fmt.Errorf("unseal: %w", err)
	}
	return pt, nil
}

// CanSeal reports whether the store has encryption.key, without which
// webhook secrets and ID-token signing keys cannot be stored.
func (s *Store) CanSeal() bool { return len(s.encryptionKey) > 0 }

// atRestAEAD is AES-256-GCM under encryption.key: for what enlace must
// read back (webhook signing secrets, ID-token signing keys), which a
// reader of Redis must not.
func (s *Store) atRestAEAD() (cipher.AEAD, error) {
	if len(s.encryptionKey) == 0 {
		return nil, ErrNoEncryptionKey
	}
	block, err := aes.NewCipher(s.encryptionKey)
	if err != nil {
		return nil, fmt.Errorf("encryption.key cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealAtRest seals plaintext under encryption.key; label (the purpose
// and the owner's id) is the additional data, so that a sealed value
// copied to another record does not open.
func (s *Store) sealAtRest(label string, plaintext []byte) (string, error) {
	aead, err := s.atRestAEAD()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, plaintext, []byte(label))), nil
}

// openAtRest reverses sealAtRest.
func (s *Store) openAtRest(label, sealed string) ([]byte, error) {
	aead, err := s.atRestAEAD()
	if err != nil {
		return nil, err
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, errors.New("not a sealed value")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(label))
	if err != nil {
		// The key changed, or the value was tampered with.
		return nil, errors.New("it does not open under encryption.key")
	}
	return plain, nil
}

package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

// TestSealNeedsTheToken: what Redis holds (the token's digest and the
// sealed answer) does not open the sealed answer.
func TestSealNeedsTheToken(t *testing.T) {
	token := NewCredential(KindRefresh, NewID())
	sealed, err := seal(token, []byte("the new pair"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := unseal(token, sealed); err != nil || string(pt) != "the new pair" {
		t.Fatalf("unseal with the token: %v", err)
	}
	digest, _ := hex.DecodeString(Digest(token))
	raw, _ := base64.RawStdEncoding.DecodeString(sealed)
	// Keys a reader of Redis could compute from the digest.
	for name, key := range map[string][]byte{
		"digest":             digest,
		"HMAC(digest,label)": hmacSum(digest, []byte(sealLabel)),
		"HMAC(label,digest)": hmacSum([]byte(sealLabel), digest),
	} {
		block, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCM(block)
		if _, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(sealLabel)); err == nil {
			t.Fatalf("the sealed answer opens with a key derived from the stored digest (%s)", name)
		}
	}
	if _, err := unseal(token+"x", sealed); err == nil {
		t.Fatal("another token opens it")
	}
}

func hmacSum(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

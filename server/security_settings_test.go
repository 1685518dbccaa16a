package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// The keys of the tests of an app's security settings (issue 19) as the
// registration, the portal and the admin view take them: made once, since
// RSA key generation is slow.

// settingsKeyPair is one of the test keys, private and public.
type settingsKeyPair struct {
	rsa, rsa1024 *rsa.PrivateKey
	ec           *ecdsa.PrivateKey
}

var settingsKeys = sync.OnceValue(func() settingsKeyPair {
	var k settingsKeyPair
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// settingsJWKS is a JWK Set of keys as JSON.
func settingsJWKS(t *testing.T, keys ...jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// settingsPublicJWKS is a good JWK Set: an RSA key for PS256 and an EC
// P-256 key, public halves only.
func settingsPublicJWKS(t *testing.T) string {
	k := settingsKeys()
	return settingsJWKS(t, jose.JSONWebKey{Key: &k.rsa.PublicKey, KeyID: "rsa-1", Algorithm: "PS256", Use: "sig"},
		jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: "ec-1", Algorithm: "ES256"})
}

package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// testKeys are the keys of the security tests, made once: RSA key
// generation is slow, and every backend reuses them.
type testKeys struct {
	rsa, rsa1024 *rsa.PrivateKey
	ec, ec384    *ecdsa.PrivateKey
	ed           ed25519.PrivateKey
}

var clientKeys = sync.OnceValue(func() testKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var k testKeys
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return k
})

// jwksOf is a JWK Set of keys as JSON, as an app registers it.
func jwksOf(t *testing.T, keys ...jose.JSONWebKey) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// publicKeys are one public key of each kind an app may register.
func publicKeys() []jose.JSONWebKey {
	k := clientKeys()
	return []jose.JSONWebKey{
		{Key: &k.rsa.PublicKey, KeyID: "rsa-1", Algorithm: store.AlgPS256, Use: "sig"},
		{Key: &k.ec.PublicKey, KeyID: "ec-1", Algorithm: store.AlgES256},
		{Key: k.ed.Public(), KeyID: "ed-1"},
	}
}

// TestValidateSecurity: the refusals of an app's security settings, each
// an ErrInvalid that says what is wrong, and the combinations allowed.
func TestValidateSecurity(t *testing.T) {
	t.Parallel()
	k := clientKeys()
	good := jwksOf(t, publicKeys()...)
	pkj := store.AuthPrivateKeyJWT
	many := make([]jose.JSONWebKey, store.MaxClientKeys+1)
	for i := range many {
		many[i] = jose.JSONWebKey{Key: &k.ec.PublicKey, KeyID: fmt.Sprint("k", i)}
	}
	type kind struct{ public, firstParty bool }
	var confidential, public, firstParty = kind{}, kind{public: true}, kind{firstParty: true}
	for name, c := range map[string]struct {
		sec  store.Security
		kind kind
		want string
	}{
		"public with private_key_jwt": {store.Security{AuthMethod: pkj, JWKS: good}, public, "a public app has no keys to sign with"},
		"both jwks and jwks_uri": {store.Security{AuthMethod: pkj, JWKS: good, JWKSURI: "https://rp.example.com/jwks"}, confidential,
			"a jwks or a jwks_uri, not both"},
		"neither":          {store.Security{AuthMethod: pkj}, confidential, "private_key_jwt needs the app's public keys"},
		"a private key":    {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, jose.JSONWebKey{Key: k.rsa, KeyID: "p"})}, confidential, "a private or symmetric key"},
		"a private EC key": {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, jose.JSONWebKey{Key: k.ec})}, confidential, "register only the public half"},
		"RSA of 1024 bits": {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, jose.JSONWebKey{Key: &k.rsa1024.PublicKey})}, confidential, "an RSA key of 1024 bits (2048 to 4096)"},
		"an HS256 oct key": {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, jose.JSONWebKey{Key: []byte(strings.Repeat("s", 32)), Algorithm: "HS256"})}, confidential,
			"key 1 of the jwks: a private or symmetric key"},
		"EC on P-384":                      {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, jose.JSONWebKey{Key: &k.ec384.PublicKey})}, confidential, "a curve other than P-256"},
		"an encryption key":                {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, jose.JSONWebKey{Key: &k.ec.PublicKey, Use: "enc"})}, confidential, `use "enc" is not sig`},
		"an unknown alg":                   {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, jose.JSONWebKey{Key: &k.rsa.PublicKey, Algorithm: "RS512"})}, confidential, `algorithm "RS512" is not one of`},
		"two keys, one kid":                {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, publicKeys()[1], publicKeys()[1])}, confidential, `two keys with kid "ec-1"`},
		"no keys":                          {store.Security{AuthMethod: pkj, JWKS: `{"keys":[]}`}, confidential, "1 to 10 keys"},
		"too many keys":                    {store.Security{AuthMethod: pkj, JWKS: jwksOf(t, many...)}, confidential, "1 to 10 keys"},
		"not a JWK Set":                    {store.Security{AuthMethod: pkj, JWKS: `["not", "a", "set"]`}, confidential, "the jwks is not a JWK Set"},
		"not JSON":                         {store.Security{AuthMethod: pkj, JWKS: `{"keys":`}, confidential, "the jwks is not a JWK Set"},
		"larger than 16 KiB":               {store.Security{AuthMethod: pkj, JWKS: `{"keys":[],"x":"` + strings.Repeat("a", store.MaxJWKS) + `"}`}, confidential, "larger than"},
		"unknown method":                   {store.Security{AuthMethod: "client_secret_jwt"}, confidential, `client authentication method "client_secret_jwt" is not supported`},
		"the RFC's name of the secret":     {store.Security{AuthMethod: "client_secret_basic"}, confidential, "is not supported (the secret, or private_key_jwt)"},
		"jwks without private_key_jwt":     {store.Security{JWKS: good}, confidential, "only used with private_key_jwt"},
		"jwks_uri without private_key_jwt": {store.Security{JWKSURI: "https://rp.example.com/jwks"}, confidential, "only used with private_key_jwt"},
		"fapi2 without private_key_jwt":    {store.Security{FAPI2: true}, confidential, "FAPI 2.0 needs private_key_jwt"},
		"fapi2 on a public app":            {store.Security{FAPI2: true}, public, "FAPI 2.0 is for confidential apps"},
		"fapi2 on a first-party app": {store.Security{FAPI2: true, AuthMethod: pkj, JWKS: good}, firstParty,
			"FAPI 2.0 forbids the password grant"},
		"http jwks_uri, not loopback": {store.Security{AuthMethod: pkj, JWKSURI: "http://rp.example.com/jwks"}, confidential, "must use https"},
		"http jwks_uri on localhost":  {store.Security{AuthMethod: pkj, JWKSURI: "http://localhost:9000/jwks"}, confidential, "jwks_uri must use https"},
		"relative jwks_uri":           {store.Security{AuthMethod: pkj, JWKSURI: "/jwks"}, confidential, "jwks_uri \"/jwks\" is not absolute"},
		"jwks_uri with a fragment":    {store.Security{AuthMethod: pkj, JWKSURI: "https://rp.example.com/jwks#k"}, confidential, "must not contain a fragment"},
	} {
		jwks, err := store.ValidateSecurity(c.sec, c.kind.public, c.kind.firstParty)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), c.want) || jwks != "" {
			t.Errorf("%s: want ErrInvalid saying %q, got %q %v", name, c.want, jwks, err)
		}
	}

	// What is allowed: PAR and DPoP on any app, private_key_jwt with
	// either source of keys, FAPI 2.0 on a confidential third-party app
	// with private_key_jwt.
	for name, c := range map[string]struct {
		sec  store.Security
		kind kind
	}{
		"nothing":                {store.Security{}, confidential},
		"PAR and DPoP, public":   {store.Security{RequirePAR: true, RequireDPoP: true}, public},
		"PAR, first-party":       {store.Security{RequirePAR: true}, firstParty},
		"private_key_jwt, jwks":  {store.Security{AuthMethod: pkj, JWKS: good}, confidential},
		"private_key_jwt, uri":   {store.Security{AuthMethod: pkj, JWKSURI: "https://rp.example.com/jwks"}, confidential},
		"fapi2":                  {store.Security{FAPI2: true, AuthMethod: pkj, JWKSURI: "https://rp.example.com/jwks"}, confidential},
		"first-party, pkj, jwks": {store.Security{AuthMethod: pkj, JWKS: good}, firstParty},
	} {
		if _, err := store.ValidateSecurity(c.sec, c.kind.public, c.kind.firstParty); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	// The set comes back compact, its keys as they were.
	indented, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: publicKeys()}, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := store.ValidateSecurity(store.Security{AuthMethod: pkj, JWKS: "\n" + string(indented) + "\n"}, false, false)
	if err != nil || strings.ContainsAny(jwks, " \n") || jwks != good {
		t.Fatalf("normalised jwks:\n%s\nwant\n%s\n%v", jwks, good, err)
	}
}

// TestAppSecuritySettings: an app's PAR, DPoP, FAPI 2.0 and client-key
// settings round-trip through CreateApp, UpdateApp and GetApp on every
// backend, records from before them read as the defaults, the audit trail
// names the change "security", and a refused create or update writes
// nothing.
func TestAppSecuritySettings(t *testing.T) {
	t.Parallel()
	good := jwksOf(t, publicKeys()...)
	pkj := store.AuthPrivateKeyJWT
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()

		// The defaults, and a record from before the settings.
		defaults := func(what string, a *store.App) {
			t.Helper()
			if a.RequirePAR || a.RequireDPoP || a.FAPI2 || a.AuthMethod != "" || a.JWKS != "" || a.JWKSURI != "" ||
				a.PARRequired() || a.DPoPRequired() || a.UsesPrivateKeyJWT() || a.NeedsPKCE() ||
				a.AuthMethodName() != "client_secret_basic" || a.Security() != (store.Security{}) {
				t.Fatalf("%s: %+v", what, a)
			}
			if keys, err := a.ClientKeys(); err != nil || len(keys.Keys) != 0 {
				t.Fatalf("%s: client keys %v %v", what, keys, err)
			}
		}
		a, err := f.st.GetApp(ctx, f.app.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		defaults("a new app", a)
		if err := rdb.HDel(ctx, store.AppKey(f.app.ClientID), "require_par", "require_dpop", "fapi2", "auth_method", "jwks", "jwks_uri").Err(); err != nil {
			t.Fatal(err)
		}
		if a, err = f.st.GetApp(ctx, f.app.ClientID); err != nil {
			t.Fatal(err)
		}
		defaults("a record without the fields", a)

		// Refused creates write nothing.
		spec := func(sec store.Security) store.AppSpec {
			return store.AppSpec{Name: "Secure", RedirectURIs: []string{"https://rp.example.com/cb"}, Scopes: []string{"read:products"},
				Security: sec}
		}
		before := redistest.Snapshot(t, rdb)
		for name, s := range map[string]store.AppSpec{
			"fapi2 alone":             spec(store.Security{FAPI2: true}),
			"jwks alone":              spec(store.Security{JWKS: good}),
			"jwks_uri alone":          spec(store.Security{JWKSURI: "https://rp.example.com/jwks"}),
			"private_key_jwt, no key": spec(store.Security{AuthMethod: pkj}),
			"unknown method":          spec(store.Security{AuthMethod: "tls_client_auth"}),
			"public, private_key_jwt": func() store.AppSpec {
				s := spec(store.Security{AuthMethod: pkj, JWKS: good})
				s.Public = true
				return s
			}(),
			"public, fapi2": func() store.AppSpec { s := spec(store.Security{FAPI2: true}); s.Public = true; return s }(),
			"first-party, fapi2": func() store.AppSpec {
				s := spec(store.Security{FAPI2: true, AuthMethod: pkj, JWKS: good})
				s.FirstParty = true
				return s
			}(),
			"a private key": spec(store.Security{AuthMethod: pkj, JWKS: jwksOf(t, jose.JSONWebKey{Key: clientKeys().ec})}),
		} {
			if _, _, err := f.st.CreateApp(ctx, s, catalogue); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("create, %s: want ErrInvalid, got %v", name, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		// Each setting, created and read back.
		created := map[string]*store.App{}
		for name, s := range map[string]store.AppSpec{
			"par":      spec(store.Security{RequirePAR: true}),
			"dpop":     spec(store.Security{RequireDPoP: true}),
			"jwks":     spec(store.Security{AuthMethod: pkj, JWKS: good}),
			"jwks_uri": spec(store.Security{AuthMethod: pkj, JWKSURI: "https://rp.example.com/jwks"}),
			"fapi2":    spec(store.Security{FAPI2: true, AuthMethod: pkj, JWKS: good}),
			"public": func() store.AppSpec {
				s := spec(store.Security{RequirePAR: true, RequireDPoP: true})
				s.Public = true
				return s
			}(),
		} {
			app, _, err := f.st.CreateApp(ctx, s, catalogue)
			if err != nil {
				t.Fatalf("create, %s: %v", name, err)
			}
			if created[name], err = f.st.GetApp(ctx, app.ClientID); err != nil {
				t.Fatal(err)
			}
			if got := created[name].Security(); got != s.Security {
				t.Errorf("%s: read back %+v, want %+v", name, got, s.Security)
			}
		}
		for name, c := range map[string]struct {
			par, dpop, pkce, pkj bool
			method               string
			algs                 []string
		}{
			"par":      {par: true, method: "client_secret_basic", algs: store.AssertionAlgs()},
			"dpop":     {dpop: true, method: "client_secret_basic", algs: store.AssertionAlgs()},
			"jwks":     {pkj: true, method: pkj, algs: store.AssertionAlgs()},
			"jwks_uri": {pkj: true, method: pkj, algs: store.AssertionAlgs()},
			// FAPI 2.0 turns on PAR, DPoP and PKCE without their own
			// switches, and leaves out RS256.
			"fapi2":  {par: true, dpop: true, pkce: true, pkj: true, method: pkj, algs: []string{"PS256", "ES256", "EdDSA"}},
			"public": {par: true, dpop: true, pkce: true, method: "none", algs: store.AssertionAlgs()},
		} {
			a := created[name]
			if a.PARRequired() != c.par || a.DPoPRequired() != c.dpop || a.NeedsPKCE() != c.pkce || a.UsesPrivateKeyJWT() != c.pkj ||
				a.AuthMethodName() != c.method || !slices.Equal(a.AssertionAlgsFor(), c.algs) {
				t.Errorf("%s: par %v dpop %v pkce %v pkj %v method %s algs %v", name, a.PARRequired(), a.DPoPRequired(),
					a.NeedsPKCE(), a.UsesPrivateKeyJWT(), a.AuthMethodName(), a.AssertionAlgsFor())
			}
		}
		if a := created["fapi2"]; a.RequirePAR || a.RequireDPoP {
			t.Fatalf("fapi2 stored the switches it implies: %+v", a.Security())
		}
		keys, err := created["jwks"].ClientKeys()
		if err != nil || len(keys.Keys) != 3 || keys.Keys[0].KeyID != "rsa-1" || keys.Keys[1].Algorithm != store.AlgES256 ||
			!keys.Keys[2].IsPublic() || len(keys.Key("ed-1")) != 1 {
			t.Fatalf("client keys: %+v %v", keys, err)
		}
		if keys, err := created["jwks_uri"].ClientKeys(); err != nil || len(keys.Keys) != 0 {
			t.Fatalf("an app with a jwks_uri has no keys of its own: %+v %v", keys, err)
		}

		// Refused updates write nothing, even beside a good change.
		app := created["par"]
		before = redistest.Snapshot(t, rdb)
		for name, u := range map[string]store.AppUpdate{
			"fapi2 alone":         {FAPI2: ptr(true)},
			"jwks alone":          {JWKS: ptr(good)},
			"private_key_jwt":     {AuthMethod: ptr(pkj)},
			"both sources":        {AuthMethod: ptr(pkj), JWKS: ptr(good), JWKSURI: ptr("https://rp.example.com/jwks")},
			"http jwks_uri":       {AuthMethod: ptr(pkj), JWKSURI: ptr("http://rp.example.com/jwks")},
			"a weak key":          {AuthMethod: ptr(pkj), JWKS: ptr(jwksOf(t, jose.JSONWebKey{Key: &clientKeys().rsa1024.PublicKey}))},
			"unknown method":      {AuthMethod: ptr("none")},
			"with a good name":    {Name: ptr("Renamed"), FAPI2: ptr(true)},
			"with a good PAR off": {RequirePAR: ptr(false), JWKSURI: ptr("https://rp.example.com/jwks")},
		} {
			if _, err := f.st.UpdateApp(ctx, app.ClientID, u, catalogue, store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("update, %s: want ErrInvalid, got %v", name, err)
			}
		}
		// An app on fapi2 cannot leave private_key_jwt while it stays.
		if _, err := f.st.UpdateApp(ctx, created["fapi2"].ClientID, store.AppUpdate{AuthMethod: ptr(""), JWKS: ptr("")}, catalogue,
			store.ActorCLI); err == nil || !strings.Contains(err.Error(), "FAPI 2.0 needs private_key_jwt") {
			t.Errorf("fapi2 without private_key_jwt: %v", err)
		}
		if _, err := f.st.UpdateApp(ctx, created["public"].ClientID, store.AppUpdate{FAPI2: ptr(true)}, catalogue,
			store.ActorCLI); err == nil || !strings.Contains(err.Error(), "FAPI 2.0 is for confidential apps") {
			t.Errorf("fapi2 on a public app: %v", err)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		// Good updates, one after another, each audited as "security".
		audited := func(want string) {
			t.Helper()
			events, _, err := f.st.ListAudit(ctx, store.AuditFilter{ClientID: app.ClientID}, "", 1)
			if err != nil || len(events) != 1 || events[0].Detail != want {
				t.Fatalf("the update's audit event: %+v %v, want %q", events, err, want)
			}
		}
		for _, step := range []struct {
			name   string
			u      store.AppUpdate
			want   store.Security
			detail string
		}{
			{"DPoP on, PAR off", store.AppUpdate{RequirePAR: ptr(false), RequireDPoP: ptr(true)},
				store.Security{RequireDPoP: true}, "updated: security"},
			{"keys by jwks_uri, trimmed", store.AppUpdate{AuthMethod: ptr(pkj), JWKSURI: ptr("  https://rp.example.com/jwks \n")},
				store.Security{RequireDPoP: true, AuthMethod: pkj, JWKSURI: "https://rp.example.com/jwks"}, "updated: security"},
			{"keys by jwks instead, and a name", store.AppUpdate{Name: ptr("Secure 2"), JWKSURI: ptr(""), JWKS: ptr(good)},
				store.Security{RequireDPoP: true, AuthMethod: pkj, JWKS: good}, "updated: name, security"},
			{"fapi2 on", store.AppUpdate{FAPI2: ptr(true)},
				store.Security{RequireDPoP: true, FAPI2: true, AuthMethod: pkj, JWKS: good}, "updated: security"},
			{"back to the secret", store.AppUpdate{FAPI2: ptr(false), RequireDPoP: ptr(false), AuthMethod: ptr(""), JWKS: ptr("")},
				store.Security{}, "updated: security"},
		} {
			got, err := f.st.UpdateApp(ctx, app.ClientID, step.u, catalogue, store.ActorCLI)
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			if got.Security() != step.want {
				t.Fatalf("%s: the update answers %+v, want %+v", step.name, got.Security(), step.want)
			}
			if got, err = f.st.GetApp(ctx, app.ClientID); err != nil || got.Security() != step.want {
				t.Fatalf("%s: read back %+v %v", step.name, got, err)
			}
			audited(step.detail)
		}
		if got, _ := f.st.GetApp(ctx, app.ClientID); got.NeedsPKCE() || got.PARRequired() || got.DPoPRequired() {
			t.Fatalf("off again: %+v", got.Security())
		}

		// Settings named as they are (the CLI's `app update --require-par`
		// twice) write nothing and audit nothing; named beside a real
		// change, only the change is audited.
		before = redistest.Snapshot(t, rdb)
		same, err := f.st.UpdateApp(ctx, app.ClientID, store.AppUpdate{Name: ptr(" Secure 2 "), RequirePAR: ptr(false),
			AuthMethod: ptr(""), JWKS: ptr(""), JWKSURI: ptr("")}, catalogue, store.ActorCLI)
		if err != nil || same.Name != "Secure 2" || same.Security() != (store.Security{}) {
			t.Fatalf("an update that changes nothing: %+v %v", same, err)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
		if _, err := f.st.UpdateApp(ctx, app.ClientID, store.AppUpdate{Name: ptr("Secure 2"), RequirePAR: ptr(true)},
			catalogue, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		audited("updated: security")
	})
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/enlace-oauth/enlace/store"
)

// The flags of an app's security settings (issue 19) that app create and
// app update share: --require-par, --require-dpop, --fapi2, --auth-method,
// --jwks FILE and --jwks-uri. What they may be together is the store's
// to say (store.ValidateSecurity): its refusal is printed as it is.

// securityFlags are the values of the flags as parsed.
type securityFlags struct {
	requirePAR, requireDPoP, fapi2 bool
	authMethod, jwksFile, jwksURI  string
}

// fapi2Usage says what --fapi2 turns on, in the words of app show.
const fapi2Usage = "the FAPI 2.0 Security Profile: PAR, PKCE with S256, DPoP, private_key_jwt, no password grant, 60-second codes"

// add declares the flags on f; update's help says that a flag not given
// leaves the setting as it is.
func (s *securityFlags) add(f *pflag.FlagSet, update bool) {
	onOff := ""
	if update {
		onOff = " (=false turns it off)"
	}
	f.BoolVar(&s.requirePAR, "require-par", false, "require pushed authorization requests (RFC 9126)"+onOff)
	f.BoolVar(&s.requireDPoP, "require-dpop", false, "require DPoP-bound access tokens (RFC 9449)"+onOff)
	f.BoolVar(&s.fapi2, "fapi2", false, fapi2Usage+onOff)
	secret, clears := "client_secret (the default)", ""
	if update {
		secret, clears = "client_secret", `; "" removes it`
	}
	f.StringVar(&s.authMethod, "auth-method", "", "how the app authenticates at the token endpoint: "+secret+" or "+
		store.AuthPrivateKeyJWT+" (with --jwks or --jwks-uri)")
	f.StringVar(&s.jwksFile, "jwks", "", "a `FILE` holding the app's public keys as a JWK Set, for private_key_jwt"+clears)
	f.StringVar(&s.jwksURI, "jwks-uri", "", "the `URL` where the app's public keys are published as a JWK Set (https), for private_key_jwt"+clears)
}

// authMethod is --auth-method as the store names it: "" for the secret.
// Other values go to the store as they are, which refuses them by name.
func (s *securityFlags) storeAuthMethod() string {
	switch s.authMethod {
	case "client_secret", "client_secret_basic", "client_secret_post":
		return ""
	}
	return s.authMethod
}

// readJWKS is the JWK Set of --jwks: the file's text, "" for none. The
// store refuses a set larger than store.MaxJWKS, so reading stops just
// past it.
func (s *securityFlags) readJWKS() (string, error) {
	if s.jwksFile == "" {
		return "", nil
	}
	f, err := os.Open(s.jwksFile)
	if err != nil {
		return "", fmt.Errorf("read --jwks: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, store.MaxJWKS+1))
	if err != nil {
		return "", fmt.Errorf("read --jwks: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// spec is the settings of a new app.
func (s *securityFlags) spec() (store.Security, error) {
	jwks, err := s.readJWKS()
	if err != nil {
		return store.Security{}, err
	}
	return store.Security{RequirePAR: s.requirePAR, RequireDPoP: s.requireDPoP, FAPI2: s.fapi2,
		AuthMethod: s.storeAuthMethod(), JWKS: jwks, JWKSURI: s.jwksURI}, nil
}

// update sets on u the settings whose flags were given. The keys are in
// one place: a jwks given without --jwks-uri removes the jwks_uri and the
// other way round, and going back to the secret removes both unless one
// is given (the store would refuse keys nothing uses).
func (s *securityFlags) update(f *pflag.FlagSet, u *store.AppUpdate) error {
	for _, b := range []struct {
		name string
		v    bool
		dst  **bool
	}{{"require-par", s.requirePAR, &u.RequirePAR}, {"require-dpop", s.requireDPoP, &u.RequireDPoP}, {"fapi2", s.fapi2, &u.FAPI2}} {
		if f.Changed(b.name) {
			*b.dst = new(b.v)
		}
	}
	none := ""
	if f.Changed("auth-method") {
		u.AuthMethod = new(s.storeAuthMethod())
		if *u.AuthMethod == "" && !f.Changed("jwks") && !f.Changed("jwks-uri") {
			u.JWKS, u.JWKSURI = &none, &none
		}
	}
	if f.Changed("jwks") {
		jwks, err := s.readJWKS()
		if err != nil {
			return err
		}
		u.JWKS = &jwks
		if jwks != "" && !f.Changed("jwks-uri") {
			u.JWKSURI = &none
		}
	}
	if f.Changed("jwks-uri") {
		u.JWKSURI = new(s.jwksURI)
		if s.jwksURI != "" && !f.Changed("jwks") {
			u.JWKS = &none
		}
	}
	return nil
}

// securityJSON is an app's security settings as the app commands print
// them with --json, under AppView's names.
type securityJSON struct {
	RequirePAR              bool            `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens   bool            `json:"dpop_bound_access_tokens"`
	FAPI2                   bool            `json:"fapi2"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	JWKS                    json.RawMessage `json:"jwks"`
	JWKSURI                 string          `json:"jwks_uri"`
}

func toSecurityJSON(a *store.App) securityJSON {
	v := securityJSON{RequirePAR: a.PARRequired(), DPoPBoundAccessTokens: a.DPoPRequired(), FAPI2: a.FAPI2,
		TokenEndpointAuthMethod: a.AuthMethodName(), JWKSURI: a.JWKSURI}
	if a.JWKS != "" {
		v.JWKS = json.RawMessage(a.JWKS)
	}
	return v
}

// securityLines are app show's lines of the settings that are on, each
// saying whether it is the app's own switch or FAPI 2.0's.
func securityLines(a *store.App, line func(k, v string)) {
	line("client authentication", a.AuthMethodName())
	rule := func(own bool) string {
		switch {
		case own && a.FAPI2:
			return "required (also by FAPI 2.0)"
		case own:
			return "required"
		case a.FAPI2:
			return "required (by FAPI 2.0)"
		}
		return ""
	}
	line("pushed authorization requests", rule(a.RequirePAR))
	line("DPoP-bound tokens", rule(a.RequireDPoP))
	if a.FAPI2 {
		line("FAPI 2.0", "on: PAR, PKCE with S256, DPoP, private_key_jwt, no password grant, 60-second codes")
	}
	if keys, err := a.ClientKeys(); err == nil && len(keys.Keys) > 0 {
		names := make([]string, 0, len(keys.Keys))
		for _, k := range keys.Keys {
			name := k.KeyID
			if name == "" {
				name = "(no kid)"
			}
			if k.Algorithm != "" {
				name += " " + k.Algorithm
			}
			names = append(names, name)
		}
		count := fmt.Sprintf("%d keys", len(keys.Keys))
		if len(keys.Keys) == 1 {
			count = "1 key"
		}
		line("jwks", count+": "+strings.Join(names, ", "))
	}
	line("jwks_uri", a.JWKSURI)
}

// keysSource names where a private_key_jwt app's keys are.
func keysSource(a *store.App) string {
	if a.JWKSURI != "" {
		return "jwks_uri " + a.JWKSURI
	}
	return "registered jwks"
}

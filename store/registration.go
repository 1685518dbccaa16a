package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The RFC 7592 side of an app registered at /oauth/register: its
// registration access token and the metadata the app record has no field
// of its own for. Both live in the app's hash (keys.go): "registration",
// the digest of the token (App.RegistrationDigest), and
// "registration_meta", a RegistrationMeta as JSON. Both are set through
// lua/app.lua's update, so each change is audited with the app's others.

// RegistrationPrefix starts every registration access token.
const RegistrationPrefix = "rat-"

// ErrRegistrationToken is a registration access token that does not open
// the registration it was presented for: a wrong token, another app's, or
// one for an app that does not exist (or no longer does). One error for
// all, so an answer never tells whether an app exists.
var ErrRegistrationToken = errors.New("the registration access token does not match")

// RegistrationMeta is what an app's RFC 7591 registration keeps besides
// the app's own fields.
type RegistrationMeta struct {
	// AuthMethod is the token_endpoint_auth_method registered:
	// client_secret_basic, client_secret_post, private_key_jwt (the app's
	// AuthMethod then says so too) or none (a public app). enlace accepts
	// either secret method from a confidential app; this is what the
	// registration answers.
	AuthMethod string `json:"token_endpoint_auth_method"`
	// LogoURI is the logo_uri the logo was fetched from, once;
	// LogoFingerprint is the logo it gave (Profile.Logo then). A logo the
	// app got elsewhere since (the portal) makes LogoURI stale: see
	// RegisteredLogoURI.
	LogoURI         string `json:"logo_uri,omitempty"`
	LogoFingerprint string `json:"logo,omitempty"`
}

// RegisteredLogoURI is the logo_uri to answer for a: the one the current
// logo was fetched from, or "" when the app has since got another logo, or
// none.
func (m RegistrationMeta) RegisteredLogoURI(a *App) string {
	if m.LogoURI == "" || a.Profile.Logo == "" || a.Profile.Logo != m.LogoFingerprint {
		return ""
	}
	return m.LogoURI
}

func (m RegistrationMeta) field() (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode registration metadata: %w", err)
	}
	return string(b), nil
}

// SetRegistrationToken mints the RFC 7592 registration access token of a
// registered app (a rat- secret of 256 bits), stores its digest and meta
// in one audited update, and returns the token, shown only here. A token
// the app had before stops working.
func (s *Store) SetRegistrationToken(ctx context.Context, clientID string, meta RegistrationMeta, by Actor) (string, error) {
	f, err := meta.field()
	if err != nil {
		return "", err
	}
	tok := RegistrationPrefix + NewSecret()
	_, err = s.changeApp(ctx, clientID, "update", by, map[string]string{"registration": Digest(tok),
		"registration_meta": f, "detail": "registration access token issued (RFC 7591)"})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// SetRegistrationMeta replaces a registered app's RegistrationMeta (an
// RFC 7592 update).
func (s *Store) SetRegistrationMeta(ctx context.Context, clientID string, meta RegistrationMeta, by Actor) error {
	f, err := meta.field()
	if err != nil {
		return err
	}
	_, err = s.changeApp(ctx, clientID, "update", by, map[string]string{"registration_meta": f,
		"detail": "updated: registration metadata (RFC 7592)"})
	return err
}

// CheckRegistrationToken returns the app and its registration metadata
// when tok is the registration access token of the app clientID, and
// ErrRegistrationToken otherwise. The token is compared by digest, in
// constant time, and the comparison runs whether or not the app exists.
func (s *Store) CheckRegistrationToken(ctx context.Context, clientID, tok string) (*App, *RegistrationMeta, error) {
	a, err := s.GetApp(ctx, clientID)
	digest := ""
	switch {
	case err == nil:
		digest = a.RegistrationDigest
	case !errors.Is(err, ErrNotFound):
		return nil, nil, err
	}
	// An app without a registration (digest "") matches nothing: the
	// digest of any token is 64 characters.
	if !DigestEqual(tok, digest) || !strings.HasPrefix(tok, RegistrationPrefix) || a == nil {
		return nil, nil, ErrRegistrationToken
	}
	v, err := s.rdb.HGet(ctx, appKey(clientID), "registration_meta").Result()
	if errors.Is(err, redis.Nil) {
		v, err = "{}", nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read registration metadata: %w", err)
	}
	meta := &RegistrationMeta{}
	if err := json.Unmarshal([]byte(v), meta); err != nil {
		return nil, nil, fmt.Errorf("decode registration metadata of %s: %w", clientID, err)
	}
	return a, meta, nil
}

// CheckLogo reports whether upload would be taken by SetAppLogo, without
// writing anything: for a registration, which must refuse a bad logo
// before it creates the app.
func CheckLogo(upload []byte) error {
	_, err := normalizeLogo(upload)
	return err
}

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // a logo may be uploaded as JPEG
	"image/png"
	"io"

	"github.com/redis/go-redis/v9"
	_ "golang.org/x/image/webp" // or as WebP
)

// Logo bounds: what an upload may be, before and after decoding.
const (
	MaxLogoBytes  = 256 << 10
	MaxLogoPixels = 1024
	// minLogoPixels keeps a logo legible on the consent page.
	minLogoPixels = 16
)

// ErrNotAnImage is an upload that is not a PNG, JPEG or WebP image within
// the logo's bounds.
var ErrNotAnImage = fmt.Errorf("%w: the logo must be a PNG, JPEG or WebP image of at most %d KiB and %d×%d pixels",
	ErrInvalid, MaxLogoBytes>>10, MaxLogoPixels, MaxLogoPixels)

// normalizeLogo decodes an uploaded logo and re-encodes it as PNG, so
// what enlace serves is an image it made itself, whatever the upload held
// (metadata, another format's payload, a crafted header). The size is
// checked from the header before any pixel is decoded.
func normalizeLogo(upload []byte) ([]byte, error) {
	if len(upload) == 0 || len(upload) > MaxLogoBytes {
		return nil, ErrNotAnImage
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(upload))
	if err != nil || (format != "png" && format != "jpeg" && format != "webp") {
		return nil, ErrNotAnImage
	}
	if cfg.Width < minLogoPixels || cfg.Height < minLogoPixels || cfg.Width > MaxLogoPixels || cfg.Height > MaxLogoPixels {
		return nil, fmt.Errorf("%w (this one is %d×%d; at least %d×%d)", ErrNotAnImage, cfg.Width, cfg.Height,
			minLogoPixels, minLogoPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(upload))
	if err != nil {
		return nil, ErrNotAnImage
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("encode logo: %w", err)
	}
	return out.Bytes(), nil
}

// ReadLogo reads an upload of at most MaxLogoBytes from r; a longer one is
// refused without reading the rest.
func ReadLogo(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxLogoBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read logo: %w", err)
	}
	if len(b) > MaxLogoBytes {
		return nil, ErrNotAnImage
	}
	return b, nil
}

// SetAppLogo replaces an app's logo with upload (PNG, JPEG or WebP, within
// the bounds), stored re-encoded as PNG under its fingerprint, and returns
// the app as it is now. The logo is served from enlace's own origin, so
// the consent page still loads nothing from elsewhere. Nothing is written
// when the upload is refused.
func (s *Store) SetAppLogo(ctx context.Context, clientID string, upload []byte, by Actor) (*App, error) {
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return nil, err
	}
	logo, err := normalizeLogo(upload)
	if err != nil {
		return nil, err
	}
	fp := Digest(string(logo))[:16]
	// The image first: an app never names a logo that is not there. A
	// replaced one stays until its app names another, then goes.
	if err := s.rdb.Set(ctx, logoKey(clientID, fp), logo, 0).Err(); err != nil {
		return nil, fmt.Errorf("store logo: %w", err)
	}
	if _, err := s.changeApp(ctx, clientID, "update", by, map[string]string{"logo": fp, "detail": "updated: logo"}); err != nil {
		return nil, err
	}
	if a.Profile.Logo != "" && a.Profile.Logo != fp {
		_ = s.rdb.Del(ctx, logoKey(clientID, a.Profile.Logo)).Err()
	}
	return s.GetApp(ctx, clientID)
}

// LogoPNG returns an app's logo by its fingerprint, or ErrNotFound.
func (s *Store) LogoPNG(ctx context.Context, clientID, fingerprint string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, logoKey(clientID, fingerprint)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read logo: %w", err)
	}
	return b, nil
}

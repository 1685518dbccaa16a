package store_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	return img
}

func encoded(t *testing.T, enc func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAppLogo: PNG, JPEG and WebP logos are stored re-encoded as PNG under
// a fingerprint; anything else, or too big, is refused with nothing
// written.
func TestAppLogo(t *testing.T) {
	t.Parallel()
	webp, err := os.ReadFile("testdata/logo.webp")
	if err != nil {
		t.Fatal(err)
	}
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		pngLogo := encoded(t, func(b *bytes.Buffer) error { return png.Encode(b, testImage(64, 48)) })
		jpegLogo := encoded(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, testImage(64, 64), nil) })
		before := redistest.Snapshot(t, rdb)
		for name, upload := range map[string][]byte{
			"text":       []byte("<svg onload=alert(1)>"),
			"empty":      nil,
			"gif":        encoded(t, func(b *bytes.Buffer) error { return gif.Encode(b, testImage(32, 32), nil) }),
			"too wide":   encoded(t, func(b *bytes.Buffer) error { return png.Encode(b, testImage(1025, 20)) }),
			"too small":  encoded(t, func(b *bytes.Buffer) error { return png.Encode(b, testImage(8, 8)) }),
			"truncated":  pngLogo[:len(pngLogo)/2],
			"over 256 K": append(bytes.Clone(pngLogo), make([]byte, store.MaxLogoBytes)...),
		} {
			if _, err := f.st.SetAppLogo(ctx, f.app.ClientID, upload, store.ActorCLI); !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, err := store.ReadLogo(bytes.NewReader(make([]byte, store.MaxLogoBytes+1))); !errors.Is(err, store.ErrNotAnImage) {
			t.Errorf("ReadLogo of an oversized upload: %v", err)
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		var last string
		for name, upload := range map[string][]byte{"png": pngLogo, "jpeg": jpegLogo, "webp": webp} {
			app, err := f.st.SetAppLogo(ctx, f.app.ClientID, upload, store.ActorCLI)
			if err != nil || len(app.Profile.Logo) != 16 {
				t.Fatalf("%s logo: %+v %v", name, app, err)
			}
			stored, err := f.st.LogoPNG(ctx, f.app.ClientID, app.Profile.Logo)
			if err != nil {
				t.Fatal(err)
			}
			if _, format, err := image.DecodeConfig(bytes.NewReader(stored)); err != nil || format != "png" {
				t.Fatalf("%s: stored as %s: %v", name, format, err)
			}
			if last != "" && last != app.Profile.Logo {
				if _, err := f.st.LogoPNG(ctx, f.app.ClientID, last); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the replaced logo is still stored: %v", err)
				}
			}
			last = app.Profile.Logo
		}
		if _, err := f.st.LogoPNG(ctx, f.app.ClientID, strings.Repeat("0", 16)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unknown fingerprint: %v", err)
		}
		// An update that drops the logo (the portal's remove, RFC 7592
		// without logo_uri) deletes the image too.
		none := ""
		if app, err := f.st.UpdateApp(ctx, f.app.ClientID, store.AppUpdate{Logo: &none}, catalogue, store.ActorCLI); err != nil || app.Profile.Logo != "" {
			t.Fatalf("drop the logo: %+v %v", app, err)
		}
		if _, err := f.st.LogoPNG(ctx, f.app.ClientID, last); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a dropped logo is still served: %v", err)
		}
		if n := len(f.rdb.Keys(ctx, "app-logo:*").Val()); n != 0 {
			t.Errorf("%d logo images left", n)
		}
	})
}

package store_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestRegistrationToken: an RFC 7592 registration access token opens its
// own app's registration only, is stored only as a digest, stops working
// when replaced or when its app is deleted, and a refusal reads the same
// whether or not the app exists.
func TestRegistrationToken(t *testing.T) {
	t.Parallel()
	redistest.ForEachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		f := newFixture(t, rdb)
		ctx := context.Background()
		other, _, err := f.st.CreateApp(ctx, store.AppSpec{Name: "Other", RedirectURIs: []string{"https://o.example.com/cb"},
			Scopes: []string{"read:products"}}, catalogue)
		if err != nil {
			t.Fatal(err)
		}
		// An app without a registration matches no token.
		if _, _, err := f.st.CheckRegistrationToken(ctx, f.app.ClientID, "rat-"); !errors.Is(err, store.ErrRegistrationToken) {
			t.Fatalf("an app without a registration: %v", err)
		}
		meta := store.RegistrationMeta{AuthMethod: "client_secret_post", LogoURI: "https://a.example.com/l.png", LogoFingerprint: "fp"}
		tok, err := f.st.SetRegistrationToken(ctx, f.app.ClientID, meta, store.ActorDeveloper("d1"))
		if err != nil || !strings.HasPrefix(tok, store.RegistrationPrefix) || len(tok) < 40 {
			t.Fatalf("set: %q %v", tok, err)
		}
		otherTok, err := f.st.SetRegistrationToken(ctx, other.ClientID, store.RegistrationMeta{AuthMethod: "none"}, store.ActorCLI)
		if err != nil {
			t.Fatal(err)
		}
		a, got, err := f.st.CheckRegistrationToken(ctx, f.app.ClientID, tok)
		if err != nil || a.ClientID != f.app.ClientID || *got != meta {
			t.Fatalf("check: %+v %+v %v", a, got, err)
		}
		if a.RegistrationDigest != store.Digest(tok) {
			t.Fatal("the app does not hold the token's digest")
		}
		for k, v := range redistest.Snapshot(t, rdb) {
			if strings.Contains(v, tok) {
				t.Fatalf("key %s holds the token in clear", k)
			}
		}
		// No logo of that fingerprint: the logo_uri is not the app's logo.
		if u := got.RegisteredLogoURI(a); u != "" {
			t.Fatalf("a stale logo_uri is answered: %q", u)
		}

		before := redistest.Snapshot(t, rdb)
		for name, c := range map[string]struct{ id, tok string }{
			"wrong token":   {f.app.ClientID, tok + "x"},
			"no prefix":     {f.app.ClientID, strings.TrimPrefix(tok, store.RegistrationPrefix)},
			"another app's": {f.app.ClientID, otherTok},
			"no such app":   {"no-such-app", tok},
			"empty":         {f.app.ClientID, ""},
		} {
			if _, _, err := f.st.CheckRegistrationToken(ctx, c.id, c.tok); !errors.Is(err, store.ErrRegistrationToken) {
				t.Errorf("%s: %v", name, err)
			}
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

		// A new token replaces the old one; meta changes alone keep it.
		tok2, err := f.st.SetRegistrationToken(ctx, f.app.ClientID, meta, store.ActorCLI)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.st.CheckRegistrationToken(ctx, f.app.ClientID, tok); !errors.Is(err, store.ErrRegistrationToken) {
			t.Fatalf("a replaced token works: %v", err)
		}
		meta.AuthMethod = "client_secret_basic"
		if err := f.st.SetRegistrationMeta(ctx, f.app.ClientID, meta, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		if _, got, err := f.st.CheckRegistrationToken(ctx, f.app.ClientID, tok2); err != nil || got.AuthMethod != "client_secret_basic" {
			t.Fatalf("after a meta update: %+v %v", got, err)
		}
		if err := f.st.SetRegistrationMeta(ctx, "no-such-app", meta, store.ActorCLI); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("meta of no app: %v", err)
		}
		// The changes are audited with the app's others.
		evs, _, err := f.st.ListAudit(ctx, store.AuditFilter{ClientID: f.app.ClientID}, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if strings.Contains(e.Detail, "registration") {
				n++
			}
		}
		// Newest first: the oldest is the app's registration, then the
		// developer's first token.
		if n != 3 || evs[len(evs)-1].Detail != "created" || evs[len(evs)-2].Actor != store.ActorDeveloper("d1") {
			t.Fatalf("registration changes audited %d times: %+v", n, evs)
		}

		if _, err := f.st.DeleteApp(ctx, f.app.ClientID, store.ActorCLI); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.st.CheckRegistrationToken(ctx, f.app.ClientID, tok2); !errors.Is(err, store.ErrRegistrationToken) {
			t.Fatalf("the token of a deleted app works: %v", err)
		}
	})
}

func TestCheckLogo(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(32, 32)); err != nil {
		t.Fatal(err)
	}
	if err := store.CheckLogo(b.Bytes()); err != nil {
		t.Fatalf("a PNG: %v", err)
	}
	for name, v := range map[string][]byte{"html": []byte("<html>hi</html>"), "empty": nil,
		"truncated": b.Bytes()[:b.Len()/2]} {
		if err := store.CheckLogo(v); !errors.Is(err, store.ErrNotAnImage) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

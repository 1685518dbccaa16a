package server_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
)

// TestSecretRotationAtTheTokenEndpoint (issue 15): after a rotation the
// old and the new secret both authenticate, in both dialects; after its
// deadline, or once retired, only the new one does.
func TestSecretRotationAtTheTokenEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	exchange := func(secret string) response {
		t.Helper()
		return e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {e.code(nil)},
			"redirect_uri": {appRedirect}}, e.app.ClientID, secret)
	}
	old := e.secret
	fresh, _, err := e.st.RotateSecret(ctx, e.app.ClientID, time.Hour, store.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	for name, secret := range map[string]string{"old": old, "new": fresh} {
		if r := exchange(secret); r.status != http.StatusOK {
			t.Fatalf("the %s secret during the overlap: %d %s", name, r.status, r.raw)
		}
	}
	// The Multivende dialect, credentials in the body.
	r := e.postToken("/oauth/access-token", "application/json", `{"client_id":"`+e.app.ClientID+`","client_secret":"`+old+
		`","grant_type":"authorization_code","code":"`+e.code(nil)+`"}`)
	if r.status != http.StatusOK {
		t.Fatalf("the old secret in the Multivende dialect: %d %s", r.status, r.raw)
	}
	// Past the deadline the old one is refused.
	e.clock.Add(time.Hour + time.Second)
	assertOAuthError(t, exchange(old), http.StatusUnauthorized, "invalid_client")
	if r := exchange(fresh); r.status != http.StatusOK {
		t.Fatalf("the new secret after the deadline: %d %s", r.status, r.raw)
	}
	// Another rotation, then its previous secret retired at once.
	third, _, err := e.st.RotateSecret(ctx, e.app.ClientID, 0, store.ActorCLI)
	if err != nil {
		t.Fatal(err)
	}
	if r := exchange(fresh); r.status != http.StatusOK {
		t.Fatalf("the previous secret during the second overlap: %d", r.status)
	}
	if err := e.st.RetireSecret(ctx, e.app.ClientID, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	assertOAuthError(t, exchange(fresh), http.StatusUnauthorized, "invalid_client")
	if r := exchange(third); r.status != http.StatusOK {
		t.Fatalf("the newest secret: %d %s", r.status, r.raw)
	}
}

// TestRedirectURIsChangeInPlace (issue 15): a redirect URI added to an app
// works with the same client id, and one removed is refused at once (an
// error page, never a redirect), also for a code issued to it before.
func TestRedirectURIsChangeInPlace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const v2 = "https://app.example.com/v2/callback"
	if _, err := e.st.UpdateApp(ctx, e.app.ClientID, store.AppUpdate{AddRedirectURIs: []string{v2}},
		e.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	code := e.code(url.Values{"redirect_uri": {v2}})
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {v2}},
		e.app.ClientID, e.secret)
	if r.status != http.StatusOK {
		t.Fatalf("a code for the added redirect URI: %d %s", r.status, r.raw)
	}
	pending := e.code(nil) // for appRedirect, exchanged after its removal
	if _, err := e.st.UpdateApp(ctx, e.app.ClientID, store.AppUpdate{RemoveRedirectURIs: []string{appRedirect}},
		e.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	p := b.get("/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode())
	if p.status != http.StatusBadRequest || p.location != "" {
		t.Fatalf("the removed redirect URI at the authorization endpoint: %d %q", p.status, p.location)
	}
	r = e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {pending},
		"redirect_uri": {appRedirect}}, e.app.ClientID, e.secret)
	if r.status == http.StatusOK {
		t.Fatalf("a code for a removed redirect URI still exchanges: %s", r.raw)
	}
}

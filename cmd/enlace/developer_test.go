package main

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestDeveloperCommands creates, lists and invites developers, makes their
// RFC 7591 initial access tokens and resets a password; bad input writes
// nothing (issue 15).
func TestDeveloperCommands(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, store.Options{})
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr, "ENLACE_ISSUER=https://auth.example.com"}

	r := runCmd(t, environ, "a long password\n", "developer", "create", "--email", "Dev@Sync.example.com", "--name", "Dev",
		"--password-stdin", "--json")
	var dev struct{ ID, Email, Name string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &dev) != nil || dev.Email != "dev@sync.example.com" || dev.ID == "" {
		t.Fatalf("developer create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := st.AuthenticateDeveloper(ctx, "dev@sync.example.com", "a long password"); err != nil {
		t.Fatalf("the developer cannot log in: %v", err)
	}
	if r := runCmd(t, environ, "another password\n", "developer", "create", "--email", "two@sync.example.com", "--name", "Two",
		"--password-stdin"); r.code != 0 || !strings.Contains(r.stdout, "developer_id: ") {
		t.Fatalf("developer create (text): %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, environ, "", "developer", "list")
	if r.code != 0 || !strings.Contains(r.stdout, dev.ID) || !strings.Contains(r.stdout, "two@sync.example.com") ||
		strings.Index(r.stdout, "dev@") > strings.Index(r.stdout, "two@") {
		t.Fatalf("developer list: %d %s", r.code, r.stdout)
	}
	r = runCmd(t, environ, "", "developer", "list", "--json")
	var list []struct{ ID, Email string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 2 || list[0].ID != dev.ID {
		t.Fatalf("developer list --json: %d %s", r.code, r.stdout)
	}

	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, stdin, want string
		args              []string
		code              int
	}{
		{"duplicate email", "a long password\n", "already exists", []string{"developer", "create", "--email", "DEV@sync.example.com", "--name", "X", "--password-stdin"}, 1},
		{"no name", "a long password\n", "needs a name", []string{"developer", "create", "--email", "x@sync.example.com", "--password-stdin"}, 1},
		{"short password", "seven77\n", "at least 8 characters", []string{"developer", "create", "--email", "x@sync.example.com", "--name", "X", "--password-stdin"}, 1},
		{"no --password-stdin", "", "--password-stdin", []string{"developer", "create", "--email", "x@sync.example.com", "--name", "X"}, 2},
		{"bad invite email", "", "not a valid email", []string{"developer", "invite", "--email", "nope"}, 1},
		{"invite a developer", "", "has a developer account already", []string{"developer", "invite", "--email", "dev@sync.example.com"}, 1},
		{"token of nobody", "", "no developer with email", []string{"developer", "token", "create", "--email", "nobody@sync.example.com"}, 1},
		{"token too long", "", "a year", []string{"developer", "token", "create", "--email", "dev@sync.example.com", "--expires-in", "9000h"}, 1},
		{"token negative", "", "--expires-in must be positive", []string{"developer", "token", "create", "--email", "dev@sync.example.com", "--expires-in", "-1h"}, 2},
		{"password of nobody", "a new password\n", "no developer with id or email", []string{"developer", "password", "nobody@sync.example.com", "--password-stdin"}, 1},
		{"group alone", "", `"enlace developer" needs a command: create, invite, list, password, token`, []string{"developer"}, 2},
	} {
		r := runCmd(t, environ, c.stdin, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want exit %d saying %q, got %d %s", c.name, c.code, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	// An invitation: its token, and the portal link that carries it.
	r = runCmd(t, environ, "", "developer", "invite", "--email", "New@Sync.example.com", "--json")
	var inv struct{ Email, Invitation, Link string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &inv) != nil || inv.Email != "new@sync.example.com" ||
		!strings.HasPrefix(inv.Invitation, "inv-") || !strings.Contains(r.stderr, "shown only now") {
		t.Fatalf("developer invite: %d %s %s", r.code, r.stdout, r.stderr)
	}
	link, err := url.Parse(inv.Link)
	if err != nil || link.Scheme+"://"+link.Host+link.Path != "https://auth.example.com/developers/signup" || link.Query().Get("invite") != inv.Invitation {
		t.Fatalf("the invitation link: %s %v", inv.Link, err)
	}
	if email, err := st.InvitedEmail(ctx, inv.Invitation); err != nil || email != "new@sync.example.com" {
		t.Fatalf("the invitation in the store: %q %v", email, err)
	}
	r = runCmd(t, environ, "", "developer", "invite", "--email", "other@sync.example.com")
	if r.code != 0 || !strings.Contains(r.stdout, "https://auth.example.com/developers/signup?invite=inv-") {
		t.Fatalf("developer invite (text): %d %s", r.code, r.stdout)
	}

	// An initial access token for RFC 7591.
	r = runCmd(t, environ, "", "developer", "token", "create", "--email", "dev@sync.example.com", "--expires-in", "48h", "--json")
	var tok struct {
		Token       string `json:"token"`
		DeveloperID string `json:"developer_id"`
		ExpiresAt   string `json:"expires_at"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &tok) != nil || !strings.HasPrefix(tok.Token, "iat-") || tok.DeveloperID != dev.ID {
		t.Fatalf("developer token create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	ia, err := st.InitialAccessToken(ctx, tok.Token)
	if err != nil || ia.DeveloperID != dev.ID {
		t.Fatalf("the token in the store: %+v %v", ia, err)
	}
	if exp, err := time.Parse(time.RFC3339, tok.ExpiresAt); err != nil || exp.Sub(time.Now()) < 47*time.Hour || exp.Sub(time.Now()) > 48*time.Hour {
		t.Errorf("expires_at: %s %v", tok.ExpiresAt, err)
	}
	if r := runCmd(t, environ, "", "developer", "token", "create", "--email", "dev@sync.example.com"); r.code != 0 ||
		!strings.Contains(r.stdout, "token:   iat-") {
		t.Fatalf("developer token create (text): %d %s", r.code, r.stdout)
	}
	for _, k := range rdb.Keys(ctx, "*").Val() {
		if strings.Contains(k, tok.Token) || strings.Contains(k, inv.Invitation) {
			t.Errorf("a token is stored in the clear: %s", k)
		}
	}

	r = runCmd(t, environ, "a new password\n", "developer", "password", "DEV@sync.example.com", "--password-stdin")
	if r.code != 0 || !strings.Contains(r.stdout, "their sessions have ended") {
		t.Fatalf("developer password: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := st.AuthenticateDeveloper(ctx, "dev@sync.example.com", "a new password"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
}

// TestAppLifecycleCommands: app update's profile, redirect-URI and
// test-merchant flags, app review, rotate-secret, retire-secret, show and
// the status in app list; every refusal writes nothing (issue 15).
func TestAppLifecycleCommands(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, store.Options{})
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}

	d, err := st.CreateDeveloper(ctx, "dev@sync.example.com", "Dev", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	ana, err := st.CreateMerchant(ctx, "ana@tienda.cl", "Ana", "a long password")
	if err != nil {
		t.Fatal(err)
	}
	app, oldSecret, err := st.CreateApp(ctx, store.AppSpec{Name: "Sync", Owner: d.ID, RedirectURIs: []string{"https://sync.example.com/cb"},
		Scopes: []string{"read:products"}}, []string{"read:products"})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := st.CreateApp(ctx, store.AppSpec{Name: "Mobile", Public: true, RedirectURIs: []string{"https://m.example.com/cb"},
		Scopes: []string{"read:products"}}, []string{"read:products"})
	if err != nil {
		t.Fatal(err)
	}
	id := app.ClientID

	r := runCmd(t, environ, "", "app", "update", id, "--add-redirect-uri", "https://sync.example.com/v2", "--add-redirect-uri", "https://sync.example.com/v3",
		"--remove-redirect-uri", "https://sync.example.com/cb", "--publisher", "Sync SpA", "--homepage", "https://sync.example.com",
		"--privacy-policy", "https://sync.example.com/privacy", "--terms", "https://sync.example.com/terms",
		"--description", "Keeps stock in sync.", "--support-email", "Help@Sync.example.com", "--test-merchant", "ANA@tienda.cl", "--json")
	if r.code != 0 {
		t.Fatalf("app update: %d %s %s", r.code, r.stdout, r.stderr)
	}
	a, err := st.GetApp(ctx, id)
	if err != nil || a.ClientID != id || !slices.Equal(a.RedirectURIs, []string{"https://sync.example.com/v2", "https://sync.example.com/v3"}) ||
		a.Profile.Publisher != "Sync SpA" || a.Profile.Homepage != "https://sync.example.com" || a.Profile.Terms != "https://sync.example.com/terms" ||
		a.Profile.PrivacyPolicy != "https://sync.example.com/privacy" || a.Profile.SupportEmail != "help@sync.example.com" ||
		a.Profile.Description != "Keeps stock in sync." || !slices.Equal(a.TestMerchants, []string{ana.ID}) {
		t.Fatalf("stored after the update: %+v %v", a, err)
	}
	// --redirect-uri still replaces them all.
	if r := runCmd(t, environ, "", "app", "update", id, "--redirect-uri", "https://sync.example.com/v2"); r.code != 0 {
		t.Fatalf("app update --redirect-uri: %d %s", r.code, r.stderr)
	}
	if a, _ := st.GetApp(ctx, id); !slices.Equal(a.RedirectURIs, []string{"https://sync.example.com/v2"}) {
		t.Fatalf("--redirect-uri did not replace the list: %v", a.RedirectURIs)
	}

	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, want string
		code       int
		args       []string
	}{
		{"bad redirect to add", "must use https", 1, []string{"app", "update", id, "--add-redirect-uri", "http://sync.example.com/cb"}},
		{"removing an unknown redirect", "is not one of the app's redirect URIs", 1, []string{"app", "update", id, "--remove-redirect-uri", "https://sync.example.com/nope"}},
		{"removing the last redirect", "at least one redirect URI", 1, []string{"app", "update", id, "--remove-redirect-uri", "https://sync.example.com/v2"}},
		{"http homepage", "must be an absolute https URL", 1, []string{"app", "update", id, "--homepage", "http://sync.example.com"}},
		{"relative terms", "must be an absolute https URL", 1, []string{"app", "update", id, "--terms", "/terms"}},
		{"bad support email", "not a valid email", 1, []string{"app", "update", id, "--support-email", "help"}},
		{"unknown test merchant", `no merchant with email "nobody@tienda.cl"`, 1, []string{"app", "update", id, "--test-merchant", "nobody@tienda.cl"}},
		{"unknown test merchant after a good one", "no merchant with email", 1, []string{"app", "update", id, "--name", "New", "--test-merchant", "ana@tienda.cl", "--test-merchant", "x@tienda.cl"}},
		{"update unknown app", "no app with client id", 1, []string{"app", "update", "nope", "--publisher", "X"}},
		{"review not in review", "is not in review (it is development)", 1, []string{"app", "review", id, "--approve"}},
		{"review unknown app", "no app with client id", 1, []string{"app", "review", "nope", "--approve"}},
		{"review both", "exactly one of --approve and --reject", 2, []string{"app", "review", id, "--approve", "--reject", "no"}},
		{"review neither", "exactly one of --approve and --reject", 2, []string{"app", "review", id}},
		{"rotate overlap too long", "at most 168h0m0s", 1, []string{"app", "rotate-secret", id, "--overlap", "169h"}},
		{"rotate overlap zero", "--overlap must be positive", 2, []string{"app", "rotate-secret", id, "--overlap", "0s"}},
		{"rotate a public app", "a public app has no secret", 1, []string{"app", "rotate-secret", pub.ClientID}},
		{"rotate unknown app", "no app with client id", 1, []string{"app", "rotate-secret", "nope"}},
		{"retire with nothing to retire", "no previous secret", 1, []string{"app", "retire-secret", id}},
		{"show unknown app", "no app with client id", 1, []string{"app", "show", "nope"}},
	} {
		if r := runCmd(t, environ, "", c.args...); r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want exit %d saying %q, got %d %s", c.name, c.code, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	// app show: everything but a secret.
	r = runCmd(t, environ, "", "app", "show", id, "--json")
	var shown struct {
		Status string `json:"status"`
		Owner  *struct {
			ID, Email string
		} `json:"owner"`
		Publisher     string                       `json:"publisher"`
		Homepage      string                       `json:"homepage"`
		PrivacyPolicy string                       `json:"privacy_policy"`
		Terms         string                       `json:"terms"`
		SupportEmail  string                       `json:"support_email"`
		TestMerchants []struct{ ID, Email string } `json:"test_merchants"`
		RedirectURIs  []string                     `json:"redirect_uris"`
		Scopes        []string                     `json:"scopes"`
		PrevExpires   *string                      `json:"previous_secret_expires_at"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &shown) != nil || shown.Status != "development" || shown.Owner == nil ||
		shown.Owner.ID != d.ID || shown.Owner.Email != "dev@sync.example.com" || shown.Publisher != "Sync SpA" ||
		shown.PrivacyPolicy != "https://sync.example.com/privacy" || len(shown.TestMerchants) != 1 ||
		shown.TestMerchants[0].Email != "ana@tienda.cl" || len(shown.RedirectURIs) != 1 || len(shown.Scopes) != 1 || shown.PrevExpires != nil {
		t.Fatalf("app show --json: %d %s %s", r.code, r.stdout, r.stderr)
	}
	noSecret := func(what, out string) {
		t.Helper()
		if strings.Contains(out, "secret\"") && strings.Contains(out, "client_secret") || strings.Contains(out, a.SecretDigest) ||
			strings.Contains(out, oldSecret) {
			t.Errorf("%s shows a secret or its digest: %s", what, out)
		}
	}
	noSecret("app show --json", r.stdout)
	r = runCmd(t, environ, "", "app", "show", id)
	for _, want := range []string{"status:", "development", "dev@sync.example.com (" + d.ID + ")", "Sync SpA", "ana@tienda.cl", "https://sync.example.com/terms"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("app show lacks %q: %d %s", want, r.code, r.stdout)
		}
	}
	noSecret("app show", r.stdout)

	// Review: rejected with a reason, then approved.
	if err := st.SubmitApp(ctx, id, store.ActorDeveloper(d.ID)); err != nil {
		t.Fatal(err)
	}
	before = redistest.Snapshot(t, rdb)
	for _, reason := range []string{"", "   "} {
		if r := runCmd(t, environ, "", "app", "review", id, "--reject", reason); r.code != 1 || !strings.Contains(r.stderr, "needs a reason") {
			t.Errorf("reject with reason %q: %d %s", reason, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
	if r := runCmd(t, environ, "", "app", "list"); r.code != 0 || !hasLineWith(r.stdout, id, "review") {
		t.Errorf("app list in review: %s", r.stdout)
	}
	r = runCmd(t, environ, "", "app", "review", id, "--reject", "The terms link answers 404.")
	if r.code != 0 || !strings.Contains(r.stdout, "back in development") {
		t.Fatalf("reject: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if a, _ := st.GetApp(ctx, id); a.Status != store.StatusDevelopment || a.ReviewNote != "The terms link answers 404." {
		t.Fatalf("after the rejection: %s %q", a.Status, a.ReviewNote)
	}
	if r := runCmd(t, environ, "", "app", "show", id); !strings.Contains(r.stdout, "The terms link answers 404.") {
		t.Errorf("app show lacks the review note: %s", r.stdout)
	}
	if err := st.SubmitApp(ctx, id, store.ActorDeveloper(d.ID)); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, environ, "", "app", "review", id, "--approve"); r.code != 0 || !strings.Contains(r.stdout, "published") {
		t.Fatalf("approve: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if a, _ := st.GetApp(ctx, id); a.Status != store.StatusPublished || !a.Verified() {
		t.Fatalf("after the approval: %s", a.Status)
	}
	events, _, err := st.ListAudit(ctx, store.AuditFilter{ClientID: id}, "", 10)
	if err != nil || len(events) == 0 || events[0].Detail != "review: approved" || events[0].Actor != store.ActorCLI {
		t.Errorf("the review's audit event: %+v %v", events, err)
	}
	if err := st.SetAppDisabled(ctx, id, true, store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	if r := runCmd(t, environ, "", "app", "list"); !hasLineWith(r.stdout, id, "published,suspended") || !hasLineWith(r.stdout, pub.ClientID, "published") {
		t.Errorf("app list with a suspended app: %s", r.stdout)
	}
	if err := st.SetAppDisabled(ctx, id, false, store.ActorCLI); err != nil {
		t.Fatal(err)
	}

	// Rotation: old and new both work until the old is retired.
	r = runCmd(t, environ, "", "app", "rotate-secret", id, "--overlap", "2h", "--json")
	var rot struct {
		ClientID    string `json:"client_id"`
		Secret      string `json:"client_secret"`
		PrevExpires string `json:"previous_secret_expires_at"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rot) != nil || rot.ClientID != id || len(rot.Secret) < 43 || rot.Secret == oldSecret {
		t.Fatalf("rotate-secret: %d %s %s", r.code, r.stdout, r.stderr)
	}
	until, err := time.Parse(time.RFC3339, rot.PrevExpires)
	if err != nil || time.Until(until) < 119*time.Minute || time.Until(until) > 2*time.Hour {
		t.Fatalf("previous_secret_expires_at: %q %v", rot.PrevExpires, err)
	}
	a, _ = st.GetApp(ctx, id)
	if now := time.Now(); !a.SecretMatches(rot.Secret, now) || !a.SecretMatches(oldSecret, now) || a.SecretDigest == rot.Secret {
		t.Fatal("during the overlap both secrets must work, and only a digest is stored")
	}
	if r := runCmd(t, environ, "", "app", "show", id, "--json"); !strings.Contains(r.stdout, `"previous_secret_expires_at": "`) {
		t.Errorf("app show lacks the previous secret's deadline: %s", r.stdout)
	} else if strings.Contains(r.stdout, rot.Secret) || strings.Contains(r.stdout, a.PrevSecretDigest) {
		t.Errorf("app show shows a secret: %s", r.stdout)
	}
	if r := runCmd(t, environ, "", "app", "retire-secret", id); r.code != 0 || !strings.Contains(r.stdout, "only the current one works") {
		t.Fatalf("retire-secret: %d %s %s", r.code, r.stdout, r.stderr)
	}
	a, _ = st.GetApp(ctx, id)
	if now := time.Now(); !a.SecretMatches(rot.Secret, now) || a.SecretMatches(oldSecret, now) {
		t.Fatal("after retire-secret only the new secret may work")
	}
	r = runCmd(t, environ, "", "app", "rotate-secret", id)
	if r.code != 0 || !strings.Contains(r.stdout, "client_secret: ") || !strings.Contains(r.stdout, "the previous secret works until") {
		t.Fatalf("rotate-secret (text, default overlap): %d %s", r.code, r.stdout)
	}
	if a, _ := st.GetApp(ctx, id); time.Until(a.PrevSecretUntil) < 23*time.Hour || time.Until(a.PrevSecretUntil) > 24*time.Hour {
		t.Errorf("the default overlap: %v", time.Until(a.PrevSecretUntil))
	}
}

// hasLineWith reports whether out has a line holding id whose fields
// include word.
func hasLineWith(out, id, word string) bool {
	for line := range strings.Lines(out) {
		if strings.Contains(line, id) && slices.Contains(strings.Fields(line), word) {
			return true
		}
	}
	return false
}

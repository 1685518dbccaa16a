package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestFullFlowWithOAuth2Client drives the whole flow with golang.org/x/oauth2
// as the client: authorize with PKCE, log in, untick one scope, exchange,
// call /api/d/info, refresh, and check that the old pair is dead.
func TestFullFlowWithOAuth2Client(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	conf := &oauth2.Config{
		ClientID:     e.app.ClientID,
		ClientSecret: e.secret,
		RedirectURL:  appRedirect,
		Scopes:       []string{"read:products", "write:products", "read:checkouts"},
		Endpoint: oauth2.Endpoint{
			AuthURL: e.url + "/apps/authorize", TokenURL: e.url + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier))

	b := e.browser()
	consent := b.loginAndConsentPage(authURL)
	for _, s := range conf.Scopes {
		if !strings.Contains(consent.body, `value="`+s+`" checked`) {
			t.Fatalf("scope %s is not offered ticked:\n%s", s, consent.body)
		}
	}
	if !strings.Contains(consent.body, "Sincronizador") || !strings.Contains(consent.body, "Ver tus productos") {
		t.Fatalf("consent page lacks the app name or the Spanish scope description:\n%s", consent.body)
	}
	back := b.approve(authURL, consent, "read:products", "read:checkouts") // write:products unticked
	if back.Scheme+"://"+back.Host+back.Path != appRedirect {
		t.Fatalf("redirected to %s", back)
	}
	q := back.Query()
	if q.Get("state") != "state-123" || q.Get("iss") != e.cfg.Issuer || q.Get("code") == "" {
		t.Fatalf("redirect parameters: %v", q)
	}

	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("scope") != "read:products read:checkouts" {
		t.Fatalf("token: %+v scope=%v", tok, tok.Extra("scope"))
	}
	if d := time.Until(tok.Expiry); d < 6*time.Hour-time.Minute || d > 6*time.Hour+time.Minute {
		t.Fatalf("expires_in is not 6 h: %v", d)
	}

	info := e.info(tok.AccessToken)
	if info.status != http.StatusOK || info.json["OauthClientId"] != e.app.ClientID ||
		info.json["MerchantId"] != e.merchant.ID || info.json["scope"] != "read:products read:checkouts" {
		t.Fatalf("info: %d %s", info.status, info.raw)
	}

	// Refresh through the library: an expired token makes it refresh.
	old := *tok
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == old.AccessToken || fresh.RefreshToken == old.RefreshToken {
		t.Fatal("refresh did not rotate the pair")
	}
	if fresh.Extra("scope") != "read:products read:checkouts" {
		t.Fatalf("refresh changed the scope: %v", fresh.Extra("scope"))
	}
	if r := e.info(old.AccessToken); r.status != http.StatusUnauthorized {
		t.Fatalf("old access token still works: %d", r.status)
	}
	if r := e.info(fresh.AccessToken); r.status != http.StatusOK {
		t.Fatalf("new access token: %d %s", r.status, r.raw)
	}
	// A client that lost the answer retries with the old refresh token
	// within the retry window and gets the same pair...
	old.Expiry = time.Now().Add(-time.Minute)
	retried, err := conf.TokenSource(ctx, &old).Token()
	if err != nil || retried.AccessToken != fresh.AccessToken || retried.RefreshToken != fresh.RefreshToken {
		t.Fatalf("retry within the window: %v", err)
	}
	// ...but after it, the old refresh token is a replay and kills the
	// connection.
	e.clock.Add(11 * time.Second)
	if _, err := conf.TokenSource(ctx, &old).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("old refresh token after the window: want invalid_grant, got %v", err)
	}
	if r := e.info(fresh.AccessToken); r.status != http.StatusUnauthorized {
		t.Fatalf("a replayed refresh token must revoke the connection: %d", r.status)
	}

	// The server logged the flow, and no credential it handled.
	logs := e.logs.String()
	if !regexp.MustCompile(`"route":"/oauth/token","status":200,[^\n]*"grant_type":"refresh_token","client_id":"` +
		e.app.ClientID + `","connection_id":"[^"]+"`).MatchString(logs) {
		t.Fatal("the flow was not logged")
	}
	for _, secret := range []string{q.Get("code"), old.AccessToken, old.RefreshToken, fresh.AccessToken,
		fresh.RefreshToken, e.secret, password, verifier} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a credential appears in the log: %.10s…", secret)
		}
	}
}

// TestMultivendeDialect exchanges and refreshes on /oauth/access-token with
// JSON and form bodies and checks the platform's response shape.
func TestMultivendeDialect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dateRe := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	check := func(r response) {
		t.Helper()
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") ||
			r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("status %d headers %v: %s", r.status, r.header, r.raw)
		}
		for _, k := range []string{"_id", "token", "refreshToken", "MerchantId", "OauthClientId", "MerchantAppId"} {
			if s, ok := r.json[k].(string); !ok || s == "" {
				t.Fatalf("%s is not a non-empty string: %s", k, r.raw)
			}
		}
		for _, k := range []string{"expiresAt", "refreshTokenExpiresAt", "createdAt", "updatedAt"} {
			if s, _ := r.json[k].(string); !dateRe.MatchString(s) {
				t.Fatalf("%s = %q is not ISO-8601 UTC with ms", k, s)
			}
		}
		if r.json["status"] != "created" || r.json["OauthClientId"] != e.app.ClientID || r.json["MerchantId"] != e.merchant.ID {
			t.Fatalf("body: %s", r.raw)
		}
		var scopes map[string]map[string]bool
		raw, _ := json.Marshal(r.json["scopes"])
		_ = json.Unmarshal(raw, &scopes)
		if len(scopes) != 2 || !scopes["read:products"]["all"] || !scopes["read:checkouts"]["all"] {
			t.Fatalf("scopes: %s", raw)
		}
		created, _ := time.Parse(time.RFC3339, r.json["createdAt"].(string))
		exp, _ := time.Parse(time.RFC3339, r.json["expiresAt"].(string))
		rexp, _ := time.Parse(time.RFC3339, r.json["refreshTokenExpiresAt"].(string))
		if exp.Sub(created) != 6*time.Hour || rexp.Sub(created) != 48*time.Hour {
			t.Fatalf("lifetimes: %v %v", exp.Sub(created), rexp.Sub(created))
		}
	}

	body, _ := json.Marshal(map[string]string{"client_id": e.app.ClientID, "client_secret": e.secret,
		"grant_type": "authorization_code", "code": e.code(nil)})
	first := e.postToken("/oauth/access-token", "application/json", string(body))
	check(first)
	if r := e.info(first.json["token"].(string)); r.status != http.StatusOK || r.json["MerchantAppId"] != first.json["MerchantAppId"] {
		t.Fatalf("info with the Multivende token: %s", r.raw)
	}

	body, _ = json.Marshal(map[string]string{"client_id": e.app.ClientID, "client_secret": e.secret,
		"grant_type": "refresh_token", "refresh_token": first.json["refreshToken"].(string)})
	second := e.postToken("/oauth/access-token", "application/json; charset=utf-8", string(body))
	check(second)
	if second.json["MerchantAppId"] != first.json["MerchantAppId"] || second.json["_id"] == first.json["_id"] {
		t.Fatalf("refresh should keep the connection and make a new token record")
	}

	// The same endpoint takes a form body.
	third := e.form("/oauth/access-token", url.Values{"client_id": {e.app.ClientID}, "client_secret": {e.secret},
		"grant_type": {"authorization_code"}, "code": {e.code(nil)}})
	check(third)
	if third.json["MerchantAppId"] == first.json["MerchantAppId"] {
		t.Fatal("a second approval must be a new connection")
	}
}

// TestRFCDialectClientAuth covers client_secret_post, client_secret_basic
// with form-URL-encoded credentials, and a charset on the content type.
func TestRFCDialectClientAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.postToken("/oauth/token", "application/x-www-form-urlencoded;charset=UTF-8", url.Values{
		"grant_type": {"authorization_code"}, "code": {e.code(nil)}, "client_id": {e.app.ClientID},
		"client_secret": {e.secret}, "redirect_uri": {appRedirect}}.Encode())
	if r.status != http.StatusOK || r.json["token_type"] != "Bearer" || r.json["expires_in"] != float64(21600) ||
		r.json["scope"] != "read:products read:checkouts" {
		t.Fatalf("client_secret_post: %d %s", r.status, r.raw)
	}
	// RFC 6749 §2.3.1: Basic credentials are form-URL-encoded first. An id
	// with every "-" percent-encoded only works if enlace decodes it, which
	// net/http's BasicAuth does not.
	encodedID := strings.ReplaceAll(e.app.ClientID, "-", "%2D")
	r = e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.json["refresh_token"].(string)}},
		encodedID, url.QueryEscape(e.secret))
	if r.status != http.StatusOK {
		t.Fatalf("client_secret_basic with encoded credentials: %d %s", r.status, r.raw)
	}
}

// TestConcurrentExchangeOverHTTP: 50 concurrent exchanges of one code at
// the token endpoint yield exactly one token pair.
func TestConcurrentExchangeOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code := e.code(nil)
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	tokens := make(chan string, 50)
	for range 50 {
		wg.Go(func() {
			<-start
			r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}},
				e.app.ClientID, e.secret)
			switch {
			case r.status == http.StatusOK:
				ok.Add(1)
				tokens <- r.json["refresh_token"].(string)
			case r.status == http.StatusBadRequest && r.json["error"] == "invalid_grant":
				refused.Add(1)
			default:
				t.Errorf("unexpected answer %d %s", r.status, r.raw)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != 49 {
		t.Fatalf("%d succeeded, %d refused", ok.Load(), refused.Load())
	}

	// The 49 replays of the used code revoked what it issued (RFC 6749
	// §4.1.2), so the winning pair is dead too.
	if r := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {<-tokens}},
		e.app.ClientID, e.secret); r.json["error"] != "invalid_grant" {
		t.Fatalf("a replayed code must revoke its tokens: %s", r.raw)
	}

	// And 50 concurrent refreshes of one refresh token: one rotation, and
	// the other 49 (inside the retry window) get its very answer.
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {e.code(nil)}},
		e.app.ClientID, e.secret)
	rt := r.json["refresh_token"].(string)
	ok.Store(0)
	refused.Store(0)
	start = make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			r := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}},
				e.app.ClientID, e.secret)
			switch {
			case r.status == http.StatusOK:
				ok.Add(1)
				tokens <- r.json["access_token"].(string)
			case r.status == http.StatusBadRequest && r.json["error"] == "invalid_grant":
				refused.Add(1)
			default:
				t.Errorf("unexpected answer %d %s", r.status, r.raw)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 50 {
		t.Fatalf("refresh: %d succeeded, %d refused", ok.Load(), refused.Load())
	}
	first := <-tokens
	for range 49 {
		if other := <-tokens; other != first {
			t.Fatal("concurrent refreshes made more than one pair")
		}
	}
	if r := e.info(first); r.status != http.StatusOK {
		t.Fatalf("the one refreshed pair must work: %s", r.raw)
	}
}

// TestEveryApprovalIsANewConnection: the same merchant approving the same
// app twice gets two connections, and each keeps working.
func TestEveryApprovalIsANewConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	var refresh []string
	for range 2 {
		r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {e.code(nil)}},
			e.app.ClientID, e.secret)
		if r.status != http.StatusOK {
			t.Fatal(r.raw)
		}
		ids = append(ids, r.json["connection_id"].(string))
		refresh = append(refresh, r.json["refresh_token"].(string))
	}
	if ids[0] == ids[1] {
		t.Fatal("the second approval reused the first connection")
	}
	slices.Reverse(refresh)
	for _, rt := range refresh {
		if r := e.form("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}},
			e.app.ClientID, e.secret); r.status != http.StatusOK {
			t.Fatalf("refresh of one of two connections: %s", r.raw)
		}
	}
}

// TestNoCredentialInRedis runs a flow and checks that a dump of Redis holds
// none of the credentials it used.
func TestNoCredentialInRedis(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	code := e.code(nil)
	r := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}}, e.app.ClientID, e.secret)
	if r.status != http.StatusOK {
		t.Fatal(r.raw)
	}
	dump := ""
	for k, v := range redistest.Snapshot(t, e.rdb) {
		dump += k + " " + v + "\n"
	}
	for _, s := range []string{code, r.json["access_token"].(string), r.json["refresh_token"].(string), e.secret, password} {
		if strings.Contains(dump, s) || strings.Contains(dump, s[strings.LastIndex(s, ".")+1:]) {
			t.Fatalf("Redis holds a credential in plaintext")
		}
	}
}

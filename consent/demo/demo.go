// Package demo is the built-in demo client of the embedded zero-setup
// mode: an ordinary OAuth client of the server (golang.org/x/oauth2 over
// real HTTP, PKCE, state, iss), with its pages on the consent page kit.
package demo

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"
	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/store"
)

// App is the registration of the demo client. Its redirect URI is
// <issuer>/demo/callback on the same server.
type App struct {
	ClientID     string
	ClientSecret string
	RedirectURI  string
	Scopes       []string
}

// Client serves the demo client's pages.
type Client struct {
	kit *consent.Kit
	app App
}

// New returns the demo client for app, with its pages on kit.
func New(kit *consent.Kit, app App) *Client { return &Client{kit: kit, app: app} }

// Where the demo's pages are.
const (
	PagePath     = "/demo"
	StartPath    = "/demo/start"
	CallbackPath = "/demo/callback"
)

const (
	// demoSessionName is the demo client's own session. The merchant's
	// session cannot hold the pending state: logging in, which happens in
	// the middle of the flow, replaces that session's values (session
	// fixation), and the state would be gone when the callback arrives.
	// A separate cookie also mirrors reality: the client and the
	// authorization server do not share a session.
	demoSessionName = "enlace_demo"
	keyDemoState    = "demo_state"
	keyDemoVerifier = "demo_verifier"
	// keyDemoDone is the state of the flow that finished, so that a
	// reloaded callback says it was used rather than offer its code.
	keyDemoDone = "demo_done"
	// demoTimeout bounds the demo's calls to the token and info endpoints.
	demoTimeout = 10 * time.Second
	// demoMaxBody caps what the demo reads from those endpoints.
	demoMaxBody = 1 << 20
)

// issuer is the base address of this server, as the demo app sees it.
func (d *App) issuer() string {
	return strings.TrimSuffix(d.RedirectURI, CallbackPath)
}

// config is the demo app as a golang.org/x/oauth2 client, so the demo is a
// client like any other and not a shortcut into the server's internals.
func (d *App) config() *oauth2.Config {
	iss := d.issuer()
	return &oauth2.Config{
		ClientID:     d.ClientID,
		ClientSecret: d.ClientSecret,
		RedirectURL:  d.RedirectURI,
		Scopes:       d.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   iss + "/apps/authorize",
			TokenURL:  iss + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}

// Page explains the demo and offers the button that starts it.
func (h *Client) Page(c *gin.Context) {
	sess, ok := h.session(c)
	if !ok {
		return
	}
	h.kit.Render(c, http.StatusOK, "demo", "demo_start_title", sess, map[string]any{
		"Scopes": h.app.Scopes,
	})
}

// session returns the demo client's own session (its CSRF token and the
// pending flow), confined to /demo so it travels only to the demo's pages:
// the client and the authorization server share no session.
func (h *Client) session(c *gin.Context) (*sessions.Session, bool) {
	sess, ok := h.kit.Session(c, demoSessionName)
	if ok {
		sess.Options.Path = PagePath
	}
	return sess, ok
}

// Start is the demo app's "connect" button: it remembers a fresh state
// and PKCE verifier and sends the browser to the authorization endpoint.
func (h *Client) Start(c *gin.Context) {
	demo, ok := h.session(c)
	if !ok {
		return
	}
	if !h.kit.CSRFOK(c, demo) {
		return
	}
	state, verifier := store.NewSecret(), oauth2.GenerateVerifier()
	demo.Values[keyDemoState] = state
	demo.Values[keyDemoVerifier] = verifier
	if err := demo.Save(c.Request, c.Writer); err != nil {
		h.kit.Unavailable(c, "save demo session", err)
		return
	}
	c.Redirect(http.StatusSeeOther, h.app.config().AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
}

// demoResult is what the callback page shows. Error is a message id;
// ErrorCode is the OAuth error the authorization server sent, if any.
type demoResult struct {
	Error     string
	ErrorCode string
	// Code and Commands are the by-hand answer: a code the demo did not
	// ask for, shown with the commands that exchange it.
	Code       string
	Commands   string
	Token      string
	Info       string
	InfoStatus int
	InfoFailed bool
}

// Callback is the demo app's redirect URI: it checks the state,
// exchanges the code over real HTTP with the PKCE verifier, calls
// /api/d/info with the access token and shows both answers. It never logs
// a code or token.
func (h *Client) Callback(c *gin.Context) {
	q := c.Request.URL.Query()
	// The page's own links (the language switcher) are built from the
	// request's address; pointed at the callback they would replay a spent
	// code and state, so they point at /demo instead.
	u := *c.Request.URL
	u.Path, u.RawQuery = "/demo", ""
	if lang := q.Get("lang"); lang != "" {
		u.RawQuery = url.Values{"lang": {lang}}.Encode()
	}
	c.Request.URL = &u

	demo, ok := h.session(c)
	if !ok {
		return
	}
	want, _ := demo.Values[keyDemoState].(string)
	verifier, _ := demo.Values[keyDemoVerifier].(string)
	got := q.Get("state")
	if want == "" || verifier == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		// Not the answer to a flow started here: the by-hand flow of the
		// banner's authorize URL, or a forged, stale or replayed answer.
		// Exchanging its code could connect someone else's store (login
		// CSRF), so the demo never does; it shows the code to whoever
		// holds the browser, with the commands that exchange it. The
		// pending state stays, so the real answer can still arrive.
		code := q.Get("code")
		done, _ := demo.Values[keyDemoDone].(string)
		switch {
		case done != "" && subtle.ConstantTimeCompare([]byte(done), []byte(got)) == 1:
			h.demoFailed(c, http.StatusBadRequest, demoResult{Error: "demo_err_state"})
		case q.Get("iss") != "" && q.Get("iss") != h.app.issuer():
			h.demoFailed(c, http.StatusBadRequest, demoResult{Error: "demo_err_issuer"})
		case q.Get("error") == "access_denied":
			h.demoFailed(c, http.StatusOK, demoResult{Error: "demo_err_denied"})
		case q.Get("error") != "":
			h.demoFailed(c, http.StatusOK, demoResult{Error: "demo_err_other", ErrorCode: q.Get("error")})
		case code == "" || len(code) > 512:
			h.demoFailed(c, http.StatusBadRequest, demoResult{Error: "demo_err_state"})
		default:
			h.kit.Render(c, http.StatusOK, "demo_callback", "demo_byhand_title", nil,
				demoResult{Code: code, Commands: h.exchangeCommands(code)})
		}
		return
	}
	// The state is one use: a reloaded or replayed callback must not
	// exchange again.
	demo.Values = map[any]any{keyDemoDone: want}
	if err := demo.Save(c.Request, c.Writer); err != nil {
		h.kit.Unavailable(c, "end demo session", err)
		return
	}
	// RFC 9207: an answer naming another issuer is a mix-up attack.
	if iss := q.Get("iss"); iss != "" && iss != h.app.issuer() {
		h.demoFailed(c, http.StatusBadRequest, demoResult{Error: "demo_err_issuer"})
		return
	}
	switch e := q.Get("error"); {
	case e == "access_denied":
		h.demoFailed(c, http.StatusOK, demoResult{Error: "demo_err_denied"})
		return
	case e != "":
		h.demoFailed(c, http.StatusOK, demoResult{Error: "demo_err_other", ErrorCode: e})
		return
	case q.Get("code") == "":
		h.demoFailed(c, http.StatusBadRequest, demoResult{Error: "demo_err_state"})
		return
	}

	ctx, cancel := context.WithTimeout(c.Request.Context(), demoTimeout)
	defer cancel()
	// The recorder keeps the token endpoint's body so the page shows the
	// server's own answer, extension fields included, rather than what the
	// library chose to parse.
	rec := &recordingTransport{base: http.DefaultTransport}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: rec})
	tok, err := h.app.config().Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		// A RetrieveError carries the response body; log only its code.
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			h.kit.Logger().WarnContext(c.Request.Context(), "demo exchange refused", "error", re.ErrorCode)
		} else {
			h.kit.Logger().ErrorContext(c.Request.Context(), "demo exchange", "err", err)
		}
		h.demoFailed(c, http.StatusBadGateway, demoResult{Error: "demo_err_exchange"})
		return
	}
	res := demoResult{Token: prettyJSON(rec.body)}
	if res.Token == "" {
		raw, _ := json.Marshal(map[string]any{"access_token": tok.AccessToken, "token_type": tok.TokenType,
			"refresh_token": tok.RefreshToken, "expires_in": tok.ExpiresIn, "scope": tok.Extra("scope")})
		res.Token = prettyJSON(raw)
	}
	res.InfoStatus, res.Info, err = h.demoInfo(ctx, tok)
	if err != nil {
		h.kit.Logger().ErrorContext(c.Request.Context(), "demo info call", "err", err)
		res.InfoFailed = true
	} else if res.InfoStatus != http.StatusOK {
		res.InfoFailed = true
	}
	h.kit.Render(c, http.StatusOK, "demo_callback", "demo_result_title", nil, res)
}

// exchangeCommands are the shell commands that trade code for tokens, run
// from the repository's directory: the README's, with the code and this
// server's address filled in. The secret is not on the page (anyone who
// reaches the server could read it); the commands fetch it.
func (h *Client) exchangeCommands(code string) string {
	iss := h.app.issuer()
	return "CLIENT_ID=$(go run ./cmd/enlace demo --json | jq -r .client_id)\n" +
		"CLIENT_SECRET=$(go run ./cmd/enlace demo --json | jq -r .client_secret)\n" +
		"CODE='" + code + "'\n" +
		"curl -s --fail-with-body " + iss + "/oauth/token -u \"$CLIENT_ID:$CLIENT_SECRET\" \\\n" +
		"  -d grant_type=authorization_code -d code=\"$CODE\" | jq .\n"
}

// demoFailed shows the callback page with an error and a way to start
// over.
func (h *Client) demoFailed(c *gin.Context, status int, res demoResult) {
	h.kit.Render(c, status, "demo_callback", "demo_failed_title", nil, res)
}

// demoInfo calls /api/d/info with the access token, as an app would to
// learn which store it was connected to; it returns the status and the
// body, indented when it is JSON.
func (h *Client) demoInfo(ctx context.Context, tok *oauth2.Token) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.app.issuer()+"/api/d/info", nil)
	if err != nil {
		return 0, "", err
	}
	tok.SetAuthHeader(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, demoMaxBody))
	if err != nil {
		return 0, "", fmt.Errorf("read /api/d/info: %w", err)
	}
	if p := prettyJSON(body); p != "" {
		return res.StatusCode, p, nil
	}
	return res.StatusCode, string(body), nil
}

// recordingTransport keeps the body of the last response it carried. It
// serves one exchange, so it needs no lock.
type recordingTransport struct {
	base http.RoundTripper
	body []byte
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, demoMaxBody))
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	t.body = body
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// prettyJSON indents a JSON document, or returns "" when it is not one.
func prettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return ""
	}
	return buf.String()
}

// Mount adds the demo's pages to r.
func (h *Client) Mount(r gin.IRoutes) {
	r.GET(PagePath, h.Page)
	r.POST(StartPath, h.Start)
	r.GET(CallbackPath, h.Callback)
}

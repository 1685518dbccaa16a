package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// The benchmark floor, served under /_floor/ by `enlace-bench serve` only:
// for each endpoint that the load measures, a minimal handler in the same
// binary, behind the same middleware, that does exactly the Redis round
// trips the endpoint does on its success path — the very same store
// scripts and reads (store.Transitions with fixed digests, LookupAccess,
// the session and limit calls) — and answers with a body of the size the
// load asks for (?size=, the real answer's; ?loc= for a redirect's
// Location). The report gives each endpoint's throughput as a ratio to its
// floor's. The token floors have an independent twin, the same store calls
// in a plain net/http process of its own (twin.go, `enlace-bench twin`).
//
// The floor authenticates nobody: it consumes any code or refresh token it
// is given. It is a measuring instrument, never for production, and the
// enlace binary does not contain it.
//
// Beside the floors:
//   - GET /_floor/memstats: the process's memory, for the report.
//   - GET /_floor/profile?seconds=N: a CPU profile of the process (pprof
//     format, N ≤ 25, default 10), to read while a scenario runs.
//   - GET /_floor/protected: resource.Authenticate and RequireScope in front
//     of a tiny handler, the resource-server middleware check measured in
//     this binary (its floor is GET /_floor/bearer).

// floor holds what the floor handlers use.
type floor struct {
	floorCalls
	h   server.Handles
	log *slog.Logger
}

// floorCalls are the Redis work of the token floors' success paths,
// shared by the floor in the server (floor.go) and its twin in a process
// of its own (twin.go), so that both run the very same store calls.
type floorCalls struct {
	st    *store.Store
	tx    store.Transitions
	fixed floorFixed
}

func newFloorCalls(st *store.Store) floorCalls {
	return floorCalls{st: st, tx: st.Transitions(), fixed: newFloorFixed()}
}

// floorFixed are the arguments that the real paths compute per call
// (digests of fresh tokens, a token record id, a sealed retry answer),
// made once: the same sizes, no per-call work.
type floorFixed struct {
	access, refresh, code, tokenID, sealed, session string
}

func newFloorFixed() floorFixed {
	connID := store.NewID()
	// The sealed retry answer is base64 of nonce, sealed JSON of the pair
	// and tag: the same length as the real one, whose content the script
	// only stores.
	pair, _ := json.Marshal(map[string]any{"tid": store.NewID(), "at": store.NewCredential(store.KindAccess, connID),
		"rt": store.NewCredential(store.KindRefresh, connID), "ate": time.Now().UnixMilli(),
		"rte": time.Now().UnixMilli(), "iat": time.Now().UnixMilli()})
	return floorFixed{
		access:  store.Digest(store.NewSecret()),
		refresh: store.Digest(store.NewSecret()),
		code:    store.Digest(store.NewSecret()),
		tokenID: store.NewID(),
		sealed:  base64.RawStdEncoding.EncodeToString(make([]byte, 12+len(pair)+16)),
		// A session's stored values: {"csrf":…,"merchant_id":…}.
		session: `{"csrf":"` + store.NewSecret() + `","merchant_id":"` + connID + `"}`,
	}
}

// floorExtension mounts the floor on the server.
func floorExtension(st *store.Store, log *slog.Logger) server.Extension {
	return func(r gin.IRouter, h server.Handles) {
		f := &floor{floorCalls: newFloorCalls(st), h: h, log: log}
		g := r.Group("/_floor")
		g.GET("/memstats", floorMemstats)
		g.GET("/profile", floorProfile)
		g.GET("/protected", resource.Authenticate(h.Verifier), resource.RequireScope(floorScope), floorProtected)
		g.POST("/token", f.token)
		g.POST("/introspect", f.introspect)
		g.GET("/bearer", f.bearer)
		g.GET("/login", f.loginPage)
		g.POST("/login", f.login)
		g.GET("/authorize", f.consentPage)
		g.POST("/authorize", f.approve)
	}
}

// floorMaxSize caps ?size= and ?loc=.
const floorMaxSize = 1 << 16

// floorFill is what floor bodies and Locations are cut from.
var floorFill = strings.Repeat("x", floorMaxSize)

// floorScope is what /_floor/protected requires.
const floorScope = "read:products"

// floorMemstats reports the process's memory.
func floorMemstats(c *gin.Context) {
	apierror.NoStore(c.Writer.Header())
	c.JSON(http.StatusOK, readMemStats())
}

// readMemStats is this process's memory (the Go heap in use, what the
// runtime holds from the OS), its goroutines and the CPU time it has used.
func readMemStats() memStats {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memStats{HeapAlloc: m.HeapAlloc, HeapInuse: m.HeapInuse, Sys: m.Sys, NumGC: m.NumGC,
		NumGoroutine: runtime.NumGoroutine(), CPUSeconds: processCPU()}
}

// floorProfile answers with a CPU profile taken over ?seconds=.
func floorProfile(c *gin.Context) {
	secs, _ := strconv.Atoi(c.Query("seconds"))
	if secs <= 0 || secs > 25 {
		secs = 10
	}
	c.Header("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(c.Writer); err != nil {
		apierror.WriteOAuth(c.Writer, apierror.New(apierror.TemporarilyUnavailable, "a profile is already running").WithStatus(http.StatusConflict))
		return
	}
	select {
	case <-time.After(time.Duration(secs) * time.Second):
	case <-c.Request.Context().Done():
	}
	pprof.StopCPUProfile()
}

// floorProtected is the tiny handler behind the middleware.
func floorProtected(c *gin.Context) {
	info, _ := resource.FromContext(c.Request.Context())
	apierror.NoStore(c.Writer.Header())
	// A struct, as an app's own handler would answer; a gin.H map costs
	// its sorting and reflection on every request.
	c.JSON(http.StatusOK, protectedAnswer{MerchantID: info.MerchantID, ConnectionID: info.ConnectionID,
		Scope: strings.Join(info.Scopes, " ")})
}

// protectedAnswer is floorProtected's body.
type protectedAnswer struct {
	MerchantID   string `json:"merchant_id"`
	ConnectionID string `json:"connection_id"`
	Scope        string `json:"scope"`
}

// answer writes status with a body of ?size= bytes (and a Location of
// ?loc= bytes when loc > 0), or a 400 when the floor work failed.
func (f *floor) answer(c *gin.Context, status int, contentType string, err error) {
	apierror.NoStore(c.Writer.Header())
	if err != nil {
		f.log.Error("floor", "route", c.FullPath(), "err", err)
		apierror.WriteOAuth(c.Writer, apierror.Request("floor: not the success path"))
		return
	}
	if loc := floorSize(c, "loc"); loc > 0 {
		c.Header("Location", "/_floor/cb?"+floorFill[:max(loc-len("/_floor/cb?"), 0)])
	}
	// Written as the twin writes it, without copying the body into a
	// []byte first (c.Data).
	c.Writer.Header()["Content-Type"] = []string{contentType}
	c.Status(status)
	_, _ = c.Writer.WriteString(floorFill[:floorSize(c, "size")])
}

func floorSize(c *gin.Context, name string) int { return floorSizeOf(c.Query(name)) }

// floorSizeOf reads a ?size= or ?loc= value, capped.
func floorSizeOf(v string) int {
	n, _ := strconv.Atoi(v)
	return min(max(n, 0), floorMaxSize)
}

const jsonType = "application/json; charset=utf-8"

// token is the token endpoint's floor: the exchange or refresh script on
// the code or refresh token in the form, with fixed digests.
func (f *floor) token(c *gin.Context) {
	client, _, _ := c.Request.BasicAuth()
	f.answer(c, http.StatusOK, jsonType, f.grant(c.Request.Context(), c.PostForm, client))
}

// grant is the token endpoint's Redis work on its success path: for the
// grant_type in form, the exchange or the refresh script on the form's code
// or refresh token, with the fixed digests, times from now and the
// store's lifetimes.
func (k floorCalls) grant(ctx context.Context, form func(string) string, client string) error {
	now := time.Now()
	lt := k.st.Lifetimes()
	switch form("grant_type") {
	case "authorization_code":
		code := form("code")
		connID, ok := store.ParseCredential(store.KindCode, code)
		if !ok {
			return errFloorRequest
		}
		res, err := k.tx.Exchange(ctx, connID, store.ExchangeArgs{Code: store.Digest(code), ClientID: client,
			Now: store.MillisOf(now), Access: k.fixed.access, Refresh: k.fixed.refresh,
			AccessExp: store.MillisOf(now.Add(lt.Access)), RefreshExp: store.MillisOf(now.Add(lt.Refresh)),
			TokenID: k.fixed.tokenID, Actor: store.ActorClient(client)})
		return succeeded(res, err)
	case "refresh_token":
		rt := form("refresh_token")
		connID, ok := store.ParseCredential(store.KindRefresh, rt)
		if !ok {
			return errFloorRequest
		}
		res, err := k.tx.Refresh(ctx, connID, store.RefreshArgs{Refresh: store.Digest(rt), ClientID: client,
			Now: store.MillisOf(now), Access: k.fixed.access, RefreshNew: k.fixed.refresh,
			AccessExp: store.MillisOf(now.Add(lt.Access)), RefreshExp: store.MillisOf(now.Add(lt.Refresh)),
			TokenID: k.fixed.tokenID, Sealed: k.fixed.sealed, RetryUntil: store.MillisOf(now.Add(lt.RetryWindow)),
			Actor: store.ActorClient(client)})
		return succeeded(res, err)
	}
	return errFloorRequest
}

// succeeded is nil when a transition took its success path.
func succeeded(res interface{ Succeeded() bool }, err error) error {
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if !res.Succeeded() {
		return errFloorRequest
	}
	return nil
}

// introspect is introspection's floor: the token's lookup.
func (f *floor) introspect(c *gin.Context) {
	f.answer(c, http.StatusOK, jsonType, f.lookup(c.Request.Context(), c.PostForm("token")))
}

// bearer is the floor of /api/d/info and of the middleware check: the
// bearer token's lookup.
func (f *floor) bearer(c *gin.Context) {
	tok, _ := resource.BearerToken(c.Request)
	f.answer(c, http.StatusOK, jsonType, f.lookup(c.Request.Context(), tok))
}

// lookup is a token check's Redis work: the access token's lookup (one
// HMGET).
func (k floorCalls) lookup(ctx context.Context, token string) error {
	_, err := k.st.LookupAccess(ctx, token)
	return err
}

const htmlType = "text/html; charset=utf-8"

// floorSessionTTL bounds what the floor writes: nothing of it outlives a
// benchmark for long.
const floorSessionTTL = 10 * time.Minute

// floorLimits are never reached: the floor counts attempts on its own keys
// (the "floor" kind and address; see store.LimitKeyPatterns).
var floorLimits = store.LoginLimits{PerAccount: 1 << 30, PerAddress: 1 << 30, Period: time.Minute}

// sessionID is the floor's session of merchant m.
func sessionID(m string) string { return "floor-" + m }

// loginPage is the login page's floor: one SET of a new session. Without
// ?m= it does no Redis work, as the authorize request of a browser without
// a session does (a redirect to the login page).
func (f *floor) loginPage(c *gin.Context) {
	var err error
	status := http.StatusOK
	if m := c.Query("m"); m != "" {
		err = f.st.SaveSession(c.Request.Context(), sessionID(m), []byte(f.fixed.session), floorSessionTTL)
	}
	if c.Query("loc") != "" {
		status = http.StatusFound
	}
	f.answer(c, status, htmlType, err)
}

// login is the login form's floor, in the order of a real login, without
// the password hash: load the session, count the attempt, find the
// merchant, renew and save the session, take the attempt back.
func (f *floor) login(c *gin.Context) {
	ctx, m, email := c.Request.Context(), c.Query("m"), c.Query("e")
	err := func() error {
		if _, err := f.st.LoadSession(ctx, sessionID(m)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := f.st.LoginAttempt(ctx, "floor", email, "floor", floorLimits); err != nil {
			return err
		}
		if _, err := f.st.FindMerchant(ctx, email); err != nil {
			return err
		}
		if err := f.st.DeleteSession(ctx, sessionID(m)); err != nil {
			return err
		}
		if err := f.st.SaveSession(ctx, sessionID(m), []byte(f.fixed.session), floorSessionTTL); err != nil {
			return err
		}
		return f.st.LoginSucceeded(ctx, "floor", email, "floor", floorLimits)
	}()
	f.answer(c, http.StatusSeeOther, htmlType, err)
}

// consentReads are the consent page's reads for a logged-in merchant: the
// session, then the merchant.
func (f *floor) consentReads(ctx context.Context, m string) error {
	if _, err := f.st.LoadSession(ctx, sessionID(m)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err := f.st.GetMerchant(ctx, m)
	return err
}

// consentPage is the consent page's floor. Without ?m= it does no Redis
// work and redirects, as /apps/authorize does for a browser without a
// session.
func (f *floor) consentPage(c *gin.Context) {
	m := c.Query("m")
	if m == "" {
		f.answer(c, http.StatusFound, htmlType, nil)
		return
	}
	f.answer(c, http.StatusOK, htmlType, f.consentReads(c.Request.Context(), m))
}

// approve is the consent form's floor: the page's reads and the approve
// script with its index entries, for the app ?c= (read through the cache,
// as the real authorize request does), with a fixed code digest and a
// record that expires with the floor's sessions.
func (f *floor) approve(c *gin.Context) {
	ctx, m := c.Request.Context(), c.Query("m")
	app, err := f.h.Apps(ctx, c.Query("c"))
	if err == nil && len(app.RedirectURIs) == 0 {
		err = errFloorRequest
	}
	if err == nil {
		err = f.consentReads(ctx, m)
	}
	if err == nil {
		now := time.Now()
		var res *store.ApproveResult
		res, err = f.tx.Approve(ctx, store.ApproveArgs{ID: store.NewID(), MerchantID: m, ClientID: app.ClientID,
			Scopes: strings.Join(app.Scopes, " "), Now: store.MillisOf(now), Code: f.fixed.code,
			CodeExp: store.MillisOf(now.Add(floorSessionTTL)), RedirectURI: app.RedirectURIs[0], Gen: app.Generation,
			Actor: store.ActorMerchant(m)})
		err = succeeded(res, err)
	}
	f.answer(c, http.StatusSeeOther, htmlType, err)
}

var errFloorRequest = errors.New("floor: not the success path")

package server

import (
	"errors"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// The benchmark floor, served under /_floor/ only when Options.Floor is set
// (bench.floor): for each endpoint that `enlace bench` measures, a minimal
// handler in the same binary, behind the same middleware, that does exactly
// the Redis round trips the endpoint does on its success path (the store's
// Floor methods: the same scripts over the same keys) and answers with a
// body of the size the benchmark asks for (?size=, the real answer's; ?loc=
// for a redirect's Location). The benchmark reports each endpoint's
// throughput as a ratio to its floor's.
//
// The floor authenticates nobody: it consumes any code or refresh token it
// is given. It is a measuring instrument, never for production.
//
// Beside the floors:
//   - GET /_floor/memstats: the process's memory, for the benchmark report.
//   - GET /_floor/profile?seconds=N: a CPU profile of the process (pprof
//     format, N ≤ 25, default 10), to read while a scenario runs.
//   - GET /_floor/protected: resource.Authenticate and RequireScope in front
//     of a tiny handler, the resource-server middleware check measured in
//     this binary (its floor is GET /_floor/bearer).

// floorMaxSize caps ?size= and ?loc=.
const floorMaxSize = 1 << 16

// floorFill is what floor bodies and Locations are cut from.
var floorFill = strings.Repeat("x", floorMaxSize)

// floorScope is what /_floor/protected requires.
const floorScope = "read:products"

func (s *Server) registerFloor(e *gin.Engine) {
	g := e.Group("/_floor")
	g.GET("/memstats", floorMemstats)
	g.GET("/profile", floorProfile)
	g.GET("/protected", resource.Authenticate(s.verifier), resource.RequireScope(floorScope), floorProtected)
	g.POST("/token", s.floorToken)
	g.POST("/introspect", s.floorIntrospect)
	g.GET("/bearer", s.floorBearer)
	g.GET("/login", s.floorLoginPage)
	g.POST("/login", s.floorLogin)
	g.GET("/authorize", s.floorConsentPage)
	g.POST("/authorize", s.floorApprove)
}

// floorMemstats reports the process's memory: the Go heap in use, what the
// runtime holds from the OS, and the goroutines.
func floorMemstats(c *gin.Context) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	noStore(c)
	c.JSON(http.StatusOK, gin.H{
		"heap_alloc":    m.HeapAlloc,
		"heap_inuse":    m.HeapInuse,
		"sys":           m.Sys,
		"num_gc":        m.NumGC,
		"num_goroutine": runtime.NumGoroutine(),
	})
}

// floorProfile answers with a CPU profile taken over ?seconds=.
func floorProfile(c *gin.Context) {
	secs, _ := strconv.Atoi(c.Query("seconds"))
	if secs <= 0 || secs > 25 {
		secs = 10
	}
	c.Header("Content-Type", "application/octet-stream")
	if err := pprof.StartCPUProfile(c.Writer); err != nil {
		c.JSON(http.StatusConflict, gin.H{"error": "busy", "error_description": err.Error()})
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
	noStore(c)
	c.JSON(http.StatusOK, gin.H{"merchant_id": info.MerchantID, "connection_id": info.ConnectionID,
		"scope": strings.Join(info.Scopes, " ")})
}

// floorAnswer writes status with a body of ?size= bytes (and a Location of
// ?loc= bytes when loc > 0), or a 400 when the floor work failed.
func (s *Server) floorAnswer(c *gin.Context, status int, contentType string, err error) {
	noStore(c)
	if err != nil {
		s.log.Error("floor", "route", c.FullPath(), "err", err)
		c.JSON(http.StatusBadRequest, gin.H{"error": "floor", "error_description": "not the success path"})
		return
	}
	if loc := floorSize(c, "loc"); loc > 0 {
		c.Header("Location", "/_floor/cb?"+floorFill[:max(loc-len("/_floor/cb?"), 0)])
	}
	c.Data(status, contentType, []byte(floorFill[:floorSize(c, "size")]))
}

func floorSize(c *gin.Context, name string) int {
	n, _ := strconv.Atoi(c.Query(name))
	return min(max(n, 0), floorMaxSize)
}

const jsonType = "application/json; charset=utf-8"

// floorToken is the token endpoint's floor: the exchange or refresh script
// on the code or refresh token in the form.
func (s *Server) floorToken(c *gin.Context) {
	ctx := c.Request.Context()
	var err error
	switch c.PostForm("grant_type") {
	case "authorization_code":
		err = s.store.FloorExchange(ctx, c.PostForm("code"), floorClient(c))
	case "refresh_token":
		err = s.store.FloorRefresh(ctx, c.PostForm("refresh_token"), floorClient(c))
	default:
		err = errFloorRequest
	}
	s.floorAnswer(c, http.StatusOK, jsonType, err)
}

// floorClient is the client id of the request's Basic credentials (not
// checked).
func floorClient(c *gin.Context) string {
	id, _, _ := c.Request.BasicAuth()
	return id
}

// floorIntrospect is introspection's floor: one HMGET of the token's
// connection.
func (s *Server) floorIntrospect(c *gin.Context) {
	s.floorAnswer(c, http.StatusOK, jsonType, s.store.FloorLookup(c.Request.Context(), c.PostForm("token")))
}

// floorBearer is the floor of /api/d/info and of the middleware check: one
// HMGET of the bearer token's connection.
func (s *Server) floorBearer(c *gin.Context) {
	tok, _ := resource.BearerToken(c.Request)
	s.floorAnswer(c, http.StatusOK, jsonType, s.store.FloorLookup(c.Request.Context(), tok))
}

const htmlType = "text/html; charset=utf-8"

// floorLoginPage is the login page's floor: one SET of a new session.
// Without ?m= it does no Redis work, as the authorize request of a
// browser without a session does (a redirect to the login page).
func (s *Server) floorLoginPage(c *gin.Context) {
	var err error
	status := http.StatusOK
	if m := c.Query("m"); m != "" {
		err = s.store.FloorLoginPage(c.Request.Context(), m)
	}
	if c.Query("loc") != "" {
		status = http.StatusFound
	}
	s.floorAnswer(c, status, htmlType, err)
}

// floorLogin is the login form's floor (without the password hash).
func (s *Server) floorLogin(c *gin.Context) {
	s.floorAnswer(c, http.StatusSeeOther, htmlType, s.store.FloorLogin(c.Request.Context(), c.Query("m"), c.Query("e")))
}

// floorConsentPage is the consent page's floor for a logged-in merchant:
// load the session and the merchant. Without ?m= it does no Redis work
// and redirects, as /apps/authorize does for a browser without a session.
func (s *Server) floorConsentPage(c *gin.Context) {
	m := c.Query("m")
	if m == "" {
		s.floorAnswer(c, http.StatusFound, htmlType, nil)
		return
	}
	s.floorAnswer(c, http.StatusOK, htmlType, s.store.FloorConsentPage(c.Request.Context(), m))
}

// floorApprove is the consent form's floor: the page's reads and
// Approve's pipeline, for the app ?c= (read through the cache, as the real
// authorize request does).
func (s *Server) floorApprove(c *gin.Context) {
	ctx := c.Request.Context()
	app, err := s.apps(ctx, c.Query("c"))
	if err == nil && len(app.RedirectURIs) == 0 {
		err = errFloorRequest
	}
	if err == nil {
		err = s.store.FloorApprove(ctx, store.Grant{ClientID: app.ClientID, MerchantID: c.Query("m"),
			RedirectURI: app.RedirectURIs[0], Scopes: app.Scopes})
	}
	s.floorAnswer(c, http.StatusSeeOther, htmlType, err)
}

var errFloorRequest = errors.New("floor: unknown grant_type")

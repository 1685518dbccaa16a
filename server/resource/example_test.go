package resource_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// newVerifier connects a resource server to the Redis that enlace uses. The
// app cache's Run must keep running for the server's lifetime: it is what
// makes a disabled app stop working here too.
func newVerifier(ctx context.Context) *resource.Verifier {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("ENLACE_REDIS_ADDR")})
	st := store.New(rdb, store.Options{})
	apps := store.NewAppCache(st, 5*time.Minute)
	go apps.Run(ctx, nil)
	return resource.NewVerifier(st, apps)
}

// A gin resource server: every /api route needs a live access token, and
// each route names the scopes it needs.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := newVerifier(ctx)

	r := gin.New()
	api := r.Group("/api", resource.Authenticate(v))
	api.GET("/checkouts", resource.RequireScope("read:checkouts"), func(c *gin.Context) {
		info, _ := resource.FromContext(c.Request.Context())
		c.JSON(http.StatusOK, gin.H{"merchant": info.MerchantID, "app": info.ClientID})
	})
	api.POST("/products", resource.RequireScope("write:products"), func(c *gin.Context) {
		c.Status(http.StatusCreated)
	})
	// Unauthenticated: 401 with WWW-Authenticate: Bearer realm="enlace".
	// Without read:checkouts: 403 with error="insufficient_scope".
	// Redis down: 503 temporarily_unavailable.
	log.Fatal(r.Run(":8081"))
}

// A plain net/http resource server: Handler does Authenticate and
// RequireScope in one.
func ExampleHandler() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := newVerifier(ctx)

	checkouts := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := resource.FromContext(r.Context())
		fmt.Fprintf(w, "checkouts of merchant %s\n", info.MerchantID)
		if resource.HasScope(r.Context(), "manage:checkouts") {
			fmt.Fprintln(w, "(and you may manage them)")
		}
	})
	mux := http.NewServeMux()
	mux.Handle("GET /checkouts", resource.Handler(v, checkouts, "read:checkouts"))
	log.Fatal(http.ListenAndServe(":8082", mux))
}

// Per-resource grants (issue 17): a merchant may grant read:stocks for
// some warehouses only. RequireResource reads the warehouse the request
// names and answers 403 insufficient_scope for one outside the grant;
// with net/http's ServeMux, ResourceHandler after Handler does the same.
func ExampleRequireResource() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := newVerifier(ctx)

	r := gin.New()
	warehouse := func(req *http.Request) string { return req.URL.Query().Get("warehouse") }
	r.GET("/api/stock", resource.Authenticate(v), resource.RequireResource("read:stocks", warehouse),
		func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"warehouse": c.Query("warehouse")}) })

	mux := http.NewServeMux()
	stock := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Or decide in the handler, for requests that name several.
		if !resource.Allows(req.Context(), "read:stocks", req.PathValue("id")) {
			http.Error(w, "not this warehouse", http.StatusForbidden)
			return
		}
		fmt.Fprintln(w, "stock of", req.PathValue("id"))
	})
	mux.Handle("GET /warehouses/{id}/stock", resource.Handler(v, stock, "read:stocks"))
	mux.Handle("GET /warehouses/{id}/orders", resource.Handler(v, resource.ResourceHandler(stock, "read:stocks",
		func(req *http.Request) string { return req.PathValue("id") }), "read:stocks"))
	log.Fatal(http.ListenAndServe(":8083", mux))
}

// A resource server checking enlace's tokens, runnable as it is: here
// enlace's Redis is an embedded one and the token is issued through the
// store, as the token endpoint would.
func Example_checkTokens() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	st := store.New(redis.NewClient(&redis.Options{Addr: m.Addr()}), store.Options{})
	apps := store.NewAppCache(st, 5*time.Minute)
	go apps.Run(ctx, nil)
	v := resource.NewVerifier(st, apps)

	// What the authorization server did: an app, a merchant's approval of
	// read:checkouts, and the code exchanged for a token.
	catalogue := []string{"read:checkouts", "manage:checkouts"}
	app, _, _ := st.CreateApp(ctx, store.AppSpec{Name: "Sync", RedirectURIs: []string{"https://sync.example/cb"},
		Scopes: catalogue}, catalogue)
	_, code, _ := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: "merchant-1",
		RedirectURI: "https://sync.example/cb", Scopes: []string{"read:checkouts"}})
	iss, _ := st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: app.ClientID})

	checkouts := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := resource.FromContext(r.Context())
		fmt.Fprintf(w, "checkouts of %s", info.MerchantID)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /checkouts", resource.Handler(v, checkouts, "read:checkouts"))
	mux.Handle("POST /checkouts/close", resource.Handler(v, checkouts, "manage:checkouts"))

	call := func(method, path, token string) {
		req := httptest.NewRequest(method, path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"), w.Body.String())
	}
	call("GET", "/checkouts", iss.AccessToken)
	call("GET", "/checkouts", "")
	call("POST", "/checkouts/close", iss.AccessToken)
	_ = st.RevokeConnection(ctx, iss.ConnectionID, store.ActorMerchant("merchant-1"))
	call("GET", "/checkouts", iss.AccessToken)
	// Output:
	// 200  checkouts of merchant-1
	// 401 Bearer realm="enlace" {"error":"invalid_token","error_description":"an access token is required in an Authorization: Bearer header"}
	// 403 Bearer realm="enlace", error="insufficient_scope", scope="manage:checkouts" {"error":"insufficient_scope","error_description":"the access token does not grant manage:checkouts","scope":"manage:checkouts"}
	// 401 Bearer realm="enlace", error="invalid_token" {"error":"invalid_token","error_description":"the access token is unknown, expired or revoked"}
}

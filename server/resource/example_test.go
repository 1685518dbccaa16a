package resource_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

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
	// Unauthenticated: 401 with WWW-Authenticate: Bearer realm="github.com/enlace-oauth/enlace".
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

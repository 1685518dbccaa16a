package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestRouteTable: the server's surface is its table, and nothing of the
// benchmark floor, a profiler or the demo is in it unless a binary mounts
// it as an extension.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	engine, ok := e.srv.Handler().(*gin.Engine)
	if !ok {
		t.Fatalf("the handler is a %T", e.srv.Handler())
	}
	routes := map[string]bool{}
	for _, r := range engine.Routes() {
		routes[r.Method+" "+r.Path] = true
		for _, banned := range []string{"/_floor", "/debug", "/demo"} {
			if strings.HasPrefix(r.Path, banned) {
				t.Errorf("route %s %s is in enlace's own surface", r.Method, r.Path)
			}
		}
	}
	for _, want := range []string{"GET /apps/authorize", "POST /apps/authorize", "POST /oauth/token",
		"POST /oauth/access-token", "POST /auth/v1/token", "POST /oauth/revoke", "POST /oauth/introspect", "POST /oauth/par",
		"GET /api/d/info", "GET /admin", "GET /admin/api/apps", "GET /metrics",
		"GET /developers", "POST /developers/apps", "GET /apps/:client_id/logo/:fingerprint",
		"POST /developers/apps/:client_id/webhook", "GET /developers/apps/:client_id/deliveries",
		"GET /admin/apps/:id/deliveries", "GET /admin/api/apps/:id/deliveries",
		"POST /admin/api/apps/:id/deliveries/:delivery_id/resend", "PUT /admin/api/connections/:id/resources"} {
		if !routes[want] {
			t.Errorf("the table lacks %s", want)
		}
	}
	if r := e.form("/_floor/token", nil); r.status != http.StatusNotFound || r.json["error"] != "not_found" {
		t.Errorf("/_floor/token: %d %s", r.status, r.raw)
	}
}

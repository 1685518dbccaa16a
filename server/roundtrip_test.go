package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/server/config"
)

// TestRedisRoundTripsPerRequest: on the success path a code exchange (in
// both dialects) and a refresh take one Redis round trip each, and
// introspection and /api/d/info one at most: the app comes from the
// in-process cache, the merchant from its cache, and the audit event is
// written by the transition's own script. Counted by a go-redis hook on the
// server's client, per request id.
func TestRedisRoundTripsPerRequest(t *testing.T) {
	t.Parallel()
	// The test is the trusted front proxy whose X-Request-Id is kept.
	e := newEnv(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1"} })
	codes := e.codes(4)
	ctx := context.Background()
	n := 0
	// send makes a request with its own id and returns the answer and the
	// Redis round trips it took.
	send := func(req *http.Request) (response, int) {
		t.Helper()
		n++
		id := fmt.Sprintf("roundtrip-%04d", n)
		req.Header.Set("X-Request-Id", id)
		r := e.send(req)
		if r.header.Get("X-Request-Id") != id {
			t.Fatalf("the request id did not come back: %q", r.header.Get("X-Request-Id"))
		}
		return r, e.calls.of(id)
	}
	ok := func(what string, r response) {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, r.status, r.raw)
		}
	}
	multivende := func(code string) *http.Request {
		body, _ := json.Marshal(map[string]string{"client_id": e.app.ClientID, "client_secret": e.secret,
			"grant_type": "authorization_code", "code": code})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/oauth/access-token", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	introspect := func(tok string) *http.Request {
		req := e.tokenRequest(ctx, url.Values{"token": {tok}})
		req.URL, _ = url.Parse(e.url + "/oauth/introspect")
		return req
	}

	// Warm up: the first calls load the scripts and fill the caches.
	first, _ := send(e.exchangeRequest(ctx, codes[0]))
	ok("warm-up exchange", first)
	r, _ := send(e.refreshRequest(ctx, first.json["refresh_token"].(string)))
	ok("warm-up refresh", r)
	warm, _ := send(e.infoRequest(ctx, r.json["access_token"].(string)))
	ok("warm-up info", warm)
	_, _ = send(multivende(codes[1]))

	for _, c := range []struct {
		name string
		req  func() *http.Request
		max  int
		min  int
	}{
		{"exchange (RFC 6749)", func() *http.Request { return e.exchangeRequest(ctx, codes[2]) }, 1, 1},
		{"exchange (Multivende)", func() *http.Request { return multivende(codes[3]) }, 1, 1},
		{"refresh", func() *http.Request { return e.refreshRequest(ctx, r.json["refresh_token"].(string)) }, 1, 1},
		{"introspection", func() *http.Request { return introspect(r.json["access_token"].(string)) }, 1, 0},
		{"/api/d/info", func() *http.Request { return e.infoRequest(ctx, r.json["access_token"].(string)) }, 1, 0},
	} {
		got, trips := send(c.req())
		if got.status != http.StatusOK {
			t.Errorf("%s: %d %s", c.name, got.status, got.raw)
			continue
		}
		if trips < c.min || trips > c.max {
			t.Errorf("%s took %d Redis round trips (%v), want %d to %d", c.name, trips, e.calls.what(got.header.Get("X-Request-Id")), c.min, c.max)
		}
		switch c.name {
		case "refresh":
			r = got
		case "introspection":
			if got.json["active"] != true {
				t.Errorf("introspection of a live token: %s", got.raw)
			}
		}
	}
}

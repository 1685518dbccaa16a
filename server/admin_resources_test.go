package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestResourcesAdminAPI: the platform sets and reads a merchant's
// resources of one type through the admin API; every bad request is
// refused in the admin API's style with nothing written.
func TestResourcesAdminAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	key, _, err := e.st.CreateAdminKey(ctx, "platform", 0)
	if err != nil {
		t.Fatal(err)
	}
	path := "/admin/api/merchants/" + e.merchant.ID + "/resources/warehouse"
	call := func(method, path, key, contentType, body string) response {
		t.Helper()
		req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		return e.send(req)
	}
	set := func(body string) response {
		t.Helper()
		return call(http.MethodPut, path, key, "application/json", body)
	}
	list := func(r response) []map[string]string {
		t.Helper()
		var out []map[string]string
		if err := json.Unmarshal([]byte(r.raw), &out); err != nil || out == nil {
			t.Fatalf("not a JSON array: %d %s", r.status, r.raw)
		}
		return out
	}

	// No key, or a wrong one: 401, and nothing read or written.
	for name, k := range map[string]string{"missing": "", "wrong": "ek-" + store.NewSecret()} {
		for _, m := range []string{http.MethodGet, http.MethodPut} {
			r := call(m, path, k, "application/json", `[{"id":"W1","name":"Bodega"}]`)
			if r.status != http.StatusUnauthorized || r.json["error"] != "invalid_token" || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s key, %s: %d %s", name, m, r.status, r.raw)
			}
		}
	}

	r := call(http.MethodGet, path, key, "", "")
	if r.status != http.StatusOK || r.raw != "[]" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("none yet: %d %q", r.status, r.raw)
	}
	r = call(http.MethodPut, path, key, "application/json; charset=utf-8",
		`[{"id":"W2","name":"Bodega Norte"},{"id":"W1","name":" Bodega Central "}]`)
	got := list(r)
	if r.status != http.StatusOK || len(got) != 2 || got[0]["id"] != "W1" || got[0]["name"] != "Bodega Central" || got[1]["id"] != "W2" {
		t.Fatalf("PUT: %d %s", r.status, r.raw)
	}
	r = call(http.MethodGet, path, key, "", "")
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET: %d %s", r.status, r.raw)
	}
	// What a GET answers can be PUT back as it is: nothing changes.
	before := redistest.Snapshot(t, e.rdb)
	if again := set(r.raw); again.status != http.StatusOK || again.raw != r.raw {
		t.Fatalf("PUT of the GET's answer: %d %s, want %s", again.status, again.raw, r.raw)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	events, _, err := e.st.ListAudit(ctx, store.AuditFilter{MerchantID: e.merchant.ID}, "", 10)
	if err != nil || len(events) != 1 || events[0].Type != store.EventResources || events[0].Actor != "admin-key:platform" {
		t.Fatalf("audit: %+v %v", events, err)
	}
	// Another type is its own set.
	if r := call(http.MethodPut, "/admin/api/merchants/"+e.merchant.ID+"/resources/channel", key, "application/json",
		`[{"id":"C1","name":"Mercado Libre"}]`); r.status != http.StatusOK {
		t.Fatalf("channel: %d %s", r.status, r.raw)
	}
	if got := list(call(http.MethodGet, path, key, "", "")); len(got) != 2 {
		t.Fatalf("warehouses after a channel: %v", got)
	}

	// 1,000 resources take more than the 64 KiB of other bodies.
	var big strings.Builder
	big.WriteString("[")
	for i := range store.MaxResources {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `{"id":"%036d","name":"Bodega número %d de la región metropolitana de Santiago"}`, i, i)
	}
	big.WriteString("]")
	if big.Len() < 64<<10 {
		t.Fatalf("the big body is only %d bytes", big.Len())
	}
	if r := set(big.String()); r.status != http.StatusOK || len(list(r)) != store.MaxResources {
		t.Fatalf("1000 resources (%d bytes): %d %.200s", big.Len(), r.status, r.raw)
	}
	if r := set(`[{"id":"W1","name":"Bodega Central"},{"id":"W2","name":"Bodega Norte"}]`); r.status != http.StatusOK {
		t.Fatalf("back to two: %d %s", r.status, r.raw)
	}

	tooMany := make([]string, store.MaxResources+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf(`{"id":"W%d","name":"B"}`, i)
	}
	before = redistest.Snapshot(t, e.rdb)
	events, _, _ = e.st.ListAudit(ctx, store.AuditFilter{MerchantID: e.merchant.ID}, "", 100)
	other := "/admin/api/merchants/" + store.NewID() + "/resources/warehouse"
	for name, c := range map[string]struct {
		method, path, contentType, body string
		status                          int
		says                            string
	}{
		"unknown type":          {http.MethodPut, "/admin/api/merchants/" + e.merchant.ID + "/resources/planet", "application/json", `[]`, 404, `no resource type "planet"; the types are warehouse, channel, store`},
		"unknown type, GET":     {http.MethodGet, "/admin/api/merchants/" + e.merchant.ID + "/resources/planet", "", "", 404, `no resource type "planet"`},
		"unknown merchant":      {http.MethodPut, other, "application/json", `[]`, 404, "no merchant with this id"},
		"unknown merchant, GET": {http.MethodGet, other, "", "", 404, "no merchant with this id"},
		"no content type":       {http.MethodPut, path, "", `[]`, 415, "application/json"},
		"a form":                {http.MethodPut, path, "application/x-www-form-urlencoded", `id=W1`, 415, "application/json"},
		"text":                  {http.MethodPut, path, "text/plain", `[]`, 415, "application/json"},
		"empty body":            {http.MethodPut, path, "application/json", ``, 400, "a JSON array"},
		"an object":             {http.MethodPut, path, "application/json", `{"id":"W1","name":"B"}`, 400, "a JSON array"},
		"null":                  {http.MethodPut, path, "application/json", `null`, 400, "a JSON array"},
		"malformed":             {http.MethodPut, path, "application/json", `[{"id":"W1",}]`, 400, "malformed"},
		"two values":            {http.MethodPut, path, "application/json", `[] []`, 400, "more than one JSON value"},
		"a key twice":           {http.MethodPut, path, "application/json", `[{"id":"W1","name":"A","id":"W9"}]`, 400, `gives "id" twice`},
		"bad UTF-8":             {http.MethodPut, path, "application/json", "[{\"id\":\"W1\",\"name\":\"Bodega \xff\"}]", 400, "not valid UTF-8"},
		"an unknown member":     {http.MethodPut, path, "application/json", `[{"id":"W1","name":"A","city":"Santiago"}]`, 400, `unknown field "city"`},
		"a number id":           {http.MethodPut, path, "application/json", `[{"id":1,"name":"A"}]`, 400, "strings"},
		"empty id":              {http.MethodPut, path, "application/json", `[{"id":"W1","name":"A"},{"name":"B"}]`, 400, "resources[1]: the id is empty"},
		"duplicate id":          {http.MethodPut, path, "application/json", `[{"id":"W1","name":"A"},{"id":"W1","name":"B"}]`, 400, `resources[1]: id "W1" is given twice`},
		"long id":               {http.MethodPut, path, "application/json", `[{"id":"` + strings.Repeat("x", 129) + `","name":"A"}]`, 400, "longer than 128 bytes"},
		"long name":             {http.MethodPut, path, "application/json", `[{"id":"W1","name":"` + strings.Repeat("ñ", 201) + `"}]`, 400, "longer than 200 characters"},
		"control in a name":     {http.MethodPut, path, "application/json", `[{"id":"W1","name":"Bodega\nNorte"}]`, 400, "control"},
		"too many":              {http.MethodPut, path, "application/json", "[" + strings.Join(tooMany, ",") + "]", 400, "1001 resources, more than the 1000 allowed"},
		"over 1 MiB":            {http.MethodPut, path, "application/json", "[" + strings.Repeat(" ", 1<<20) + "]", 413, "larger than 1 MiB"},
	} {
		r := call(c.method, c.path, key, c.contentType, c.body)
		if r.status != c.status || !strings.Contains(fmt.Sprint(r.json["error_description"]), c.says) {
			t.Errorf("%s: %d %.300s, want %d saying %s", name, r.status, r.raw, c.status, c.says)
			continue
		}
		assertOAuthError(t, r, c.status, map[int]string{400: "invalid_request", 404: "not_found", 413: "invalid_request",
			415: "unsupported_media_type"}[c.status])
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	if after, _, _ := e.st.ListAudit(ctx, store.AuditFilter{MerchantID: e.merchant.ID}, "", 100); len(after) != len(events) {
		t.Fatalf("refusals were audited: %d events, were %d", len(after), len(events))
	}

	// None.
	if r := set(`[]`); r.status != http.StatusOK || r.raw != "[]" {
		t.Fatalf("PUT []: %d %s", r.status, r.raw)
	}
	if r := call(http.MethodGet, path, key, "", ""); r.raw != "[]" {
		t.Fatalf("GET after []: %s", r.raw)
	}

	// The admin audit page names the events, filtered by the merchant.
	p := e.adminBrowser().get("/admin/audit?merchant=" + e.merchant.Email)
	found := false
	for _, l := range auditLines(p.body) {
		found = found || l.typ == "resources" && strings.Contains(l.text, "Recursos del comercio") &&
			strings.Contains(l.text, "platform") && strings.Contains(l.text, "warehouse: 0 resources; 0 added, 2 removed, 0 renamed")
	}
	if !found {
		t.Fatalf("no resources event on the audit page: %q", auditLines(p.body))
	}
}

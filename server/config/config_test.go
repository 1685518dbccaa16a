package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/server/config"
)

func TestDefaults(t *testing.T) {
	c, err := config.Load(enlace.DefaultConfig, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:8080" || c.Issuer != "http://127.0.0.1:8080" || c.Redis.Addr != "" ||
		c.HTTP.AccessLog != config.AccessLogAll || c.Runtime.GCPercent != 200 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.Tokens.Code != 24*time.Hour || c.Tokens.Access != 6*time.Hour || c.Tokens.Refresh != 48*time.Hour {
		t.Fatalf("lifetimes: %+v", c.Tokens)
	}
	for _, s := range c.Scopes {
		if s.ES == "" || s.EN == "" {
			t.Fatalf("scope %s lacks a description", s.Name)
		}
	}
	if _, ok := c.Scopes.Lookup("read:checkouts"); !ok || len(c.Scopes) < 21 {
		t.Fatalf("catalogue: %d scopes", len(c.Scopes))
	}
}

func TestFileThenEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "enlace.yaml")
	if err := os.WriteFile(path, []byte("redis:\n  addr: file:6379\ntokens:\n  access_lifetime: 1h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(enlace.DefaultConfig, path, true, []string{
		"ENLACE_HTTP_ADDR=0.0.0.0:9000", "ENLACE_ISSUER=https://auth.example.com", "ENLACE_REDIS_DB=3",
		"ENLACE_TOKENS_REFRESH_LIFETIME=72h", "ENLACE_SESSION_SECRET=" + strings.Repeat("s", 32),
		"ENLACE_HTTP_ACCESS_LOG=failures", "ENLACE_RUNTIME_GC_PERCENT=0",
		`ENLACE_SCOPES=[{"name":"a:b","es":"A","en":"A"}]`, "UNRELATED=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "0.0.0.0:9000" || c.Issuer != "https://auth.example.com" || !c.Secure() ||
		c.Redis.Addr != "file:6379" || c.Redis.DB != 3 || c.Tokens.Access != time.Hour ||
		c.Tokens.Refresh != 72*time.Hour || c.Tokens.Code != 24*time.Hour || len(c.Scopes) != 1 ||
		c.HTTP.AccessLog != config.AccessLogFailures || c.Runtime.GCPercent != 0 {
		t.Fatalf("overrides: %+v", c)
	}
	if _, err := config.Load(enlace.DefaultConfig, filepath.Join(t.TempDir(), "missing.yaml"), true, nil); err == nil {
		t.Fatal("an explicitly named missing file must be an error")
	}
}

func TestInvalid(t *testing.T) {
	for name, env := range map[string]string{
		"issuer with slash":  "ENLACE_ISSUER=https://auth.example.com/",
		"relative issuer":    "ENLACE_ISSUER=auth.example.com",
		"zero lifetime":      "ENLACE_TOKENS_ACCESS_LIFETIME=0s",
		"bad duration":       "ENLACE_TOKENS_ACCESS_LIFETIME=soon",
		"short secret":       "ENLACE_SESSION_SECRET=short",
		"bad scopes JSON":    "ENLACE_SCOPES=read:products",
		"duplicate scope":    `ENLACE_SCOPES=[{"name":"a"},{"name":"a"}]`,
		"scope with a space": `ENLACE_SCOPES=[{"name":"a b"}]`,
		"sub-second sign-in": "ENLACE_TOKENS_PASSWORD_ACCESS_LIFETIME=500us",
		"sign-in over 48 h":  "ENLACE_TOKENS_PASSWORD_ACCESS_LIFETIME=49h",
		"short passwords":    "ENLACE_REGISTRATION_MIN_PASSWORD_LENGTH=4",
		"unknown redis mode": "ENLACE_REDIS_MODE=galaxy",
		"cluster, no seeds":  "ENLACE_REDIS_MODE=cluster",
		"sentinel, no name":  "ENLACE_REDIS_MODE=sentinel\nENLACE_REDIS_ADDRS=127.0.0.1:26379",
		"addrs, no mode":     "ENLACE_REDIS_ADDRS=127.0.0.1:7000",
		"cluster and addr":   "ENLACE_REDIS_MODE=cluster\nENLACE_REDIS_ADDRS=127.0.0.1:7000\nENLACE_REDIS_ADDR=127.0.0.1:6379",
		"TLS file, TLS off":  "ENLACE_REDIS_TLS_CA_FILE=/etc/ca.pem",
		"unknown access log": "ENLACE_HTTP_ACCESS_LOG=errors",
		"GC target too low":  "ENLACE_RUNTIME_GC_PERCENT=10",
		"GC target too high": "ENLACE_RUNTIME_GC_PERCENT=5000",
		"GC off":             "ENLACE_RUNTIME_GC_PERCENT=-1",
	} {
		if _, err := config.Load(enlace.DefaultConfig, "", false, strings.Split(env, "\n")); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRedisTopologies: the three modes and what each needs.
func TestRedisTopologies(t *testing.T) {
	c, err := config.Load(enlace.DefaultConfig, "", false, []string{"ENLACE_REDIS_MODE=cluster",
		"ENLACE_REDIS_ADDRS=127.0.0.1:7000,127.0.0.1:7001", "ENLACE_REDIS_USERNAME=enlace", "ENLACE_REDIS_TLS_ENABLED=true"})
	if err != nil || c.Redis.Mode != config.RedisCluster || len(c.Redis.Addrs) != 2 || c.Redis.Embedded() ||
		c.Redis.Username != "enlace" || !c.Redis.TLS.Enabled {
		t.Fatalf("cluster: %+v %v", c.Redis, err)
	}
	c, err = config.Load(enlace.DefaultConfig, "", false, []string{"ENLACE_REDIS_MODE=sentinel",
		"ENLACE_REDIS_ADDRS=127.0.0.1:26379", "ENLACE_REDIS_MASTER_NAME=enlace"})
	if err != nil || c.Redis.Embedded() || c.Redis.MasterName != "enlace" {
		t.Fatalf("sentinel: %+v %v", c.Redis, err)
	}
	c, err = config.Load(enlace.DefaultConfig, "", false, nil)
	if err != nil || c.Redis.Mode != config.RedisSingle || !c.Redis.Embedded() {
		t.Fatalf("default: %+v %v", c.Redis, err)
	}
}

// TestResourceTypes: the default catalogue binds the stock scopes to
// warehouses and read:channels to channels; the types and the bindings
// can be changed in a file or the environment, and a binding to a type
// that is not configured, a bad type name or bad JSON is refused, naming
// what.
func TestResourceTypes(t *testing.T) {
	c, err := config.Load(enlace.DefaultConfig, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.ResourceTypes.Names(), " "); got != "warehouse channel store" {
		t.Fatalf("default types: %s", got)
	}
	for _, rt := range c.ResourceTypes {
		if rt.ES == "" || rt.EN == "" || rt.ESOne == "" || rt.ENOne == "" {
			t.Errorf("type %s lacks a label: %+v", rt.Name, rt)
		}
	}
	if wh, _ := c.ResourceTypes.Lookup("warehouse"); wh.Label("es", 2) != "Bodegas" || wh.Label("en", 1) != "Warehouse" {
		t.Errorf("warehouse labels: %+v", wh)
	}
	for scope, typ := range map[string]string{"read:stocks": "warehouse", "write:stocks": "warehouse",
		"read:channels": "channel", "read:products": "", "read:warehouses": ""} {
		if got := c.Scopes.ResourceOf(scope); got != typ {
			t.Errorf("%s is bound to %q, want %q", scope, got, typ)
		}
	}
	if sc, ok := c.Scopes.Lookup("read:channels"); !ok || sc.ES == "" || sc.EN == "" {
		t.Errorf("read:channels: %+v", sc)
	}

	// The environment: both lists replaced, a binding in ENLACE_SCOPES.
	c, err = config.Load(enlace.DefaultConfig, "", false, []string{
		`ENLACE_RESOURCE_TYPES=[{"name":"sales_channel","es":"Canales","en":"Channels"}]`,
		`ENLACE_SCOPES=[{"name":"read:orders","es":"Ver","en":"See","resource":"sales_channel"},{"name":"read:products"}]`,
	})
	if err != nil || len(c.ResourceTypes) != 1 || c.Scopes.ResourceOf("read:orders") != "sales_channel" ||
		c.Scopes.ResourceOf("read:products") != "" {
		t.Fatalf("from the environment: %+v %+v %v", c.ResourceTypes, c.Scopes, err)
	}
	// A file.
	path := filepath.Join(t.TempDir(), "enlace.yaml")
	if err := os.WriteFile(path, []byte("resource_types:\n  - {name: shop, es: Tiendas, en: Shops}\n"+
		"scopes:\n  - {name: read:stocks, es: Ver, en: See, resource: shop}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = config.Load(enlace.DefaultConfig, path, true, nil); err != nil || c.Scopes.ResourceOf("read:stocks") != "shop" {
		t.Fatalf("from a file: %+v %v", c, err)
	}

	for name, tc := range map[string]struct{ env, says string }{
		"scope bound to an unknown type": {`ENLACE_SCOPES=[{"name":"read:stocks","resource":"planet"}]`,
			`scope "read:stocks" is bound to resource type "planet", which is not in resource_types`},
		"the default bindings without their types": {`ENLACE_RESOURCE_TYPES=[]`,
			`scope "read:stocks" is bound to resource type "warehouse", which is not in resource_types (none is configured)`},
		"bad resource types JSON": {`ENLACE_RESOURCE_TYPES=warehouse`, "ENLACE_RESOURCE_TYPES"},
		"a misspelt key in ENLACE_RESOURCE_TYPES": {`ENLACE_RESOURCE_TYPES=[{"name":"w","es":"W","en":"W","es_uno":"X"}]`,
			`unknown field "es_uno"`},
		"a misspelt resource in ENLACE_SCOPES": {`ENLACE_SCOPES=[{"name":"read:stocks","resorce":"warehouse"}]`,
			`unknown field "resorce"`},
		"a resource that is not a string": {`ENLACE_SCOPES=[{"name":"read:stocks","resource":1}]`, "ENLACE_SCOPES"},
		"an uppercase type":               {`ENLACE_RESOURCE_TYPES=[{"name":"Warehouse","es":"B","en":"W"}]`, "lowercase identifier"},
		"a type with a dash":              {`ENLACE_RESOURCE_TYPES=[{"name":"sales-channel","es":"C","en":"C"}]`, "lowercase identifier"},
		"an empty type name":              {`ENLACE_RESOURCE_TYPES=[{"es":"C","en":"C"}]`, "lowercase identifier"},
		"a type twice": {`ENLACE_RESOURCE_TYPES=[{"name":"w","es":"W","en":"W"},{"name":"w","es":"W","en":"W"}]`,
			`resource type "w" is listed twice`},
		"a type without its English name": {`ENLACE_RESOURCE_TYPES=[{"name":"w","es":"Bodegas"}]`,
			`resource type "w" needs its name in Spanish (es) and English (en)`},
	} {
		_, err := config.Load(enlace.DefaultConfig, "", false, []string{tc.env})
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want it to say %s", name, err, tc.says)
		}
	}
}

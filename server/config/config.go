// Package config loads enlace's configuration: the defaults compiled into
// the binary (the repository's config.yaml), then an optional config file,
// then ENLACE_* environment variables, each overriding the one before.
package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"

	"github.com/enlace-oauth/enlace/store"
)

// Config is the whole configuration. Every field can be set in config.yaml
// and overridden by the environment variable named in its env tag, with the
// ENLACE_ prefix (ENLACE_HTTP_ADDR, ENLACE_REDIS_ADDR, …).
type Config struct {
	HTTP    HTTP            `yaml:"http" envPrefix:"HTTP_"`
	Issuer  string          `yaml:"issuer" env:"ISSUER"`
	Redis   Redis           `yaml:"redis" envPrefix:"REDIS_"`
	Tokens  Lifetimes       `yaml:"tokens" envPrefix:"TOKENS_"`
	Session Session         `yaml:"session" envPrefix:"SESSION_"`
	Scopes  store.Catalogue `yaml:"scopes" env:"SCOPES"`
	// ResourceTypes are the kinds of merchants' resources that scopes of
	// the catalogue can be bound to (Scope.Resource).
	ResourceTypes store.ResourceTypes `yaml:"resource_types" env:"RESOURCE_TYPES"`
	// Introspection lists the resource servers that may introspect any
	// token (apps may introspect only their own).
	Introspection Introspection `yaml:"introspection" envPrefix:"INTROSPECTION_"`
	LoginLimits   LoginLimits   `yaml:"login_limits" envPrefix:"LOGIN_LIMITS_"`
	Audit         Audit         `yaml:"audit" envPrefix:"AUDIT_"`
	Maintenance   Maintenance   `yaml:"maintenance" envPrefix:"MAINTENANCE_"`
	Metrics       Metrics       `yaml:"metrics" envPrefix:"METRICS_"`
	Registration  Registration  `yaml:"registration" envPrefix:"REGISTRATION_"`
	Embedded      Embedded      `yaml:"embedded" envPrefix:"EMBEDDED_"`
	Developers    Developers    `yaml:"developers" envPrefix:"DEVELOPERS_"`
	Webhooks      Webhooks      `yaml:"webhooks" envPrefix:"WEBHOOKS_"`
	Encryption    Encryption    `yaml:"encryption" envPrefix:"ENCRYPTION_"`
	OIDC          OIDC          `yaml:"oidc" envPrefix:"OIDC_"`
	PAR           PAR           `yaml:"par" envPrefix:"PAR_"`
	DPoP          DPoP          `yaml:"dpop" envPrefix:"DPOP_"`
	Runtime       Runtime       `yaml:"runtime" envPrefix:"RUNTIME_"`
}

// Runtime tunes the Go runtime of `serve`.
type Runtime struct {
	// GCPercent is the garbage collector's target, Go's GOGC: how far, in
	// percent of the live heap, the heap may grow before the next
	// collection. 0 leaves Go's own (100). GOGC in the environment, when
	// set, wins over it.
	GCPercent int `yaml:"gc_percent" env:"GC_PERCENT"`
}

// The bounds of runtime.gc_percent (besides 0).
const (
	MinGCPercent = 50
	MaxGCPercent = 1000
)

// PAR configures pushed authorization requests (RFC 9126).
type PAR struct {
	// Lifetime is how long a request_uri may wait to be presented at the
	// authorization endpoint (its expires_in).
	Lifetime time.Duration `yaml:"lifetime" env:"LIFETIME"`
	// Require makes every app push its authorization requests.
	Require bool `yaml:"require" env:"REQUIRE"`
	// PublicPerAddress bounds a public app's pushes per client address
	// and minute: a public app authenticates with its client id alone.
	PublicPerAddress int `yaml:"public_per_address" env:"PUBLIC_PER_ADDRESS"`
}

// DPoP configures the checks of DPoP proofs (RFC 9449).
type DPoP struct {
	// ProofMaxAge is how old a proof's iat may be, and ClockSkew how far
	// ahead; a proof's jti is remembered for their sum.
	ProofMaxAge time.Duration `yaml:"proof_max_age" env:"PROOF_MAX_AGE"`
	ClockSkew   time.Duration `yaml:"clock_skew" env:"CLOCK_SKEW"`
	// RequireNonce makes every proof carry a nonce enlace handed out
	// (DPoP-Nonce), which NonceStep renews.
	RequireNonce bool          `yaml:"require_nonce" env:"REQUIRE_NONCE"`
	NonceStep    time.Duration `yaml:"nonce_step" env:"NONCE_STEP"`
}

// OIDC configures enlace as an OpenID Provider: its ID tokens and the
// keys that sign them.
type OIDC struct {
	// IDTokenLifetime is how long an ID token is valid.
	IDTokenLifetime time.Duration `yaml:"id_token_lifetime" env:"ID_TOKEN_LIFETIME"`
	Keys            OIDCKeys      `yaml:"keys" envPrefix:"KEYS_"`
}

// OIDCKeys is the schedule of the ID-token signing keys.
type OIDCKeys struct {
	// RotateEvery is how long a key signs before the next takes over.
	RotateEvery time.Duration `yaml:"rotate_every" env:"ROTATE_EVERY"`
	// PublishAhead is how long a new key is in the JWKS before it signs.
	PublishAhead time.Duration `yaml:"publish_ahead" env:"PUBLISH_AHEAD"`
}

// KeyPolicy is the signing keys' schedule: a superseded key stays
// published as long as an ID token it signed can live, plus five minutes
// for the clocks of those who verify.
func (o OIDC) KeyPolicy() store.KeyPolicy {
	return store.KeyPolicy{RotateEvery: o.Keys.RotateEvery, PublishAhead: o.Keys.PublishAhead,
		Retain: o.IDTokenLifetime + 5*time.Minute}
}

// Webhooks configures the delivery of apps' lifecycle webhooks.
type Webhooks struct {
	// Timeout bounds one attempt: a 2xx within it is delivered.
	Timeout time.Duration `yaml:"timeout" env:"TIMEOUT"`
	// RetrySchedule is the wait before each retry of a failed attempt
	// (with jitter); after the last, the delivery has failed.
	RetrySchedule []time.Duration `yaml:"retry_schedule" env:"RETRY_SCHEDULE" envSeparator:","`
	// DisableAfter disables an endpoint that has failed this long without
	// one success.
	DisableAfter time.Duration `yaml:"disable_after" env:"DISABLE_AFTER"`
	// AllowPrivateTargets lets endpoints be http and on private or
	// loopback addresses: for development and tests only.
	AllowPrivateTargets bool `yaml:"allow_private_targets" env:"ALLOW_PRIVATE_TARGETS"`
	// Concurrency bounds each instance's attempts in flight.
	Concurrency int `yaml:"concurrency" env:"CONCURRENCY"`
	// PollInterval is how often an idle instance looks for work that
	// another instance's changes made.
	PollInterval time.Duration `yaml:"poll_interval" env:"POLL_INTERVAL"`
	// TakeoverAfter is how long work taken by an instance that stopped
	// (an event read, an attempt begun) waits before another takes it.
	TakeoverAfter time.Duration `yaml:"takeover_after" env:"TAKEOVER_AFTER"`
	// Retention is how long deliveries are kept and listed.
	Retention time.Duration `yaml:"retention" env:"RETENTION"`
}

// Encryption configures the key that seals what enlace must read back.
type Encryption struct {
	// Key is 32 bytes in base64 (openssl rand -base64 32).
	Key string `yaml:"key" env:"KEY"`
}

// KeyBytes decodes the key; nil when none is configured.
func (e Encryption) KeyBytes() ([]byte, error) {
	if e.Key == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(e.Key))
	if err != nil || len(b) != store.EncryptionKeyBytes {
		return nil, fmt.Errorf("config: encryption.key must be %d bytes in base64 (openssl rand -base64 %d)",
			store.EncryptionKeyBytes, store.EncryptionKeyBytes)
	}
	return b, nil
}

// Developers configures the developer portal (/developers).
type Developers struct {
	// Signup is who may open a developer account: SignupOpen (anyone) or
	// SignupInvite (only someone an admin invited).
	Signup string `yaml:"signup" env:"SIGNUP"`
	// AppsPerDay is how many apps one developer may register in 24 hours,
	// in the portal and at /oauth/register together.
	AppsPerDay int `yaml:"apps_per_day" env:"APPS_PER_DAY"`
}

// Developer sign-up modes.
const (
	SignupOpen   = "open"
	SignupInvite = "invite"
)

// Embedded configures the zero-setup mode, when no Redis is configured.
type Embedded struct {
	// Dir holds the embedded mode's files: the demo's credentials, kept
	// so that they stay the same across restarts, and, while a server
	// runs, how the admin commands reach its Redis.
	Dir string `yaml:"dir" env:"DIR"`
}

// Registration configures merchants' own sign-up (POST /v1/users).
type Registration struct {
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// PerAddress sign-ups from one client address in each Period.
	PerAddress int           `yaml:"per_address" env:"PER_ADDRESS"`
	Period     time.Duration `yaml:"period" env:"PERIOD"`
	// MinPasswordLength is the shortest password accepted, in characters.
	MinPasswordLength int `yaml:"min_password_length" env:"MIN_PASSWORD_LENGTH"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Addr, when set, serves /metrics on its own listener (e.g. one only the
	// monitoring network reaches) instead of the main one.
	Addr string `yaml:"addr" env:"ADDR"`
}

// Introspection configures RFC 7662 token introspection.
type Introspection struct {
	Clients ResourceServers `yaml:"clients" env:"CLIENTS"`
}

// ResourceServer is a credential that may introspect any token. Only the
// SHA-256 of its secret is configured.
type ResourceServer struct {
	ID           string `yaml:"id" json:"id"`
	SecretSHA256 string `yaml:"secret_sha256" json:"secret_sha256"`
}

// ResourceServers is the list of introspection credentials.
type ResourceServers []ResourceServer

// UnmarshalText reads the list from JSON, its form in
// ENLACE_INTROSPECTION_CLIENTS.
func (r *ResourceServers) UnmarshalText(b []byte) error {
	var v []ResourceServer
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("introspection clients: want a JSON list of {id, secret_sha256}: %w", err)
	}
	*r = v
	return nil
}

// LoginLimits bound failed logins, in Redis so that they hold across
// instances.
type LoginLimits struct {
	// PerAccount failed attempts per Period for one email.
	PerAccount int `yaml:"per_account" env:"PER_ACCOUNT"`
	// PerAddress failed attempts per Period from one client address.
	PerAddress int           `yaml:"per_address" env:"PER_ADDRESS"`
	Period     time.Duration `yaml:"period" env:"PERIOD"`
}

// Audit configures the audit trail.
type Audit struct {
	// MaxLength bounds the audit stream (approximately, oldest dropped).
	MaxLength int64 `yaml:"max_length" env:"MAX_LENGTH"`
}

// Maintenance tunes the background work that one instance at a time does
// (store.RunMaintenance): the clean-up after app-wide revocations and the
// trimming of expired index entries.
type Maintenance struct {
	// Lease is how long an instance holds the work without renewing it:
	// how soon another takes over when the holder dies.
	Lease time.Duration `yaml:"lease" env:"LEASE"`
	// Interval is the pause between two clean-up batches.
	Interval time.Duration `yaml:"interval" env:"INTERVAL"`
	// Batch is how many connections one clean-up batch revokes.
	Batch int `yaml:"batch" env:"BATCH"`
}

// HTTP is the listener.
type HTTP struct {
	Addr string `yaml:"addr" env:"ADDR"`
	// ShutdownTimeout is how long in-flight requests get to finish after
	// SIGTERM or SIGINT.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT"`
	// TrustedProxies are the addresses (or CIDRs) of reverse proxies whose
	// X-Forwarded-For is believed; with none, the peer address is the
	// client's, so a client cannot pick its own address for rate limits.
	TrustedProxies []string `yaml:"trusted_proxies" env:"TRUSTED_PROXIES"`
	// AccessLog is which requests get a log line: AccessLogAll (every
	// one) or AccessLogFailures (those answered 400 or above). Metrics
	// count every request either way.
	AccessLog string `yaml:"access_log" env:"ACCESS_LOG"`
}

// Access log settings (http.access_log).
const (
	AccessLogAll      = "all"
	AccessLogFailures = "failures"
)

// Redis says where the store lives. In single mode an empty Addr selects
// the embedded in-process Redis, which keeps nothing across restarts.
type Redis struct {
	// Mode is single (one server at Addr), sentinel (the primary named
	// MasterName, found through the sentinels at Addrs) or cluster (a Redis
	// Cluster, found from the seed nodes at Addrs).
	Mode       string   `yaml:"mode" env:"MODE"`
	Addr       string   `yaml:"addr" env:"ADDR"`
	Addrs      []string `yaml:"addrs" env:"ADDRS"`
	MasterName string   `yaml:"master_name" env:"MASTER_NAME"`
	// Username and Password authenticate to Redis (ACL user, or AUTH
	// password alone).
	Username string `yaml:"username" env:"USERNAME"`
	Password string `yaml:"password" env:"PASSWORD"`
	// SentinelUsername and SentinelPassword authenticate to the sentinels.
	SentinelUsername string `yaml:"sentinel_username" env:"SENTINEL_USERNAME"`
	SentinelPassword string `yaml:"sentinel_password" env:"SENTINEL_PASSWORD"`
	DB               int    `yaml:"db" env:"DB"`
	TLS              TLS    `yaml:"tls" envPrefix:"TLS_"`
	// Timeout bounds every Redis call (dial, read, write, waiting for a
	// pooled connection), so a stalled Redis fails requests quickly instead
	// of piling them up.
	Timeout time.Duration `yaml:"timeout" env:"TIMEOUT"`
	// PoolSize bounds the connections, and so the calls in flight.
	PoolSize int `yaml:"pool_size" env:"POOL_SIZE"`
}

// TLS configures encrypted connections to Redis.
type TLS struct {
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// CAFile verifies the servers (PEM); empty means the system roots.
	CAFile string `yaml:"ca_file" env:"CA_FILE"`
	// CertFile and KeyFile are a client certificate, for mutual TLS.
	CertFile string `yaml:"cert_file" env:"CERT_FILE"`
	KeyFile  string `yaml:"key_file" env:"KEY_FILE"`
	// ServerName overrides the name checked in the servers' certificates.
	ServerName string `yaml:"server_name" env:"SERVER_NAME"`
}

// Redis modes.
const (
	RedisSingle   = "single"
	RedisSentinel = "sentinel"
	RedisCluster  = "cluster"
)

// Embedded reports whether the configuration asks for the embedded Redis.
func (r Redis) Embedded() bool { return (r.Mode == "" || r.Mode == RedisSingle) && r.Addr == "" }

// Describe names where Redis is, for messages.
func (r Redis) Describe() string {
	switch r.Mode {
	case RedisSentinel:
		return "sentinel master " + r.MasterName + " via " + strings.Join(r.Addrs, ",")
	case RedisCluster:
		return "cluster " + strings.Join(r.Addrs, ",")
	}
	return r.Addr
}

// Lifetimes of the credentials enlace issues.
type Lifetimes struct {
	Code    time.Duration `yaml:"code_lifetime" env:"CODE_LIFETIME"`
	Access  time.Duration `yaml:"access_lifetime" env:"ACCESS_LIFETIME"`
	Refresh time.Duration `yaml:"refresh_lifetime" env:"REFRESH_LIFETIME"`
	// RefreshRetryWindow is how long a just-used refresh token still gets
	// the answer it got (for a client that lost it); 0 turns it off.
	RefreshRetryWindow time.Duration `yaml:"refresh_retry_window" env:"REFRESH_RETRY_WINDOW"`
	// PasswordAccess is the access token lifetime of first-party sign-ins
	// (the password grant), first and refreshed alike.
	PasswordAccess time.Duration `yaml:"password_access_lifetime" env:"PASSWORD_ACCESS_LIFETIME"`
}

// Session configures merchants' browser sessions.
type Session struct {
	// Secret signs session cookies; at least 32 bytes. Empty means a random
	// one per process, which logs everyone out on restart and cannot be
	// shared between instances.
	Secret   string        `yaml:"secret" env:"SECRET"`
	Lifetime time.Duration `yaml:"lifetime" env:"LIFETIME"`
}

// Load builds the configuration from defaults (YAML), then the file at path
// when it exists (an explicitly named file must exist), then environ
// ("KEY=value" pairs, as os.Environ returns).
func Load(defaults []byte, path string, explicit bool, environ []string) (*Config, error) {
	var c Config
	if err := yaml.Unmarshal(defaults, &c); err != nil {
		return nil, fmt.Errorf("built-in configuration: %w", err)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			// Lists in the file replace the defaults' lists rather than merge.
			if err := yaml.Unmarshal(b, &c); err != nil {
				return nil, fmt.Errorf("config file %s: %w", path, err)
			}
		case errors.Is(err, fs.ErrNotExist) && !explicit:
		default:
			return nil, fmt.Errorf("config file: %w", err)
		}
	}
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	if err := env.ParseWithOptions(&c, env.Options{Prefix: "ENLACE_", Environment: vars}); err != nil {
		return nil, envError(c, vars, err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate() error {
	if c.HTTP.Addr == "" {
		return errors.New("config: http.addr is empty")
	}
	switch c.HTTP.AccessLog {
	case "":
		c.HTTP.AccessLog = AccessLogAll
	case AccessLogAll, AccessLogFailures:
	default:
		return fmt.Errorf("config: http.access_log %q must be %s or %s", c.HTTP.AccessLog, AccessLogAll, AccessLogFailures)
	}
	if g := c.Runtime.GCPercent; g != 0 && (g < MinGCPercent || g > MaxGCPercent) {
		return fmt.Errorf("config: runtime.gc_percent %d must be 0 (Go's default) or between %d and %d",
			g, MinGCPercent, MaxGCPercent)
	}
	if c.Issuer == "" {
		c.Issuer = "http://" + localAddr(c.HTTP.Addr)
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(c.Issuer, "/") {
		return fmt.Errorf("config: issuer %q must be an absolute http(s) URL with no query, fragment or trailing slash", c.Issuer)
	}
	for name, d := range map[string]time.Duration{
		"tokens.code_lifetime": c.Tokens.Code, "tokens.access_lifetime": c.Tokens.Access,
		"tokens.refresh_lifetime": c.Tokens.Refresh, "session.lifetime": c.Session.Lifetime,
		"tokens.password_access_lifetime": c.Tokens.PasswordAccess, "registration.period": c.Registration.Period,
	} {
		if d <= 0 {
			return fmt.Errorf("config: %s must be positive, got %v", name, d)
		}
	}
	// A setting of another mode is refused rather than ignored: addrs
	// without mode: cluster would otherwise start the embedded Redis, one
	// per instance.
	switch c.Redis.Mode {
	case "", RedisSingle:
		c.Redis.Mode = RedisSingle
		if len(c.Redis.Addrs) > 0 || c.Redis.MasterName != "" {
			return errors.New("config: redis.addrs and redis.master_name are for redis.mode sentinel or cluster; " +
				"single mode takes redis.addr")
		}
	case RedisSentinel:
		if c.Redis.MasterName == "" || len(c.Redis.Addrs) == 0 {
			return errors.New("config: redis.mode sentinel needs redis.master_name and the sentinels in redis.addrs")
		}
		if c.Redis.Addr != "" {
			return errors.New("config: redis.mode sentinel finds the primary through redis.addrs; leave redis.addr empty")
		}
	case RedisCluster:
		if len(c.Redis.Addrs) == 0 {
			return errors.New("config: redis.mode cluster needs seed nodes in redis.addrs")
		}
		if c.Redis.Addr != "" || c.Redis.MasterName != "" {
			return errors.New("config: redis.mode cluster takes its seed nodes in redis.addrs; leave redis.addr and redis.master_name empty")
		}
		if c.Redis.DB != 0 {
			return errors.New("config: a Redis Cluster has only database 0")
		}
	default:
		return fmt.Errorf("config: redis.mode %q must be single, sentinel or cluster", c.Redis.Mode)
	}
	if !c.Redis.TLS.Enabled && (c.Redis.TLS.CAFile != "" || c.Redis.TLS.CertFile != "" || c.Redis.TLS.ServerName != "") {
		return errors.New("config: redis.tls settings are given but redis.tls.enabled is false")
	}
	if (c.Redis.TLS.CertFile == "") != (c.Redis.TLS.KeyFile == "") {
		return errors.New("config: redis.tls.cert_file and key_file go together")
	}
	if c.Redis.Timeout <= 0 || c.Redis.PoolSize <= 0 || c.HTTP.ShutdownTimeout <= 0 {
		return errors.New("config: redis.timeout, redis.pool_size and http.shutdown_timeout must be positive")
	}
	if c.Tokens.RefreshRetryWindow < 0 {
		return errors.New("config: tokens.refresh_retry_window must not be negative")
	}
	if c.LoginLimits.PerAccount <= 0 || c.LoginLimits.PerAddress <= 0 || c.LoginLimits.Period <= 0 {
		return errors.New("config: login_limits.per_account, per_address and period must be positive")
	}
	if c.Session.Secret != "" && len(c.Session.Secret) < 32 {
		return errors.New("config: session.secret must be at least 32 characters")
	}
	for _, rs := range c.Introspection.Clients {
		if rs.ID == "" || len(rs.SecretSHA256) != 64 || strings.Trim(strings.ToLower(rs.SecretSHA256), "0123456789abcdef") != "" {
			return fmt.Errorf("config: introspection client %q needs an id and a 64-hex-digit secret_sha256", rs.ID)
		}
	}
	if c.Tokens.PasswordAccess < time.Second || c.Tokens.PasswordAccess > c.Tokens.Refresh {
		return errors.New("config: tokens.password_access_lifetime must be at least 1s and at most tokens.refresh_lifetime")
	}
	if c.Registration.PerAddress <= 0 || c.Registration.MinPasswordLength < 8 {
		return errors.New("config: registration.per_address must be positive and registration.min_password_length at least 8")
	}
	if c.Maintenance.Lease < time.Second || c.Maintenance.Interval <= 0 || c.Maintenance.Interval >= c.Maintenance.Lease {
		return errors.New("config: maintenance.lease must be at least 1s and maintenance.interval positive and shorter than it")
	}
	if c.Maintenance.Batch < 1 || c.Maintenance.Batch > 10000 {
		return errors.New("config: maintenance.batch must be from 1 to 10000")
	}
	if c.Redis.Embedded() && c.Embedded.Dir == "" {
		return errors.New("config: embedded.dir is empty")
	}
	if c.Developers.Signup != SignupOpen && c.Developers.Signup != SignupInvite {
		return fmt.Errorf("config: developers.signup %q must be open or invite", c.Developers.Signup)
	}
	if err := c.Webhooks.validate(); err != nil {
		return err
	}
	if _, err := c.Encryption.KeyBytes(); err != nil {
		return err
	}
	if o := c.OIDC; o.IDTokenLifetime < time.Minute || o.IDTokenLifetime > 24*time.Hour {
		return errors.New("config: oidc.id_token_lifetime must be from 1m to 24h")
	}
	if k := c.OIDC.Keys; k.PublishAhead < time.Minute || k.RotateEvery < 2*k.PublishAhead {
		return errors.New("config: oidc.keys.publish_ahead must be at least 1m and oidc.keys.rotate_every at least twice as long")
	}
	if p := c.PAR.Lifetime; p < 5*time.Second || p > 10*time.Minute {
		return errors.New("config: par.lifetime must be from 5s to 10m")
	}
	if c.PAR.PublicPerAddress < 1 {
		return errors.New("config: par.public_per_address must be at least 1")
	}
	if d := c.DPoP; d.ProofMaxAge < 5*time.Second || d.ProofMaxAge > 10*time.Minute || d.ClockSkew < 0 ||
		d.ClockSkew > time.Minute || d.NonceStep < 10*time.Second {
		return errors.New("config: dpop.proof_max_age must be from 5s to 10m, dpop.clock_skew from 0 to 1m, dpop.nonce_step at least 10s")
	}
	if c.Developers.AppsPerDay < 1 {
		return fmt.Errorf("config: developers.apps_per_day %d must be at least 1", c.Developers.AppsPerDay)
	}
	if c.Audit.MaxLength <= 0 {
		return errors.New("config: audit.max_length must be positive")
	}
	if len(c.Scopes) == 0 {
		return errors.New("config: the scope catalogue is empty")
	}
	seen := map[string]bool{}
	for _, s := range c.Scopes {
		if s.Name == "" || strings.ContainsAny(s.Name, " ,\t\n") {
			return fmt.Errorf("config: scope name %q is empty or contains a separator", s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("config: scope %q is listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	return c.validateResourceTypes()
}

// validateResourceTypes checks the resource types and the scopes bound to
// them: lowercase identifiers, each once, named in both languages, and no
// scope bound to a type that is not configured.
func (c *Config) validateResourceTypes() error {
	types := map[string]bool{}
	for _, t := range c.ResourceTypes {
		if !store.ValidResourceTypeName(t.Name) {
			return fmt.Errorf("config: resource type name %q must be a lowercase identifier "+
				"(a-z, then a-z, 0-9 or _, at most %d characters)", t.Name, store.MaxResourceTypeName)
		}
		if types[t.Name] {
			return fmt.Errorf("config: resource type %q is listed twice", t.Name)
		}
		if strings.TrimSpace(t.ES) == "" || strings.TrimSpace(t.EN) == "" {
			return fmt.Errorf("config: resource type %q needs its name in Spanish (es) and English (en)", t.Name)
		}
		types[t.Name] = true
	}
	known := "none is configured"
	if len(c.ResourceTypes) > 0 {
		known = "the types are " + strings.Join(c.ResourceTypes.Names(), ", ")
	}
	for _, s := range c.Scopes {
		if s.Resource != "" && !types[s.Resource] {
			return fmt.Errorf("config: scope %q is bound to resource type %q, which is not in resource_types (%s)",
				s.Name, s.Resource, known)
		}
	}
	return nil
}

// localAddr is addr as this machine reaches it: a listener on every
// interface (0.0.0.0, [::] or no host) is reached at localhost, the one
// host name a browser, the demo's redirect URI and RFC 8252 accept over
// plain http.
func localAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return net.JoinHostPort("localhost", port)
	}
	return addr
}

// LocalURL is the base URL at which this machine reaches the configured
// listener (for `enlace healthcheck`).
func (c *Config) LocalURL() string {
	host, port, err := net.SplitHostPort(c.HTTP.Addr)
	if err != nil {
		return "http://" + c.HTTP.Addr
	}
	if ip := net.ParseIP(host); host == "" || host == "localhost" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// envError names the ENLACE_* variables that could not be read, with their
// values' problem, instead of the library's Go field names: each
// variable is read alone into a copy of the configuration to find which.
func envError(base Config, vars map[string]string, err error) error {
	var bad []string
	for k, v := range vars {
		if !strings.HasPrefix(k, "ENLACE_") {
			continue
		}
		c := base
		if e := env.ParseWithOptions(&c, env.Options{Prefix: "ENLACE_", Environment: map[string]string{k: v}}); e != nil {
			bad = append(bad, fmt.Sprintf("%s=%q: %s", k, v, valueProblem(e)))
		}
	}
	if len(bad) == 0 {
		return fmt.Errorf("environment: %w", err)
	}
	slices.Sort(bad)
	return fmt.Errorf("environment: %s", strings.Join(bad, "; "))
}

// valueProblem is what is wrong with a value, without the library's
// wording about Go fields and types.
func valueProblem(err error) string {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) && pe.Err != nil {
		err = pe.Err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "time: "):
		return "not a duration (write it like 90s, 15m or 6h)"
	case strings.Contains(msg, "strconv.ParseBool"):
		return "not true or false"
	case strings.Contains(msg, "strconv.Parse"):
		return "not a whole number"
	}
	return msg
}

// Secure reports whether the issuer is https, in which case cookies are
// marked Secure.
func (c *Config) Secure() bool {
	// Schemes are case-insensitive (RFC 3986 §3.1): HTTPS:// is https.
	scheme, _, ok := strings.Cut(c.Issuer, "://")
	return ok && strings.EqualFold(scheme, "https")
}

func (w Webhooks) validate() error {
	var total time.Duration
	for _, d := range w.RetrySchedule {
		if d <= 0 {
			return fmt.Errorf("config: webhooks.retry_schedule: %v is not a positive duration", d)
		}
		total += d
	}
	switch {
	case w.Timeout <= 0 || w.Timeout > time.Minute:
		return fmt.Errorf("config: webhooks.timeout %v must be positive and at most 1m", w.Timeout)
	case len(w.RetrySchedule) > 20:
		return errors.New("config: webhooks.retry_schedule has more than 20 retries")
	case w.DisableAfter <= 0:
		return errors.New("config: webhooks.disable_after must be positive")
	case w.Concurrency < 1:
		return errors.New("config: webhooks.concurrency must be at least 1")
	case w.PollInterval <= 0:
		return errors.New("config: webhooks.poll_interval must be positive")
	case w.TakeoverAfter <= w.Timeout:
		return fmt.Errorf("config: webhooks.takeover_after %v must be longer than webhooks.timeout %v", w.TakeoverAfter, w.Timeout)
	case w.Retention <= total+w.TakeoverAfter:
		return fmt.Errorf("config: webhooks.retention %v must be longer than the retry schedule (%v)", w.Retention, total)
	}
	return nil
}

package store

// The Redis key schema: every key enlace writes, its type, its TTL, its
// hash tag and its consistency rule. Nothing outside this file spells a
// key name.
//
// Connections (one slot each)
//
//	conn:{<connection id>}   hash    TTL: the code's expiry while pending; then
//	                                 the later of the refresh token's expiry
//	                                 and the code's (so a replayed code is
//	                                 still recognised); a revoked record
//	                                 keeps its TTL, so the revocation shows.
//	retry:{<connection id>}  string  TTL: the refresh retry window (10 s).
//	                                 The last refresh answer, sealed (seal.go).
//
//	Both carry the connection id as hash tag, so every transition script
//	(store/lua/) touches one slot: atomic, one round trip, the same on one
//	server and on a Redis Cluster. A credential carries its connection id
//	(token.go), so its slot is known without a lookup.
//
// Connection hash fields (connFields names those listings read):
//
//	id, merchant_id, client_id  who approved which app
//	scopes                      granted scopes, space-separated
//	created_at                  approval time
//	status                      pending (code not yet exchanged) | active | revoked
//	code, code_exp, code_used   code digest, expiry, "1" once exchanged
//	redirect_uri                the authorization request's, checked at exchange
//	code_challenge              S256 PKCE challenge, "" without PKCE
//	tid                         id of the current token record (the _id answered)
//	at, at_exp, at_scopes       current access token digest, expiry, scopes
//	rt, rt_exp                  current refresh token digest, expiry
//	issued_at, last_used        when the current pair was issued
//	prev_rt, prev_until         the refresh token just used, and the end of its
//	prev_scopes                 retry window; the scopes it was answered with
//	used_rts                    the last 16 used refresh digests, newest first
//	access_ttl                  access lifetime (ms) of a connection whose tokens
//	                            live shorter than the default (password sign-ins)
//	revoked_at, revoked_by      when and by whom (an Actor)
//
// Times are Unix milliseconds; digests are hex SHA-256 of the whole
// credential.
//
// Records and their indexes (each key its own slot)
//
//	app:<client id>           hash    no TTL   an app (apps.go)
//	merchant:<id>             hash    no TTL   a merchant account (accounts.go)
//	merchant-email:<email>    string  no TTL   merchant id; the email's uniqueness
//	admin:<id>                hash    no TTL   an admin account
//	admin-email:<email>       string  no TTL   admin id; the email's uniqueness
//	admin-key:<digest>        hash    no TTL   an admin API key: name, created_at
//	apps, merchants, admins   zset    no TTL   ids by creation time
//	conns                     zset    no TTL   every connection id by approval time
//	merchant-conns:<id>       zset    no TTL   one merchant's connection ids
//	app-conns:<client id>     zset    no TTL   one app's connection ids
//	session:<digest>          string  TTL: session.lifetime   a browser session's
//	                                  values, under the digest of its id
//	audit                     stream  MAXLEN ~ audit.max_length   the audit trail
//	rate:login:<kind>:<digest of email>, rate:login:addr:<address>,
//	rate:register:addr:<address>
//	                          hash    TTL: the limit's period   redis_rate's
//	                                  counters (limits.go)
//	app-changed               pub/sub channel: a changed app's client id
//	enlace-schema             string  no TTL   the key schema's version
//	                                  (schema.go); enlace refuses another
//
// Consistency rules, where a write spans slots:
//   - A connection's index entries are written in the same pipeline as, and
//     before, the script that creates its record (approve.lua, signin.lua).
//     On one server the pipeline runs in order, so no record exists without
//     its entries. On a cluster the nodes may apply them in either order,
//     and a failed call may leave an entry without a record (readers skip
//     it, and drop it once it is a minute old) or a record without an entry
//     (its code or tokens were never handed out, and it expires with them).
//     Revocation removes entries after the script, lazily; listings skip
//     revoked records. The record decides, never the index.
//   - An email's uniqueness is the SETNX of its email key, taken before the
//     account record is written; a failed write gives it back.
//   - Every other record is one key; its index entry follows it in one
//     pipeline, and readers skip entries without a record.
//   - The audit stream is one key (one node): events from every instance are
//     ordered as they reached it. It is written after the transition it
//     records, so an event can be lost if the process dies in between.
//   - Rate-limit counters are one key each, updated atomically by
//     redis_rate's script, so limits hold across instances.
//   - PUBLISH on app-changed reaches the subscribers on every cluster node.

func appKey(clientID string) string        { return "app:" + clientID }
func merchantKey(id string) string         { return "merchant:" + id }
func merchantEmailKey(email string) string { return "merchant-email:" + email }
func adminKey(id string) string            { return "admin:" + id }
func adminEmailKey(email string) string    { return "admin-email:" + email }
func adminAPIKey(digest string) string     { return "admin-key:" + digest }
func connKey(id string) string             { return "conn:{" + id + "}" }
func retryKey(id string) string            { return "retry:{" + id + "}" }
func merchantConnsKey(id string) string    { return "merchant-conns:" + id }
func appConnsKey(clientID string) string   { return "app-conns:" + clientID }
func sessionKey(digest string) string      { return "session:" + digest }

// ConnectionKey is the key of a connection's hash, for tools that measure
// it (enlace-bench reports its MEMORY USAGE).
func ConnectionKey(id string) string { return connKey(id) }

// connKeys are the keys of a connection's transition scripts: KEYS[1] and
// KEYS[2] of every file under lua/.
func connKeys(id string) []string { return []string{connKey(id), retryKey(id)} }

// Limiter keys, without the "rate:" that redis_rate puts before them.
func loginLimitKey(kind, emailDigest string) string { return "login:" + kind + ":" + emailDigest }
func loginAddrLimitKey(address string) string       { return "login:addr:" + address }
func registerAddrLimitKey(address string) string    { return "register:addr:" + address }

// LimitKeyPatterns are SCAN patterns of the rate-limit counters of one
// login kind (and of the address limit that every kind shares), for a tool
// that cleans up after itself, such as enlace-bench's floor.
func LimitKeyPatterns(kind, address string) []string {
	return []string{"rate:" + loginLimitKey(kind, "*"), "rate:" + loginAddrLimitKey(address)}
}

const (
	appsIndexKey      = "apps"
	merchantsIndexKey = "merchants"
	adminsIndexKey    = "admins"
	connsIndexKey     = "conns"
	auditKey          = "audit"
	schemaKey         = "enlace-schema"
	// AppChannel is the pub/sub channel on which a changed app's client id
	// is published, so every instance drops it from its cache.
	AppChannel = "app-changed"
)

// connFields are the connection hash fields a Connection is read from.
var connFields = []string{"id", "merchant_id", "client_id", "scopes", "status", "created_at", "last_used",
	"revoked_at", "revoked_by"}

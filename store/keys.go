package store

import (
	"fmt"
	"hash/crc32"
)

// The Redis key schema: every key enlace writes, its type, its TTL, its
// hash tag and its consistency rule. Nothing outside this file spells a
// key name.
//
// Shards
//
// Connections are spread over Shards fixed partitions; a connection's
// shard is derived from its id (shardOf), and every key of a shard carries
// the shard's hash tag, {sNN}. So a connection's record, its shard's
// listing indexes and its shard's audit stream are in one Redis slot, and
// each transition script (store/lua/) writes all of them atomically, in
// one round trip, the same on one server and on a Redis Cluster. A
// credential carries its connection id (token.go), so its shard is known
// without a lookup. Readers of a listing or of the audit trail merge the
// shards (listing.go, audit.go). The number of shards is part of the
// schema: changing it moves every connection.
//
// Keys of shard NN (one slot)
//
//	conn:{sNN}:<id>    hash    TTL: the code's expiry while pending; then
//	                           the later of the refresh token's expiry and
//	                           the code's (so a replayed code is still
//	                           recognised); a revoked record keeps its TTL,
//	                           so the revocation shows. Field exp holds it.
//	retry:{sNN}:<id>   string  TTL: the refresh retry window (10 s). The
//	                           last refresh answer, sealed (seal.go).
//	conns:{sNN}            zset, all scores 0, ordered by member:
//	                       "<exp>:<id>"  every live connection of the shard
//	app-conns:{sNN}        "<client id>:<generation>:<exp>:<id>"
//	merchant-conns:{sNN}   "<merchant id>:<exp>:<id>"
//	                   no TTL. <exp> is the record's expiry, 13 digits of
//	                   Unix ms, <generation> the app's generation at
//	                   approval, 10 digits: so a lexicographic range is
//	                   one app's or one merchant's connections, latest
//	                   expiry first, expired ones below a bound that is
//	                   the current time, and a page is a range from a
//	                   member (the cursor). A count is ZLEXCOUNT.
//	app-counts:{sNN}   hash    no TTL   "<client id>:<generation>" → how
//	                           many of the shard's app-conns entries the app
//	                           has under that generation (entries of expired
//	                           connections count until trimmed); the app
//	                           list's counts are one HMGET per shard
//	audit:{sNN}        stream  MAXLEN ~ max(1000, audit.max_length / Shards): the
//	                           shard's share of the audit trail: type, t
//	                           (ms), connection_id, client_id, merchant_id,
//	                           actor, detail, token_id (the events of a
//	                           merchant's resources are in the merchant's
//	                           shard)
//	outbox:{sNN}       stream  no bound: the shard's webhook events
//	                           (type, t, client_id, connection_id,
//	                           merchant_id, scopes, reason; status and
//	                           previous_status for app.status_changed),
//	                           written by the script of the change; an entry
//	                           leaves once the deliverer took it (consumer
//	                           group enlace-webhooks; deliveries.go)
//	webhook-delivery:{sNN}:<event id>  hash  TTL: webhooks.retention  one
//	                           event on its way to an app's webhook, in the
//	                           app's shard: payload, status, attempts, log
//	webhook-deliveries:{sNN}:<client id>  zset  no TTL  the app's deliveries,
//	                           scores 0, "<9999999999999 - created ms, 13
//	                           digits>:<event id>": newest first by member,
//	                           a page a range from the last member read;
//	                           entries older than the retention are trimmed
//	                           as new ones come
//	webhooks-due:{sNN}     zset  no TTL  deliveries by when their next attempt
//	                           is due (a claimed one: the end of its lease)
//	webhooks-undelivered:{sNN}  zset  no TTL  deliveries neither delivered nor
//	                           failed, by creation: the backlog's metrics
//	app:{sNN}:<client id>  hash  no TTL  an app (apps.go); its shard is
//	                           derived from its client id, so its changes
//	                           and their audit events are one script too;
//	                           a deleted app stays as a tombstone
//	                           (deleted=1) that every read treats as none
//	                           an app registered at /oauth/register also
//	                           has registration (the digest of its RFC 7592
//	                           registration access token) and
//	                           registration_meta (registration.go); an app
//	                           with a webhook has webhook_url, the sealed
//	                           webhook_secret (and webhook_prev_secret,
//	                           webhook_prev_until), webhook_failing_since and
//	                           webhook_disabled_at (webhooks.go)
//	                           id_token_alg: the ID token signing algorithm
//	                           (RS256, ES256; absent or "" is RS256)
//	                           post_logout_redirect_uris: JSON list, where
//	                           RP-initiated logout may return (absent: none)
//	                           require_par, require_dpop, fapi2 ("1"/"0"),
//	                           auth_method ("" or private_key_jwt), jwks (a
//	                           JWK Set of public keys, JSON), jwks_uri
//	                           (appsecurity.go; absent: the defaults)
//	app-revocation:{sNN}:<client id>  hash  no TTL  the clean-up of the
//	                           app's last app-wide revocation: generation,
//	                           shard, cursor, progress (cleanup.go)
//	app-revocations:{sNN}  zset  no TTL  client ids of the shard's apps
//	                           with a clean-up to run, by start time
//	signing-keys:{s00}     hash  no TTL  the ID-token signing keys
//	                           (signingkeys.go): key id → JSON {kid, alg,
//	                           created_at, active_from, withdrawn_at,
//	                           sealed}, the private key sealed under
//	                           encryption.key. In shard 0's slot so that a
//	                           rotation and its audit event (audit:{s00})
//	                           are one script (lua/keys.lua); a key leaves
//	                           when its retention is over
//	resources:{sNN}:<merchant id>:<type>  hash  no TTL  the merchant's
//	                           resources of one type, as the platform last
//	                           set them (resources.go): resource id → name;
//	                           listed sorted by name. In the merchant's
//	                           shard (shardOf(merchant id)), so that its
//	                           replacement and its audit event are one
//	                           script (lua/resources.lua); "is W1 still the
//	                           merchant's" is one HEXISTS. An empty set is
//	                           no key
//
// Connection hash fields (connFields names those listings read):
//
//	id, merchant_id, client_id  who approved which app
//	gen                         the app's generation at approval (apps.go)
//	scopes                      granted scopes, space-separated
//	created_at                  approval time
//	status                      pending (code not yet exchanged) | active | revoked
//	exp                         the record's expiry, as in its index members
//	code, code_exp, code_used   code digest, expiry, "1" once exchanged
//	redirect_uri                the authorization request's, checked at exchange
//	code_challenge              S256 PKCE challenge, "" without PKCE
//	code_jkt                    the DPoP key the code is bound to (dpop_jkt,
//	                            RFC 9449 §10); absent without one
//	nonce                       the OpenID Connect nonce of the authorization
//	                            request, put in the code's ID token (and in
//	                            the answer to a resend of the exchange, so it
//	                            stays with the record); absent without one
//	auth_time                   when the merchant logged in for the approval
//	                            (the ID tokens' auth_time); absent for a
//	                            password sign-in, whose created_at it is
//	tid                         id of the current token record (the _id answered)
//	at, at_exp, at_scopes       current access token digest, expiry, scopes
//	rt, rt_exp                  current refresh token digest, expiry
//	issued_at, last_used        when the current pair was issued
//	prev_rt, prev_until         the refresh token just used, and the end of its
//	prev_scopes                 retry window; the scopes it was answered with
//	used_rts                    the last 16 used refresh digests, newest first
//	access_ttl                  access lifetime (ms) of a connection whose tokens
//	                            live shorter than the default (password sign-ins)
//	at_jkt                      thumbprint of the DPoP key the current access
//	                            token is bound to (RFC 9449); "" or absent:
//	                            a bearer token
//	rt_jkt                      the same for the refresh token (a public
//	                            app's, bound at the first exchange or
//	                            refresh with a proof, and for good)
//	revoked_at, revoked_by      when and by whom (an Actor)
//	resources                   the resource grant (resourcegrant.go): JSON,
//	                            scope → chosen resource ids; absent when
//	                            every scope reaches all of its resources
//
// Times are Unix milliseconds; digests are hex SHA-256 of the whole
// credential.
//
// Other records and their indexes (each key its own slot)
//
//	merchant:<id>             hash    no TTL   a merchant account (accounts.go)
//	merchant-email:<email>    string  no TTL   merchant id; the email's uniqueness
//	admin:<id>                hash    no TTL   an admin account
//	admin-email:<email>       string  no TTL   admin id; the email's uniqueness
//	admin-key:<digest>        hash    TTL: the key's expiry, if any   an admin API
//	                                  key: name, created_at, expires_at
//	admin-keys                zset    no TTL   "<created_at>:<digest>", scores 0; entries
//	                                  of expired keys are dropped when listed
//	app-logo:{sNN}:<client id>:<fingerprint>  string  no TTL   the app's logo, a PNG
//	                                  enlace re-encoded (logos.go); the app's
//	                                  "logo" field names the current one
//	developer:<id>            hash    no TTL   a developer account (developers.go)
//	developer-email:<email>   string  no TTL   developer id; the email's uniqueness
//	developers                zset    no TTL   ids by creation time
//	developer-apps:<id>       zset    no TTL   the developer's apps, as in apps
//	developer-invite:<digest> string  TTL: 7 days   the email an invitation is for;
//	                                  one use (GETDEL)
//	initial-access:<digest>   hash    TTL: its lifetime   an RFC 7591 initial access
//	                                  token: developer id, created_at
//	apps                      zset    no TTL   "<created_at>:<client id>", scores 0
//	merchants, admins         zset    no TTL   ids by creation time
//	session:<digest>          string  TTL: session.lifetime   a browser session's
//	                                  values, under the digest of its id
//	nonce:<client id>:<digest>  string  TTL: tokens.code_lifetime  an OpenID
//	                                  Connect nonce an approval used (nonces.go)
//	par:<digest>              hash    TTL: 60 s (par.lifetime) until
//	                                  claimed, then the consent's window
//	                                  (30 min, at most session.lifetime): a pushed
//	                                  authorization request (pushed.go):
//	                                  client_id, params, created_at,
//	                                  claimed, exp; one script (lua/par.lua)
//	dpop-proof:<digest>       string  TTL: the proof's acceptance window
//	                                  a DPoP proof seen at the token or PAR
//	                                  endpoint (digest of its key's
//	                                  thumbprint and jti): a replay is refused
//	dpop-proof:{sNN}:<digest> string  the same for a proof at a resource,
//	                                  in its token's connection's slot,
//	                                  written only for a live bound token
//	                                  (lua/proof.lua)
//	assertion:<client id>:<digest>  string  TTL: until the assertion
//	                                  expires   a client assertion's jti the
//	                                  app used (RFC 7523)
//	dpop-nonce-secret         string  no TTL   what DPoP nonces are derived
//	                                  from, the same on every instance
//	lease:maintenance         string  TTL: maintenance.lease (30 s)  the instance that
//	                                  runs the background work (cleanup.go)
//	rate:login:<kind>:<digest of email>, rate:login:addr:<address>,
//	rate:register:addr:<address>, rate:apps:developer:<id>,
//	rate:par:addr:<address> (a public app's pushes),
//	rate:webhook-ping:<client id>
//	                          hash    TTL: the limit's period   redis_rate's
//	                                  counters (limits.go)
//	app-changed               pub/sub channel: a changed app's client id
//	enlace-schema             string  no TTL   the key schema's version
//	                                  (schema.go); enlace refuses another
//
// Consistency rules:
//   - A connection's record, its index entries and its audit events change
//     together, in one script (store/lua/): no record without its entries,
//     no transition without its event, whatever fails when.
//   - Entries of expired connections stay in an index until trimmed, but
//     every reader bounds its range by the current time, so they are never
//     read; the maintenance loop trims them in bounded batches (cleanup.go).
//   - An app-wide revocation is one write, the app's generation: from then
//     on the token checks (resource.Verifier) and the token scripts refuse
//     a connection of an older generation (the app record is cached and
//     its change published), and the clean-up revokes those connections
//     one by one in the background. Until it reaches them they stay in the
//     merchant's and the all-connections indexes, where listings skip
//     them (reading their records) and counts still count them.
//   - An email's uniqueness is the SETNX of its email key, taken before the
//     account record is written; a failed write gives it back.
//   - Every other record is one key; its index entry follows it in one
//     pipeline, and readers skip entries without a record.
//   - The audit trail is one stream per shard; events in one shard are in
//     the order they happened, and readers merge the shards by event id.
//   - Rate-limit counters are one key each, updated atomically by
//     redis_rate's script, so limits hold across instances.
//   - PUBLISH on app-changed reaches the subscribers on every cluster node;
//     so does signing-keys-changed, after a change of the signing keys
//     (a lost one waits for the instances' periodic reload).
//   - A merchant's resources of one type are one key, replaced whole
//     with its audit event by one script (lua/resources.lua): a reader
//     sees the old set or the new one, never a mix. The merchant's record
//     is in another slot; it is read first, and since merchants are never
//     deleted, a set is never written for a merchant who is not there.

// Shards is the number of connection shards (see above).
const Shards = 32

// shardOf is the shard of a connection (or of an app, by its client id).
func shardOf(id string) int { return int(crc32.ChecksumIEEE([]byte(id)) % Shards) }

// shardTag is the hash tag of shard n.
func shardTag(n int) string { return shardTags[n] }

// shardTags are the tags, spelled once: every token check builds a key
// with one. Never written after init.
var shardTags = func() (t [Shards]string) {
	for n := range t {
		t[n] = fmt.Sprintf("{s%02d}", n)
	}
	return t
}()

func appKey(clientID string) string        { return "app:" + shardTag(shardOf(clientID)) + ":" + clientID }
func merchantKey(id string) string         { return "merchant:" + id }
func merchantEmailKey(email string) string { return "merchant-email:" + email }
func adminKey(id string) string            { return "admin:" + id }
func adminEmailKey(email string) string    { return "admin-email:" + email }
func developerKey(id string) string        { return "developer:" + id }
func developerEmailKey(email string) string {
	return "developer-email:" + email
}
func logoKey(clientID, fingerprint string) string {
	return "app-logo:" + shardTag(shardOf(clientID)) + ":" + clientID + ":" + fingerprint
}
func developerAppsKey(id string) string       { return "developer-apps:" + id }
func developerInviteKey(digest string) string { return "developer-invite:" + digest }
func initialAccessKey(digest string) string   { return "initial-access:" + digest }
func adminAPIKey(digest string) string        { return "admin-key:" + digest }
func connKey(id string) string                { return "conn:" + shardTag(shardOf(id)) + ":" + id }
func retryKey(id string) string               { return "retry:" + shardTag(shardOf(id)) + ":" + id }
func connsIndexKey(shard int) string          { return "conns:" + shardTag(shard) }
func appConnsKey(shard int) string            { return "app-conns:" + shardTag(shard) }
func merchantConnsKey(shard int) string       { return "merchant-conns:" + shardTag(shard) }
func auditKey(shard int) string               { return "audit:" + shardTag(shard) }
func outboxKey(shard int) string              { return "outbox:" + shardTag(shard) }
func dueKey(shard int) string                 { return "webhooks-due:" + shardTag(shard) }
func undeliveredKey(shard int) string         { return "webhooks-undelivered:" + shardTag(shard) }
func deliveryKey(clientID, id string) string  { return deliveryKeyIn(shardOf(clientID), id) }
func deliveryKeyIn(shard int, id string) string {
	return "webhook-delivery:" + shardTag(shard) + ":" + id
}
func deliveriesKey(clientID string) string {
	return "webhook-deliveries:" + shardTag(shardOf(clientID)) + ":" + clientID
}
func appCountsKey(shard int) string { return "app-counts:" + shardTag(shard) }
func appRevocationKey(clientID string) string {
	return "app-revocation:" + shardTag(shardOf(clientID)) + ":" + clientID
}
func appRevocationsKey(shard int) string { return "app-revocations:" + shardTag(shard) }
func sessionKey(digest string) string    { return "session:" + digest }
func nonceKey(clientID, digest string) string {
	return "nonce:" + clientID + ":" + digest
}
func pushedKey(digest string) string { return "par:" + digest }
func proofKey(jkt, jti string) string {
	return "dpop-proof:" + Digest(jkt+" "+jti)
}

// proofKeyIn is a resource check's proof record, in the slot of the
// token's connection (lua/proof.lua).
func proofKeyIn(connID, jkt, jti string) string {
	return "dpop-proof:" + shardTag(shardOf(connID)) + ":" + Digest(jkt+" "+jti)
}
func assertionKey(clientID, digest string) string {
	return "assertion:" + clientID + ":" + digest
}

// signingKeysKey holds the ID-token signing keys, in shard 0's slot;
// signingKeysKeys are the keys of lua/keys.lua.
const signingKeysKey = "signing-keys:{s00}"

func signingKeysKeys() []string { return []string{signingKeysKey, auditKey(0)} }

// resourcesKey is a merchant's resources of one type, in the merchant's
// shard; resourceKeys are the keys of lua/resources.lua (with the shard's
// audit stream).
func resourcesKey(merchantID, typ string) string {
	return "resources:" + shardTag(shardOf(merchantID)) + ":" + merchantID + ":" + typ
}
func resourceKeys(merchantID, typ string) []string {
	return []string{resourcesKey(merchantID, typ), auditKey(shardOf(merchantID))}
}

// appGen is an app and a generation as index members and count fields
// spell them: "<client id>:<generation, 10 digits>".
func appGen(clientID string, gen int64) string { return fmt.Sprintf("%s:%010d", clientID, gen) }

// indexMembers are connection id's members of its shard's indexes (all, by
// app, by merchant), as lua/lib.lua's members() spells them.
func indexMembers(id, merchantID, clientID string, gen, exp int64) (all, app, merchant string) {
	e := fmt.Sprintf("%013d", exp)
	return e + ":" + id, appGen(clientID, gen) + ":" + e + ":" + id, merchantID + ":" + e + ":" + id
}

// ConnectionKey is the key of a connection's hash, for tools that measure
// it (enlace-bench reports its MEMORY USAGE) and tests that look inside.
func ConnectionKey(id string) string { return connKey(id) }

// AppKey is the key of an app's hash, for tools and tests that look inside.
func AppKey(clientID string) string { return appKey(clientID) }

// connKeys are the keys of a connection's transition scripts, KEYS[1] to
// KEYS[8] of every connection file under lua/: the record, its retry
// answer, its shard's three indexes, its shard's audit stream, its
// shard's app counts and its shard's webhook outbox.
func connKeys(id string) []string {
	n := shardOf(id)
	return []string{connKey(id), retryKey(id), connsIndexKey(n), appConnsKey(n), merchantConnsKey(n), auditKey(n),
		appCountsKey(n), outboxKey(n)}
}

// appKeys are the keys of lua/app.lua: the app's record, its shard's audit
// stream, its clean-up, its shard's queue of clean-ups and its shard's
// webhook outbox.
func appKeys(clientID string) []string {
	n := shardOf(clientID)
	return []string{appKey(clientID), auditKey(n), appRevocationKey(clientID), appRevocationsKey(n), outboxKey(n)}
}

// deliveryKeys are the keys of lua/webhook.lua for delivery id of an app:
// all in the app's shard.
func deliveryKeys(clientID, id string) []string {
	return deliveryKeysIn(shardOf(clientID), clientID, id)
}

// deliveryKeysIn are deliveryKeys in shard n; a claim, which does not
// know the delivery's app, passes "" and the script leaves the app's keys
// alone.
func deliveryKeysIn(n int, clientID, id string) []string {
	tag := shardTag(n)
	return []string{deliveryKeyIn(n, id), "webhook-deliveries:" + tag + ":" + clientID, dueKey(n), undeliveredKey(n),
		"app:" + tag + ":" + clientID, auditKey(n)}
}

// Limiter keys, without the "rate:" that redis_rate puts before them.
func loginLimitKey(kind, emailDigest string) string { return "login:" + kind + ":" + emailDigest }
func loginAddrLimitKey(address string) string       { return "login:addr:" + address }
func registerAddrLimitKey(address string) string    { return "register:addr:" + address }
func pushAddrLimitKey(address string) string        { return "par:addr:" + address }
func appCreationLimitKey(developerID string) string { return "apps:developer:" + developerID }
func pingLimitKey(clientID string) string           { return "webhook-ping:" + clientID }

// LimitKeyPatterns are SCAN patterns of the rate-limit counters of one
// login kind (and of the address limit that every kind shares), for a tool
// that cleans up after itself, such as enlace-bench's floor.
func LimitKeyPatterns(kind, address string) []string {
	return []string{"rate:" + loginLimitKey(kind, "*"), "rate:" + loginAddrLimitKey(address)}
}

const (
	appsIndexKey       = "apps"
	merchantsIndexKey  = "merchants"
	adminsIndexKey     = "admins"
	adminKeysIndexKey  = "admin-keys"
	developersIndexKey = "developers"
	leaseKey           = "lease:maintenance"
	schemaKey          = "enlace-schema"
	nonceSecretKey     = "dpop-nonce-secret"
	// AppChannel is the pub/sub channel on which a changed app's client id
	// is published, so every instance drops it from its cache.
	AppChannel = "app-changed"
	// KeysChannel is the pub/sub channel on which a change of the ID-token
	// signing keys is announced, so every instance reads the set again.
	KeysChannel = "signing-keys-changed"
)

// connFields are the connection hash fields a Connection is read from.
var connFields = []string{"id", "merchant_id", "client_id", "scopes", "status", "created_at", "last_used",
	"revoked_at", "revoked_by", "gen", "resources"}

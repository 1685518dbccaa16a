-- approve: record a new connection, pending, with its one-use code (a
-- merchant approved an app on the consent page).
--
-- KEYS     the connection's (lib.lua)
-- ARGV[1]  JSON ApproveArgs (store/approve.go):
--            id, merchant_id, client_id
--            gen           the app's generation, as the caller's cache has it
--            scopes        granted, space-separated
--            now           ms
--            code          digest of the new code
--            code_exp      its expiry, ms (also the record's, until exchanged)
--            redirect_uri  the authorization request's
--            challenge     its S256 PKCE challenge, "" without PKCE
--            resources     the resource grant (resourcegrant.go), JSON; ""
--                          when every scope reaches all of its resources
--            nonce         the OpenID Connect nonce, "" for none
--            auth_time     when the merchant logged in, ms (0: unknown)
--            code_jkt      the DPoP key the code is bound to (RFC 9449 §10),
--                          "" for none
--            actor         who approved (an Actor), for the audit event
--            audit_max     the shard stream's bound
--
-- Returns JSON ApproveResult: {outcome="ok"}.
--
-- Why so: the record, its TTL, its index entries and its grant event are
-- written in one step, so no record can be left without an expiry, a
-- listing, or an event. Every approval is a new connection under a fresh
-- id; one that exists already is the same call run again (a resend after a
-- lost reply), which must neither set an exchanged connection back to
-- pending nor record the grant twice.
local a = cjson.decode(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return cjson.encode({outcome = 'ok'}) end
redis.call('HSET', KEYS[1],
  'id', a.id, 'merchant_id', a.merchant_id, 'client_id', a.client_id, 'gen', a.gen, 'scopes', a.scopes,
  'created_at', a.now, 'status', 'pending', 'exp', a.code_exp,
  'code', a.code, 'code_exp', a.code_exp, 'code_used', '0',
  'redirect_uri', a.redirect_uri, 'code_challenge', a.challenge)
if a.resources ~= nil and a.resources ~= '' then redis.call('HSET', KEYS[1], 'resources', a.resources) end
if a.nonce ~= nil and a.nonce ~= '' then redis.call('HSET', KEYS[1], 'nonce', a.nonce) end
if a.code_jkt ~= nil and a.code_jkt ~= '' then redis.call('HSET', KEYS[1], 'code_jkt', a.code_jkt) end
if (tonumber(a.auth_time) or 0) > 0 then redis.call('HSET', KEYS[1], 'auth_time', a.auth_time) end
redis.call('PEXPIREAT', KEYS[1], a.code_exp)
index_add(a.id, a.merchant_id, a.client_id, a.gen, a.code_exp)
app_count(a.client_id, a.gen, 1)
conn_event(a.audit_max, 'grant', a.now, a, a.actor, a.scopes, '')
webhook_event('connection.created', a.now, a, a.scopes, '')
return cjson.encode({outcome = 'ok'})

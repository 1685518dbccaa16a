-- signin: record a new connection, active, with its first token pair (a
-- first-party app signed a merchant in with the password grant; there is
-- no code to consume).
--
-- KEYS     the connection's (lib.lua)
-- ARGV[1]  JSON SignInArgs (store/signin.go):
--            id, merchant_id, client_id
--            gen           the app's generation, as the caller's cache has it
--            scopes        granted, space-separated
--            now           ms
--            token_id      id of the token record
--            access, refresh            digests of the pair
--            access_exp, refresh_exp    their expiries, ms
--            jkt           the DPoP key's thumbprint the access token is
--                          bound to, "" for a bearer token
--            access_ttl    the connection's own access lifetime, ms ("0":
--                          the default, for the first and every refresh)
--            actor         who signed in (an Actor), for the audit event
--            audit_max     the shard stream's bound
--
-- Returns JSON SignInResult: {outcome="ok"}.
--
-- Why so: as approve.lua, the record, its TTL, its index entries and its
-- event in one step, and a second run of the same call changes nothing.
-- From here on the connection is like any other: listed, revocable,
-- refreshed by refresh.lua.
local a = cjson.decode(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return cjson.encode({outcome = 'ok'}) end
redis.call('HSET', KEYS[1],
  'id', a.id, 'merchant_id', a.merchant_id, 'client_id', a.client_id, 'gen', a.gen, 'scopes', a.scopes,
  'created_at', a.now, 'status', 'active', 'code_used', '1', 'exp', a.refresh_exp,
  'tid', a.token_id, 'at', a.access, 'at_exp', a.access_exp, 'at_scopes', a.scopes,
  'rt', a.refresh, 'rt_exp', a.refresh_exp, 'issued_at', a.now, 'last_used', a.now, 'at_jkt', a.jkt or '')
if a.access_ttl ~= '0' then
  redis.call('HSET', KEYS[1], 'access_ttl', a.access_ttl)
end
redis.call('PEXPIREAT', KEYS[1], a.refresh_exp)
index_add(a.id, a.merchant_id, a.client_id, a.gen, a.refresh_exp)
app_count(a.client_id, a.gen, 1)
conn_event(a.audit_max, 'signin', a.now, a, a.actor, a.scopes, a.token_id)
webhook_event('connection.created', a.now, a, a.scopes, '')
return cjson.encode({outcome = 'ok'})

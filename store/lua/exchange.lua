-- exchange: consume an authorization code and issue its connection's first
-- token pair (the authorization_code grant, after client authentication).
--
-- KEYS     the connection's (lib.lua); retry is deleted on a replay
-- ARGV[1]  JSON ExchangeArgs (store/exchange.go):
--            code          digest of the code presented
--            client_id     the authenticated client
--            redirect_uri  as sent at the token endpoint, "" when absent
--            redirect_uris the app's registered redirect URIs now, or absent:
--                          a code issued for one since removed is refused
--            challenge     S256 of the code_verifier, "" when absent
--            now           ms
--            access, refresh            digests of the new pair
--            access_exp, refresh_exp    their expiries, ms
--            token_id      id of the new token record
--            jkt           thumbprint of the DPoP key the access token is
--                          bound to (RFC 9449), "" for a bearer token; a
--                          code bound to a key (code_jkt, from dpop_jkt)
--                          must come with a proof of it
--            bind_refresh  the refresh token is bound to it too (a public
--                          app's, RFC 9449 §5)
--            reuse_by      who revokes the connection on a replay (an Actor)
--            gen           the app's generation (apps.go): a connection of an
--                          older one was revoked with all of the app's
--            actor         the client, for the audit event
--            audit_max     the shard stream's bound
--
-- Returns JSON ExchangeResult:
--   {outcome="ok", merchant_id, scopes, created_at, resources, nonce, auth_time}
--   {outcome="refused", code="invalid_grant", description}     nothing changed
--   {outcome="reuse", code="invalid_grant", description, merchant_id}
--       the code was exchanged before: this replay revoked the connection
--
-- Why so: go-oauth2's manager reads a code and deletes it in two steps, so
-- two concurrent exchanges would both succeed; here the check and the
-- consumption are one atomic step, and of any number of concurrent
-- exchanges exactly one wins. A code used twice revokes what it issued
-- (RFC 6749 §4.1.2). Run twice with the same arguments (a client resending
-- after a lost reply), the second run answers as the first did: the same
-- token_id marks it as the same call, not a replay. The record outlives
-- the code's expiry while a replay must still be recognised. The event
-- (exchange, or reuse) is written with the change it records.
local INVALID_GRANT = 'invalid_grant'
local a = cjson.decode(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'code', 'code_exp', 'code_used', 'client_id',
  'redirect_uri', 'code_challenge', 'status', 'merchant_id', 'scopes', 'created_at', 'tid', 'id', 'gen', 'exp',
  'resources', 'nonce', 'auth_time', 'code_jkt')
-- A missing field is false, which cjson would encode as false.
local function field(i) return c[i] or '' end
local function refused(description)
  return cjson.encode({outcome = 'refused', code = INVALID_GRANT, description = description})
end
local function ok()
  return cjson.encode({outcome = 'ok', merchant_id = field(8), scopes = field(9), created_at = field(10),
    resources = field(15), nonce = field(16), auth_time = field(17)})
end
if not c[1] or c[1] ~= a.code then
  return refused('the authorization code is unknown or expired')
end
if c[4] ~= a.client_id then
  return refused('the authorization code was issued to another client')
end
if c[3] == '1' and c[11] == a.token_id and c[7] == 'active' then
  return ok()
end
-- A code bound to a DPoP key (dpop_jkt) is redeemed only with a proof of
-- that key; without one it is refused before anything else, so that who
-- stole it can neither use it nor end the connection by replaying it.
if field(18) ~= '' and field(18) ~= (a.jkt or '') then
  return refused('the authorization code is bound to a DPoP key; send a DPoP proof of that key')
end
if c[7] == 'revoked' or (tonumber(c[13]) or 0) < a.gen then
  return refused('the connection of this authorization code was revoked')
end
local conn = {id = field(12), merchant_id = field(8), client_id = field(4), gen = field(13), exp = field(14)}
local function event(type, detail)
  conn_event(a.audit_max, type, a.now, conn, a.actor, detail, type == 'exchange' and a.token_id or '')
end

-- A replay revokes only when it carries the code's PKCE proof: without
-- it, whoever saw a public app's code could end the merchant's connection.
if c[3] == '1' and field(6) ~= '' and a.challenge ~= field(6) then
  return refused('code_verifier does not match the code_challenge')
end
if c[3] == '1' then
  revoke_now(conn, a.now, a.reuse_by, 'code_reuse')
  event('reuse', 'authorization code presented again; connection revoked')
  return cjson.encode({outcome = 'reuse', code = INVALID_GRANT,
    description = 'the authorization code was already used', merchant_id = field(8)})
end
if tonumber(c[2]) <= tonumber(a.now) then
  return refused('the authorization code is unknown or expired')
end
if a.redirect_uri ~= '' and a.redirect_uri ~= field(5) then
  return refused('redirect_uri does not match the one of the authorization request')
end
if a.redirect_uris then
  local registered = false
  for _, u in ipairs(a.redirect_uris) do
    if u == field(5) then registered = true end
  end
  if not registered then
    return refused('the redirect URI this code was issued for is no longer registered for the app')
  end
end
local challenge = field(6)
if challenge == '' and a.challenge ~= '' then
  return refused('code_verifier was sent but the authorization request had no code_challenge')
end
if challenge ~= '' and a.challenge == '' then
  return refused('code_verifier is required for this authorization code')
end
if challenge ~= a.challenge then
  return refused('code_verifier does not match the code_challenge')
end
local exp = string.format('%.0f', math.max(tonumber(a.refresh_exp), tonumber(c[2])))
redis.call('HSET', KEYS[1], 'code_used', '1', 'status', 'active', 'tid', a.token_id,
  'at', a.access, 'at_exp', a.access_exp, 'at_scopes', field(9),
  'rt', a.refresh, 'rt_exp', a.refresh_exp, 'issued_at', a.now, 'last_used', a.now, 'exp', exp,
  'at_jkt', a.jkt or '', 'rt_jkt', (a.bind_refresh and a.jkt) or '')
redis.call('PEXPIREAT', KEYS[1], exp)
index_remove(conn.id, conn.merchant_id, conn.client_id, conn.gen, conn.exp)
index_add(conn.id, conn.merchant_id, conn.client_id, conn.gen, exp)
event('exchange', '')
return ok()

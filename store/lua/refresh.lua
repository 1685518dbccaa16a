-- refresh: rotate a connection's token pair (the refresh_token grant, after
-- client authentication).
--
-- KEYS     the connection's (lib.lua); retry holds the sealed answer of
--          the last refresh for the retry window (its own key, so its TTL
--          is the window's)
-- ARGV[1]  JSON RefreshArgs (store/refresh.go):
--            refresh       digest of the refresh token presented
--            client_id     the authenticated client
--            now           ms
--            access, refresh_new        digests of the new pair
--            access_exp, refresh_exp    their expiries, ms
--            token_id      id of the new token record
--            scopes        requested scopes, space-separated; "" keeps the grant
--            sealed        this answer, sealed under the presented token
--            retry_until   end of its retry window, ms
--            jkt           thumbprint of the request's DPoP key, "" without
--                          a proof: the new access token is bound to it, and
--                          a refresh token bound to a key (rt_jkt) is good
--                          only with a proof of that key
--            bind_refresh  a public app's: an unbound refresh token becomes
--                          bound to jkt
--            keep_refresh  fapi2: the refresh token stays, only the access
--                          token is new (no rotation, no retry window)
--            reuse_by      who revokes the connection on a replay (an Actor)
--            gen           the app's generation (apps.go): a connection of an
--                          older one was revoked with all of the app's
--            app_scopes    the scopes the app is registered for now; a
--                          granted scope it no longer has leaves the grant
--                          here ("" keeps the grant)
--            actor         the client, for the audit event
--            audit_max     the shard stream's bound
--
-- Returns JSON RefreshResult:
--   {outcome="ok", merchant_id, scopes, created_at, access_exp, resources, auth_time, refresh_exp}
--       access_exp is the one used: a connection with its own access_ttl
--       (a password sign-in) gets that lifetime instead of ARGV's
--   {outcome="retry", merchant_id, scopes, created_at, access_exp, sealed}
--       the presented token was rotated a moment ago: its sealed answer
--   {outcome="refused", code="invalid_grant"|"invalid_scope", description}
--       nothing changed
--   {outcome="reuse", code="invalid_grant", description, merchant_id}
--       a used refresh token came back after its window: this replay
--       revoked the connection (RFC 9700 §4.14.2)
--
-- Why so: go-oauth2's refresh neither checks that the caller is the app the
-- token was issued to nor rotates atomically, so concurrent refreshes fork
-- two live token families. Here the presented token must be the current
-- one and the caller's, and the new pair replaces the old in one step. The
-- scope can only narrow. A forged token that this connection never issued
-- is merely unknown: it must not be able to end someone's connection. Run
-- twice with the same arguments, the second run answers as the first did
-- and records nothing. The event is written with the change it records.
local INVALID_GRANT, INVALID_SCOPE = 'invalid_grant', 'invalid_scope'
local a = cjson.decode(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'rt', 'rt_exp', 'client_id', 'status', 'scopes',
  'merchant_id', 'created_at', 'code_exp', 'prev_rt', 'prev_until', 'prev_scopes', 'used_rts',
  'at_exp', 'access_ttl', 'tid', 'id', 'gen', 'exp', 'resources', 'auth_time', 'rt_jkt')
-- A missing field is false, which cjson would encode as false.
local function field(i) return c[i] or '' end
local function refused(code, description)
  return cjson.encode({outcome = 'refused', code = code, description = description})
end
local function answer(outcome, scopes, access_exp, sealed, refresh_exp)
  return cjson.encode({outcome = outcome, merchant_id = field(6), scopes = scopes or '', created_at = field(7),
    access_exp = access_exp or '', sealed = sealed, resources = field(19), auth_time = field(20),
    refresh_exp = refresh_exp or field(2)})
end
local unknown = 'the refresh token is unknown, expired, already used or revoked'
if c[4] ~= 'active' or (tonumber(c[17]) or 0) < a.gen then return refused(INVALID_GRANT, unknown) end
local conn = {id = field(16), merchant_id = field(6), client_id = field(3), gen = field(17), exp = field(18)}
local function event(type, detail)
  conn_event(a.audit_max, type, a.now, conn, a.actor, detail, type == 'refresh' and a.token_id or '')
end

if c[9] == a.refresh and c[15] == a.token_id and c[3] == a.client_id then
  return answer('ok', c[11], c[13])
end
if a.keep_refresh and c[1] == a.refresh and c[15] == a.token_id and c[3] == a.client_id then
  return answer('ok', c[11], c[13])
end
if c[3] ~= a.client_id then
  if c[1] == a.refresh or c[9] == a.refresh then
    return refused(INVALID_GRANT, 'the refresh token was issued to another client')
  end
  return refused(INVALID_GRANT, unknown)
end
-- A bound refresh token without its key is refused before anything else:
-- whoever copied it cannot use it, nor end the connection by replaying it.
if field(21) ~= '' and field(21) ~= a.jkt then
  return refused(INVALID_GRANT, 'the refresh token is bound to a DPoP key; send a DPoP proof of that key')
end
if c[1] ~= a.refresh then
  if c[9] == a.refresh and tonumber(c[10]) > tonumber(a.now) then
    local sealed = redis.call('GET', KEYS[2])
    if sealed then return answer('retry', c[11], c[13], sealed) end
  end
  if not string.find(' ' .. (c[12] or '') .. ' ', ' ' .. a.refresh .. ' ', 1, true) then
    return refused(INVALID_GRANT, unknown)
  end
  revoke_now(conn, a.now, a.reuse_by, 'refresh_reuse')
  event('reuse', 'used refresh token presented again; connection revoked')
  return cjson.encode({outcome = 'reuse', code = INVALID_GRANT,
    description = 'the refresh token was already used; the connection is revoked', merchant_id = field(6)})
end
if tonumber(c[2]) <= tonumber(a.now) then return refused(INVALID_GRANT, unknown) end
local scopes = field(5)
local narrowed_grant = false
if a.app_scopes ~= nil and a.app_scopes ~= '' then
  -- Editing an app never widens a grant, and a scope the app gave up is
  -- dropped from the grant itself, at the first refresh after it.
  local registered, kept = {}, {}
  for s in string.gmatch(a.app_scopes, '%S+') do registered[s] = true end
  for s in string.gmatch(scopes, '%S+') do
    if registered[s] then kept[#kept + 1] = s end
  end
  if #kept == 0 then
    return refused(INVALID_GRANT, 'the app is no longer registered for any scope the merchant granted')
  end
  local grant = table.concat(kept, ' ')
  narrowed_grant = grant ~= scopes
  scopes = grant
end
local grant = scopes
if a.scopes ~= '' then
  local granted = {}
  for s in string.gmatch(scopes, '%S+') do granted[s] = true end
  for s in string.gmatch(a.scopes, '%S+') do
    if not granted[s] then
      return refused(INVALID_SCOPE, 'the requested scope exceeds the scope granted by the merchant')
    end
  end
  scopes = a.scopes
end
local access_exp = a.access_exp
if c[14] and c[14] ~= '' then
  access_exp = string.format('%.0f', tonumber(a.now) + tonumber(c[14]))
end
-- The last used refresh tokens (digests), newest first, to recognise a
-- replay of any of them.
local used = {a.refresh}
for d in string.gmatch(c[12] or '', '%S+') do
  if #used < 16 then used[#used + 1] = d end
end
if a.keep_refresh then
  -- FAPI 2.0 (§5.3.2.1): the refresh token, bound to the app by its
  -- asymmetric authentication, is not rotated; only the access token is
  -- new, and the record keeps its expiry (and so its index entries).
  redis.call('HSET', KEYS[1], 'tid', a.token_id, 'at', a.access, 'at_exp', access_exp, 'at_scopes', scopes,
    'issued_at', a.now, 'last_used', a.now, 'prev_scopes', scopes, 'at_jkt', a.jkt or '')
  if narrowed_grant then redis.call('HSET', KEYS[1], 'scopes', grant) end
  event('refresh', scopes)
  return answer('ok', scopes, access_exp)
end
local exp = string.format('%.0f', math.max(tonumber(a.refresh_exp), tonumber(c[8] or '0')))
redis.call('HSET', KEYS[1], 'tid', a.token_id, 'at', a.access, 'at_exp', access_exp, 'at_scopes', scopes,
  'rt', a.refresh_new, 'rt_exp', a.refresh_exp, 'issued_at', a.now, 'last_used', a.now, 'exp', exp,
  'prev_rt', a.refresh, 'prev_until', a.retry_until, 'prev_scopes', scopes, 'used_rts', table.concat(used, ' '),
  'at_jkt', a.jkt or '')
-- A public app's refresh token is bound at its first refresh with a
-- proof, if the exchange had none (RFC 9449 §5), and stays bound.
if field(21) == '' and a.bind_refresh and (a.jkt or '') ~= '' then
  redis.call('HSET', KEYS[1], 'rt_jkt', a.jkt)
end
if narrowed_grant then redis.call('HSET', KEYS[1], 'scopes', grant) end
local window = tonumber(a.retry_until) - tonumber(a.now)
if window > 0 then
  redis.call('SET', KEYS[2], a.sealed, 'PX', window)
else
  redis.call('DEL', KEYS[2])
end
redis.call('PEXPIREAT', KEYS[1], exp)
index_remove(conn.id, conn.merchant_id, conn.client_id, conn.gen, conn.exp)
index_add(conn.id, conn.merchant_id, conn.client_id, conn.gen, exp)
event('refresh', scopes)
return answer('ok', scopes, access_exp, nil, a.refresh_exp)

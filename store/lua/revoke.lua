-- revoke: end a connection. Its code, access token and refresh token stop
-- working in one step.
--
-- KEYS     the connection's (lib.lua)
-- ARGV[1]  JSON RevokeArgs (store/revoke.go):
--            now        ms
--            by         the Actor revoking
--            token      a token digest: revoke only when it is the current
--                       access or refresh token ("" for any)
--            client_id  revoke only a connection of this client ("" for any)
--            below_gen  revoke only a connection of an app generation below
--                       this one (0 for any): the clean-up after an
--                       app-wide revocation, which must spare connections
--                       made after it
--            detail     the audit event's detail
--            reason     the webhook event's reason (merchant, admin, app,
--                       app_revoked, app_deleted)
--            audit_max  the shard stream's bound
--
-- Returns JSON RevokeResult:
--   {outcome="ok", merchant_id, client_id}       revoked now
--   {outcome="already", merchant_id, client_id}  revoked before; unchanged
--   {outcome="missing"}                          nothing matched; unchanged
--
-- Why so: RFC 7009 revocation names a token, and a client may revoke only
-- its own: the token and client checks happen in the same step as the
-- revocation. The record stays, with its TTL, so the revocation itself is
-- visible; code_used is set so a later exchange of the code is refused.
-- The index entries and the revoke event go in the same step.
local a = cjson.decode(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'id', 'status', 'merchant_id', 'client_id', 'at', 'rt', 'gen', 'exp')
if not c[1] then return cjson.encode({outcome = 'missing'}) end
if a.client_id ~= '' and c[4] ~= a.client_id then return cjson.encode({outcome = 'missing'}) end
if a.token ~= '' and c[5] ~= a.token and c[6] ~= a.token then return cjson.encode({outcome = 'missing'}) end
if a.below_gen > 0 and (tonumber(c[7]) or 0) >= a.below_gen then return cjson.encode({outcome = 'missing'}) end
if c[2] == 'revoked' then
  return cjson.encode({outcome = 'already', merchant_id = c[3], client_id = c[4]})
end
local conn = {id = c[1], merchant_id = c[3], client_id = c[4], gen = c[7] or '', exp = c[8] or ''}
revoke_now(conn, a.now, a.by, a.reason)
conn_event(a.audit_max, 'revoke', a.now, conn, a.by, a.detail, '')
return cjson.encode({outcome = 'ok', merchant_id = c[3], client_id = c[4]})

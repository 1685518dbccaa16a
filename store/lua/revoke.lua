-- revoke: end a connection. Its code, access token and refresh token stop
-- working in one step.
--
-- KEYS[1]  conn:{id}   the connection (store/keys.go)
-- KEYS[2]  retry:{id}  its sealed refresh answer, deleted
-- ARGV[1]  JSON RevokeArgs (store/revoke.go):
--            now        ms
--            by         the Actor revoking
--            token      a token digest: revoke only when it is the current
--                       access or refresh token ("" for any)
--            client_id  revoke only a connection of this client ("" for any)
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
local a = cjson.decode(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'id', 'status', 'merchant_id', 'client_id', 'at', 'rt')
if not c[1] then return cjson.encode({outcome = 'missing'}) end
if a.client_id ~= '' and c[4] ~= a.client_id then return cjson.encode({outcome = 'missing'}) end
if a.token ~= '' and c[5] ~= a.token and c[6] ~= a.token then return cjson.encode({outcome = 'missing'}) end
if c[2] == 'revoked' then
  return cjson.encode({outcome = 'already', merchant_id = c[3], client_id = c[4]})
end
redis.call('HSET', KEYS[1], 'status', 'revoked', 'revoked_at', a.now, 'revoked_by', a.by, 'code_used', '1')
redis.call('HDEL', KEYS[1], 'at', 'rt')
redis.call('DEL', KEYS[2])
return cjson.encode({outcome = 'ok', merchant_id = c[3], client_id = c[4]})

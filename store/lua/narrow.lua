-- narrow: limit a connection's scopes to fewer resources (issue 17): the
-- merchant unticks a warehouse on /connections, an admin does through the
-- API, or the platform removed a resource from the merchant.
--
-- KEYS     the connection's (lib.lua)
-- ARGV[1]  JSON NarrowArgs (store/narrow.go):
--            now        ms
--            by         the Actor narrowing
--            expect     the resources field as the caller read it ("" for
--                       none): the grant is replaced only from that one
--            resources  the new resources field (resourcegrant.go), never
--                       wider than expect (checked in Go)
--            detail     the audit event's detail
--            audit_max  the shard stream's bound
--
-- Returns JSON NarrowResult:
--   {outcome="ok"}       replaced
--   {outcome="missing"}  no such connection, or a revoked one
--   {outcome="refused"}  the grant changed since the caller read it
--
-- Why so: the grant is in the connection's hash, which every token check
-- reads, so the narrowing bites at the next check on every instance; the
-- change and its audit event are one step.
local a = cjson.decode(ARGV[1])
local c = redis.call('HMGET', KEYS[1], 'id', 'status', 'merchant_id', 'client_id', 'resources')
if not c[1] or c[2] == 'revoked' then return cjson.encode({outcome = 'missing'}) end
if (c[5] or '') ~= a.expect then return cjson.encode({outcome = 'refused'}) end
redis.call('HSET', KEYS[1], 'resources', a.resources)
conn_event(a.audit_max, 'narrow', a.now, {id = c[1], merchant_id = c[3], client_id = c[4]}, a.by, a.detail, '')
return cjson.encode({outcome = 'ok'})

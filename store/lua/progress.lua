-- progress: record how far the clean-up of an app-wide revocation got
-- (store/cleanup.go), or take a finished or vanished one off its queue.
--
-- KEYS[1]  app-revocation:{sNN}:<client id>  the clean-up (store/keys.go)
-- KEYS[2]  app-revocations:{sNN}             its shard's queue
-- ARGV[1]  JSON ProgressArgs (store/cleanup.go):
--            client_id
--            gen       the generation the batch was run for
--            revoked   connections the batch revoked
--            shard     the shard to go on with (Shards: done)
--            cursor    the index member to go on after ("" from the start)
--            now       ms, the finish time when shard is past the last
--            shards    the number of shards
--
-- Returns JSON ProgressResult:
--   {outcome="ok"}       recorded (and taken off the queue when done)
--   {outcome="refused"}  the clean-up is of another generation now (a new
--                        revocation restarted it): nothing changed
--   {outcome="missing"}  no clean-up: taken off the queue
--
-- Why so: a revocation of the app (app.lua) may restart the clean-up
-- between a batch and its record; comparing the generation and writing
-- in one step keeps the new clean-up from being overwritten, or marked
-- done, by the batch of the old one. The count is added, not set, so two
-- holders of a lapsed lease cannot lose each other's.
local a = cjson.decode(ARGV[1])
local cur = redis.call('HMGET', KEYS[1], 'gen', 'finished_at')
if not cur[1] then
  redis.call('ZREM', KEYS[2], a.client_id)
  return cjson.encode({outcome = 'missing'})
end
if tonumber(cur[1]) ~= a.gen then return cjson.encode({outcome = 'refused'}) end
if cur[2] and cur[2] ~= '' then
  redis.call('ZREM', KEYS[2], a.client_id)
  return cjson.encode({outcome = 'ok'})
end
redis.call('HINCRBY', KEYS[1], 'revoked', a.revoked)
redis.call('HSET', KEYS[1], 'shard', a.shard, 'cursor', a.cursor)
if a.shard >= a.shards then
  redis.call('HSET', KEYS[1], 'finished_at', a.now)
  redis.call('ZREM', KEYS[2], a.client_id)
end
return cjson.encode({outcome = 'ok'})

-- lease: take, keep or give back the maintenance lease, so that exactly
-- one instance at a time runs the background work (store/cleanup.go).
--
-- KEYS[1]  lease:maintenance  the holder's id (store/keys.go)
-- ARGV[1]  JSON LeaseArgs (store/cleanup.go):
--            holder  this instance's id, random per process
--            ttl     the lease's lifetime, ms; 0 gives it back
--
-- Returns JSON LeaseResult: {outcome="ok"} held (taken, kept or given
-- back) or {outcome="refused"} another instance holds it.
--
-- Why so: the check of the holder and the write are one step, so an
-- instance whose lease lapsed cannot extend or drop the lease that another
-- has taken since.
local a = cjson.decode(ARGV[1])
local holder = redis.call('GET', KEYS[1])
if a.ttl == 0 then
  if holder == a.holder then redis.call('DEL', KEYS[1]) end
  return cjson.encode({outcome = 'ok'})
end
if holder and holder ~= a.holder then return cjson.encode({outcome = 'refused'}) end
redis.call('SET', KEYS[1], a.holder, 'PX', a.ttl)
return cjson.encode({outcome = 'ok'})

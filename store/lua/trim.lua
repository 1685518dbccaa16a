-- trim: take expired connections' entries out of a shard's index of apps,
-- and their counts with them (store/cleanup.go).
--
-- KEYS[1]  app-conns:{sNN}   the shard's index by app (store/keys.go)
-- KEYS[2]  app-counts:{sNN}  its live connections per app and generation
-- ARGV[1]  JSON TrimArgs (store/cleanup.go):
--            members  the index members to take out, each
--                     "<client id>:<generation>:<expiry>:<id>"
--
-- Returns JSON TrimResult: {outcome="ok", removed}.
--
-- Why so: a count goes down with the entry it counted, in one step, and
-- only when the entry was still there, so that an entry taken out twice
-- (two lease holders for a moment) is not counted out twice.
local a = cjson.decode(ARGV[1])
local removed = 0
for _, m in ipairs(a.members) do
  if redis.call('ZREM', KEYS[1], m) == 1 then
    removed = removed + 1
    local field = string.match(m, '^(.-:%d+):')
    if field and redis.call('HINCRBY', KEYS[2], field, -1) <= 0 then redis.call('HDEL', KEYS[2], field) end
  end
end
return cjson.encode({outcome = 'ok', removed = removed})

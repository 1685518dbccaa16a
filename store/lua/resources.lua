-- resources: replace a merchant's resources of one type (the platform's
-- warehouses, sales channels, stores…), with its audit event.
--
-- KEYS[1]  resources:{sNN}:<merchant id>:<type>  id → name (store/keys.go)
-- KEYS[2]  audit:{sNN}                           the merchant's shard's audit stream
-- ARGV[1]  JSON ResourcesArgs (store/resources.go):
--            merchant_id, type
--            resources  [{id, name}], possibly empty; validated in Go
--                       (CheckResources: ids unique and bounded, names
--                       trimmed, at most 1000)
--            now        ms
--            actor      who (an Actor)
--            audit_max  the shard stream's bound
--
-- Returns JSON ResourcesResult:
--   {outcome="ok", count, added, removed, renamed, removed_ids}  replaced, and the
--                                                   event written
--   {outcome="already", count}  the stored set is this one, names
--                               included: nothing written, no event
--
-- Why so: a replacement must never be seen half done nor without its
-- event, so the set and the event change in one step. A platform that
-- sends the same set again (a periodic sync) writes nothing, so the audit
-- trail records changes, not syncs. An empty set leaves no key.
local a = cjson.decode(ARGV[1])
local new = a.resources
local h = redis.call('HGETALL', KEYS[1])
local old = {}
for i = 1, #h, 2 do old[h[i]] = h[i + 1] end
local added, renamed = 0, 0
for _, r in ipairs(new) do
  local was = old[r.id]
  if was == nil then
    added = added + 1
  elseif was ~= r.name then
    renamed = renamed + 1
  end
end
local removed = #h / 2 - (#new - added)
-- The ids that go, for the caller to take out of the merchant's grants.
local keep, removed_ids = {}, {}
for _, r in ipairs(new) do keep[r.id] = true end
for id in pairs(old) do
  if not keep[id] then removed_ids[#removed_ids + 1] = id end
end
if added == 0 and removed == 0 and renamed == 0 then
  return cjson.encode({outcome = 'already', count = #new})
end
redis.call('DEL', KEYS[1])
-- In batches, so that no call takes thousands of arguments.
local batch = 200
for i = 1, #new, batch do
  local hset = {'HSET', KEYS[1]}
  for j = i, math.min(i + batch - 1, #new) do
    hset[#hset + 1] = new[j].id
    hset[#hset + 1] = new[j].name
  end
  redis.call(unpack(hset))
end
local detail = string.format('%s: %d resources; %d added, %d removed, %d renamed', a.type, #new, added, removed,
  renamed)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', tostring(a.audit_max), '*', 'type', 'resources', 't', a.now,
  'merchant_id', a.merchant_id, 'actor', a.actor, 'detail', detail)
local answer = {outcome = 'ok', count = #new, added = added, removed = removed, renamed = renamed}
-- (An empty table would be encoded as an object: left out then.)
if #removed_ids > 0 then answer.removed_ids = removed_ids end
return cjson.encode(answer)

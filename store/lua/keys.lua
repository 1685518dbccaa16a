-- keys: add an ID-token signing key (a rotation), or prune retired ones.
--
-- KEYS[1]  signing-keys:{s00}  key id → JSON key (store/keys.go)
-- KEYS[2]  audit:{s00}         shard 0's audit stream
-- ARGV[1]  JSON KeysArgs (store/signingkeys.go):
--            op        "add" or "prune"
--            add:   key (the JSON to store), kid, alg
--                   after     the newest key of alg the caller saw, "" for none
--                   withdraw  take every older key of alg out of the JWKS
--            prune: prune (key ids)
--            detail    the audit event's
--            now       ms
--            actor     who (an Actor)
--            audit_max the stream's bound
--
-- Returns JSON KeysResult:
--   {outcome="ok"}                 added (or pruned), with its event
--   {outcome="refused", newest}    add: the newest key of alg is not after;
--                                  nothing written
--   {outcome="already"}            prune: none of them was there
--
-- Why so: every instance may decide that a rotation is due at the same
-- moment; the newest key is compared and the new one stored in one step,
-- so exactly one of them adds its key, and the loser reads the set again.
-- The event is written with the change. The set is a handful of keys, so
-- reading it whole is cheap.
local a = cjson.decode(ARGV[1])
local function audit()
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', tostring(a.audit_max), '*', 'type', 'keys', 't', a.now,
    'actor', a.actor, 'detail', a.detail)
end
if a.op == 'prune' then
  local n = 0
  for _, kid in ipairs(a.prune) do n = n + redis.call('HDEL', KEYS[1], kid) end
  if n == 0 then return cjson.encode({outcome = 'already'}) end
  audit()
  return cjson.encode({outcome = 'ok'})
end
if a.op ~= 'add' then return redis.error_reply('keys: unknown op ' .. tostring(a.op)) end
local h = redis.call('HGETALL', KEYS[1])
local newest, newestFrom = '', -1
local same = {}
for i = 1, #h, 2 do
  local k = cjson.decode(h[i + 1])
  if k.alg == a.alg then
    same[#same + 1] = {kid = h[i], k = k}
    local from = tonumber(k.active_from)
    if from > newestFrom or (from == newestFrom and h[i] > newest) then newest, newestFrom = h[i], from end
  end
end
if newest ~= a.after then return cjson.encode({outcome = 'refused', newest = newest}) end
if a.withdraw then
  for _, e in ipairs(same) do
    if not e.k.withdrawn_at or e.k.withdrawn_at == 0 then
      e.k.withdrawn_at = tonumber(a.now)
      redis.call('HSET', KEYS[1], e.kid, cjson.encode(e.k))
    end
  end
end
redis.call('HSET', KEYS[1], a.kid, a.key)
audit()
return cjson.encode({outcome = 'ok'})

-- app: change an app's state: disable or enable it, or revoke every
-- connection it has (an app-wide revocation), with its audit event.
--
-- KEYS[1]  app:{sNN}:<client id>             the app (store/keys.go)
-- KEYS[2]  audit:{sNN}                       its shard's audit stream
-- KEYS[3]  app-revocation:{sNN}:<client id>  the clean-up of its last
--                                            app-wide revocation
-- KEYS[4]  app-revocations:{sNN}             clean-ups to run, by start
-- KEYS[5]  outbox:{sNN}                      its shard's webhook outbox
-- ARGV[1]  JSON AppArgs (store/apps.go):
--            client_id
--            op         "create" | "disable" | "enable" | "revoke-all" | "update" | "delete"
--            fields     for create and update: the app hash's fields to set
--                       (validated in Go, apps.go CreateApp, UpdateApp),
--                       with "detail"
--            expect     for update, optional: fields and the values they must
--                       have for the update to happen ("" for an absent
--                       field): a lifecycle step from the status it starts
--                       from, a secret rotation from the secret it read
--            now        ms
--            actor      who (an Actor)
--            audit_max  the shard stream's bound
--
-- Returns JSON AppResult:
--   {outcome="ok", gen}       changed; gen is the app's generation now
--   {outcome="already", gen}  disable of a disabled app, enable of an
--                             enabled one; unchanged
--   {outcome="missing"}       no such app (or a deleted one)
--   {outcome="already"}       create of a client id that exists (or did)
--   {outcome="refused", field} an expected field did not have its value
--
-- Why so: an app-wide revocation must answer at once whatever the number
-- of connections, so it is one write: the generation goes up, and every
-- check refuses a connection approved under an older one (the app record
-- is cached in every instance and its change published); the clean-up
-- revokes those connections later, in the background (cleanup.go), and is
-- queued here, so a revocation is never without its clean-up. The change
-- and its event are one step, so neither is ever without the other.
local a = cjson.decode(ARGV[1])
-- A hash's fields from the "fields" argument, less the event's detail.
local function field_args(fields)
  local set = {}
  for k, v in pairs(fields) do
    if k ~= 'detail' then set[#set + 1] = k; set[#set + 1] = v end
  end
  return set
end
local function audit(detail)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', tostring(a.audit_max), '*', 'type', 'app', 't', a.now,
    'client_id', a.client_id, 'actor', a.actor, 'detail', detail)
end
if a.op == 'create' then
  -- A client id is never reused, not even a deleted app's (its
  -- tombstone holds the generation its old tokens were issued under).
  if redis.call('EXISTS', KEYS[1]) == 1 then return cjson.encode({outcome = 'already'}) end
  redis.call('HSET', KEYS[1], unpack(field_args(a.fields)))
  audit(a.fields.detail)
  return cjson.encode({outcome = 'ok', gen = 0})
end
local c = redis.call('HMGET', KEYS[1], 'client_id', 'disabled', 'gen', 'deleted', 'status')
if not c[1] or c[4] == '1' then return cjson.encode({outcome = 'missing'}) end
local gen = tonumber(c[3]) or 0
local status = c[5] or 'published'
local detail
-- The app's webhook hears of a change of its status (suspended stands
-- for disabled, whatever the lifecycle status under it), through the
-- shard's outbox, in the same step as the change.
local function status_changed(new, old, reason)
  redis.call('XADD', KEYS[5], '*', 'type', 'app.status_changed', 't', a.now, 'client_id', a.client_id,
    'status', new, 'previous_status', old, 'reason', reason or '')
end
-- An app-wide revocation: the generation goes up and the clean-up of the
-- older generation's connections is queued (a running one restarts from
-- the first shard under the new generation: the connections made since
-- the last one are now due too).
local function revoke_all(reason)
  gen = gen + 1
  redis.call('HSET', KEYS[1], 'gen', gen, 'revoked_all_at', a.now, 'revoked_all_by', a.actor)
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[3], 'client_id', a.client_id, 'gen', gen, 'by', a.actor, 'started_at', a.now,
    'shard', 0, 'cursor', '', 'revoked', 0, 'reason', reason)
  redis.call('ZADD', KEYS[4], a.now, a.client_id)
end
if a.op == 'disable' or a.op == 'enable' then
  local v = a.op == 'disable' and '1' or '0'
  if (c[2] or '0') == v then return cjson.encode({outcome = 'already', gen = gen}) end
  redis.call('HSET', KEYS[1], 'disabled', v)
  if a.op == 'disable' then status_changed('suspended', status) else status_changed(status, 'suspended') end
  detail = a.op .. 'd'
elseif a.op == 'revoke-all' then
  revoke_all('app_revoked')
  detail = 'every connection revoked (generation ' .. gen .. ')'
elseif a.op == 'update' then
  if a.expect then
    for k, v in pairs(a.expect) do
      if (redis.call('HGET', KEYS[1], k) or '') ~= v then
        return cjson.encode({outcome = 'refused', field = k, gen = gen})
      end
    end
  end
  local set = field_args(a.fields)
  if #set == 0 then return cjson.encode({outcome = 'already', gen = gen}) end
  redis.call('HSET', KEYS[1], unpack(set))
  -- A suspended app stays suspended to its webhook whatever its review
  -- does meanwhile; enabling it tells the status it then has.
  if a.fields.status and a.fields.status ~= status and c[2] ~= '1' then
    status_changed(a.fields.status, status, a.fields.review_note)
  end
  detail = a.fields.detail
elseif a.op == 'delete' then
  -- The record stays as a tombstone (deleted=1, which every read treats
  -- as no app), so the clean-up and the checks still see its generation.
  revoke_all('app_deleted')
  redis.call('HSET', KEYS[1], 'deleted', '1', 'disabled', '1')
  status_changed('deleted', c[2] == '1' and 'suspended' or status)
  detail = 'deleted; every connection revoked (generation ' .. gen .. ')'
else
  return redis.error_reply('app: unknown op ' .. tostring(a.op))
end
audit(detail)
return cjson.encode({outcome = 'ok', gen = gen})

-- webhook: one step of a delivery to an app's webhook (deliveries.go):
-- queue it, claim it for an attempt, record the attempt's result, or send
-- it again.
--
-- KEYS[1]  webhook-delivery:{sNN}:<id>     the delivery (store/keys.go)
-- KEYS[2]  webhook-deliveries:{sNN}:<client id>  the app's deliveries, newest
--                                          first (lexicographic; keys.go), by
--                                          creation time
-- KEYS[3]  webhooks-due:{sNN}              deliveries to attempt, by when
-- KEYS[4]  webhooks-undelivered:{sNN}      deliveries not yet delivered or
--                                          failed, by creation time
-- KEYS[5]  app:{sNN}:<client id>           the app, for its endpoint's health
-- KEYS[6]  audit:{sNN}                     its shard's audit stream
-- (all in the app's shard)
-- ARGV[1]  JSON WebhookArgs (deliveries.go):
--            op            "enqueue" | "claim" | "result" | "resend"
--            id, now (ms)
--            for enqueue: client_id, type, payload, retention (ms), member
--                         (the app's list entry) and trim (the list's
--                         first entry too old to keep)
--            for claim: claim (a fresh token), lease (ms)
--            for result: claim, ok, status (HTTP, 0 for none), latency (ms),
--                        error, next_at (ms; 0 when this was the last
--                        attempt), disable_after (ms), audit_max
--            for resend: retention (ms)
--
-- Returns JSON WebhookResult:
--   {outcome="ok"}                  done; claim answers the delivery's
--                                   fields too, result whether the
--                                   endpoint was disabled now
--   {outcome="already"}             enqueue of a delivery that exists (the
--                                   same outbox event again, after a crash)
--   {outcome="missing"}             no such delivery, or (claim) not due
--   {outcome="refused"}             result of a claim that is not the
--                                   delivery's any more; resend of one in
--                                   flight
--
-- Why so: a delivery is claimed by one instance at a time: the claim moves
-- its due time to the end of the lease, so a crashed instance's delivery
-- comes due again then and no other instance takes it before; a result is
-- recorded only under the claim it was attempted with. The endpoint's
-- health is in the app's hash, in the same slot, so a success or a
-- failure and what it does to the endpoint are one step.
local a = cjson.decode(ARGV[1])
-- Times come as decimal strings (Millis); numbers for the arithmetic.
local now = tonumber(a.now)
local next_at = tonumber(a.next_at) or 0
local function answer(outcome, extra)
  extra = extra or {}
  extra.outcome = outcome
  return cjson.encode(extra)
end
local MAX_LOG = 20

if a.op == 'enqueue' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return answer('already') end
  redis.call('HSET', KEYS[1], 'id', a.id, 'client_id', a.client_id, 'type', a.type, 'payload', a.payload,
    'created_at', a.now, 'status', 'pending', 'attempts', 0, 'round', 0, 'next_at', a.now, 'log', '[]')
  redis.call('PEXPIRE', KEYS[1], a.retention)
  redis.call('ZADD', KEYS[2], 0, a.member)
  -- The app's list keeps what is younger than the records themselves.
  redis.call('ZREMRANGEBYLEX', KEYS[2], '[' .. a.trim, '+')
  redis.call('ZADD', KEYS[3], a.now, a.id)
  redis.call('ZADD', KEYS[4], a.now, a.id)
  return answer('ok')
end

if a.op == 'claim' then
  local due = redis.call('ZSCORE', KEYS[3], a.id)
  if not due or tonumber(due) > now then return answer('missing') end
  local flat = redis.call('HGETALL', KEYS[1])
  if #flat == 0 then
    -- Outlived its retention: nothing left to deliver.
    redis.call('ZREM', KEYS[3], a.id)
    redis.call('ZREM', KEYS[4], a.id)
    return answer('missing')
  end
  redis.call('ZADD', KEYS[3], string.format('%.0f', now + a.lease), a.id)
  redis.call('HSET', KEYS[1], 'status', 'delivering', 'claim', a.claim)
  local d = {}
  for i = 1, #flat, 2 do d[flat[i]] = flat[i + 1] end
  d.claim = a.claim
  return answer('ok', {delivery = d})
end

if a.op == 'result' then
  local d = redis.call('HMGET', KEYS[1], 'claim', 'attempts', 'log')
  if not d[1] or d[1] ~= a.claim then return answer('refused') end
  local log = cjson.decode(d[3] or '[]')
  table.insert(log, 1, {at = now, status = a.status, latency_ms = a.latency, error = a.error})
  while #log > MAX_LOG do table.remove(log) end
  local attempts = (tonumber(d[2]) or 0) + 1
  redis.call('HSET', KEYS[1], 'attempts', attempts, 'log', cjson.encode(log), 'last_at', a.now,
    'last_status', a.status)
  redis.call('HDEL', KEYS[1], 'claim')
  local app = redis.call('EXISTS', KEYS[5]) == 1
  local disabled = false
  if a.ok then
    redis.call('HSET', KEYS[1], 'status', 'delivered', 'delivered_at', a.now, 'next_at', 0)
    redis.call('ZREM', KEYS[3], a.id)
    redis.call('ZREM', KEYS[4], a.id)
    if app then redis.call('HSET', KEYS[5], 'webhook_failing_since', '') end
  else
    if next_at > 0 then
      redis.call('HSET', KEYS[1], 'status', 'pending', 'next_at', a.next_at)
      redis.call('ZADD', KEYS[3], a.next_at, a.id)
    else
      redis.call('HSET', KEYS[1], 'status', 'failed', 'next_at', 0)
      redis.call('ZREM', KEYS[3], a.id)
      redis.call('ZREM', KEYS[4], a.id)
    end
    if app then
      local h = redis.call('HMGET', KEYS[5], 'webhook_failing_since', 'webhook_disabled_at', 'webhook_url')
      local since = tonumber(h[1]) or 0
      if since == 0 then
        since = now
        redis.call('HSET', KEYS[5], 'webhook_failing_since', since)
      end
      if a.disable_after > 0 and (h[2] or '') == '' and (h[3] or '') ~= '' and now - since >= a.disable_after then
        redis.call('HSET', KEYS[5], 'webhook_disabled_at', a.now)
        redis.call('XADD', KEYS[6], 'MAXLEN', '~', tostring(a.audit_max), '*', 'type', 'app', 't', a.now,
          'client_id', redis.call('HGET', KEYS[1], 'client_id') or '', 'actor', 'deliverer',
          'detail', 'webhook disabled after failing too long')
        disabled = true
      end
    end
  end
  return answer('ok', {disabled = disabled})
end

if a.op == 'resend' then
  local d = redis.call('HMGET', KEYS[1], 'status', 'attempts', 'created_at')
  if not d[1] then return answer('missing') end
  if d[1] == 'delivering' then return answer('refused') end
  -- The retry schedule starts again from this attempt (round).
  redis.call('HSET', KEYS[1], 'status', 'pending', 'next_at', a.now, 'round', d[2])
  redis.call('PEXPIRE', KEYS[1], a.retention)
  redis.call('ZADD', KEYS[3], a.now, a.id)
  redis.call('ZADD', KEYS[4], d[3], a.id)
  return answer('ok')
end

return redis.error_reply('webhook: unknown op ' .. tostring(a.op))

-- par: a pushed authorization request (RFC 9126) — pushed, claimed by the
-- authorization endpoint, consumed by the merchant's decision.
--
-- KEYS[1]  par:<digest of the request_uri>
-- ARGV[1]  JSON PushedArgs (store/pushed.go):
--            op         push | claim | consume
--            client_id  the app that pushed it (push), or the one the
--                       authorization request names (claim, consume)
--            params     the request's parameters, a URL query (push)
--            now        ms
--            ttl        ms: the request_uri's life before it is claimed
--                       (push), the consent's window once claimed (claim);
--                       the record's exp field holds its end
--
-- Returns JSON PushedResult:
--   {outcome="ok", params}     pushed, claimed (params of the request) or consumed
--   {outcome="refused"}        unknown, expired, another app's, or already
--                              decided: nothing changed
--
-- Why so: the request_uri must be presented within its short life (60 s)
-- and by the app that pushed it; the first presentation claims it and
-- gives the merchant the consent's window to log in and decide, during
-- which the same browser may reload the page (RFC 9126 §4 allows it). The
-- decision consumes it: a request_uri starts at most one code. Each step
-- is one atomic check-and-change, so two decisions cannot both win.
local a = cjson.decode(ARGV[1])
local function refused() return cjson.encode({outcome = 'refused'}) end
if a.op == 'push' then
  local exp = string.format('%.0f', tonumber(a.now) + tonumber(a.ttl))
  redis.call('HSET', KEYS[1], 'client_id', a.client_id, 'params', a.params, 'created_at', a.now, 'claimed', '0',
    'exp', exp)
  redis.call('PEXPIREAT', KEYS[1], exp)
  return cjson.encode({outcome = 'ok'})
end
local c = redis.call('HMGET', KEYS[1], 'client_id', 'params', 'claimed', 'exp')
-- exp is checked against the caller's clock too, as a code's is: the TTL
-- only makes sure the record goes.
if not c[1] or c[1] ~= a.client_id or tonumber(c[4]) <= tonumber(a.now) then return refused() end
if a.op == 'claim' then
  if c[3] ~= '1' then
    local exp = string.format('%.0f', tonumber(a.now) + tonumber(a.ttl))
    redis.call('HSET', KEYS[1], 'claimed', '1', 'exp', exp)
    redis.call('PEXPIREAT', KEYS[1], exp)
  end
  return cjson.encode({outcome = 'ok', params = c[2]})
end
if a.op == 'consume' then
  if c[3] ~= '1' then return refused() end
  redis.call('DEL', KEYS[1])
  return cjson.encode({outcome = 'ok'})
end
return redis.error_reply('par: unknown op ' .. tostring(a.op))

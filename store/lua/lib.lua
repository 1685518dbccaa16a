-- lib: helpers every connection script shares; store/transitions.go puts
-- this file in front of each script that names it (one script per EVAL
-- still: Redis has no include).
--
-- Every connection script has the same keys (store/keys.go, connKeys):
--   KEYS[1]  conn:{sNN}:<id>        the connection
--   KEYS[2]  retry:{sNN}:<id>       its sealed refresh answer
--   KEYS[3]  conns:{sNN}            the shard's index of live connections
--   KEYS[4]  app-conns:{sNN}        ... by app and generation
--   KEYS[5]  merchant-conns:{sNN}   ... by merchant
--   KEYS[6]  audit:{sNN}            the shard's audit stream
--   KEYS[7]  app-counts:{sNN}       live connections per app and generation
--   KEYS[8]  outbox:{sNN}           the shard's webhook outbox
-- and its arguments carry audit_max, the shard stream's bound.
--
-- Why so: the record, its index entries, its audit event and its webhook
-- event change in one atomic step, so no listing shows a connection that
-- is not there, none misses one that is, and no transition is without its
-- event, even when the process that asked for it dies the moment after.

local function ms13(v) return string.format('%013.0f', tonumber(v)) end
local function gen10(v) return string.format('%010.0f', tonumber(v) or 0) end

-- The index members of connection id (keys.go: lexicographic, by prefix,
-- then expiry).
local function members(id, merchant, client, gen, exp)
  local e = ms13(exp)
  return e .. ':' .. id, client .. ':' .. gen10(gen) .. ':' .. e .. ':' .. id, merchant .. ':' .. e .. ':' .. id
end

local function index_add(id, merchant, client, gen, exp)
  local all, app, mer = members(id, merchant, client, gen, exp)
  redis.call('ZADD', KEYS[3], 0, all)
  redis.call('ZADD', KEYS[4], 0, app)
  redis.call('ZADD', KEYS[5], 0, mer)
end

-- index_remove takes the members out and reports whether the app's was
-- there (so a count goes down once).
local function index_remove(id, merchant, client, gen, exp)
  if not exp or exp == '' then return false end
  local all, app, mer = members(id, merchant, client, gen, exp)
  redis.call('ZREM', KEYS[3], all)
  local was = redis.call('ZREM', KEYS[4], app)
  redis.call('ZREM', KEYS[5], mer)
  return was == 1
end

-- app_count moves the count of the app's live connections in the shard
-- (keys.go, app-counts), dropping the field at zero.
local function app_count(client, gen, d)
  local field = client .. ':' .. gen10(gen)
  if redis.call('HINCRBY', KEYS[7], field, d) <= 0 then redis.call('HDEL', KEYS[7], field) end
end

-- audit appends one event; fields is a list of {name, value}, empty values
-- left out. t is the event's time in ms, as the caller's clock has it.
local function audit(max, fields)
  local args = {'XADD', KEYS[6], 'MAXLEN', '~', tostring(max), '*'}
  for _, kv in ipairs(fields) do
    if kv[2] and kv[2] ~= '' then
      args[#args + 1] = kv[1]
      args[#args + 1] = kv[2]
    end
  end
  redis.call(unpack(args))
end

-- conn_event appends the event of a change to connection c (id, client_id,
-- merchant_id): who did it, its detail, the token pair it issued ("" for
-- none).
local function conn_event(max, type, now, c, actor, detail, token_id)
  audit(max, {{'type', type}, {'t', now}, {'connection_id', c.id}, {'client_id', c.client_id},
    {'merchant_id', c.merchant_id}, {'actor', actor}, {'detail', detail}, {'token_id', token_id}})
end

-- webhook_event puts a lifecycle event of connection c (id, client_id,
-- merchant_id) in the shard's outbox, which the deliverer moves on to the
-- app's webhook, if it has one (webhooks.go). It has no bound: an entry
-- leaves once the deliverer has taken it, so none is lost before then.
local function webhook_event(type, now, c, scopes, reason)
  redis.call('XADD', KEYS[8], '*', 'type', type, 't', now, 'connection_id', c.id, 'client_id', c.client_id,
    'merchant_id', c.merchant_id, 'scopes', scopes or '', 'reason', reason or '')
end

-- revoke_now ends the connection whose fields are c (id, merchant_id,
-- client_id, gen, exp): its tokens and retry answer go, its index entries
-- go, the record stays with its TTL so the revocation shows; the app's
-- webhook hears why (reason: merchant, admin, app, code_reuse, ...).
local function revoke_now(c, now, by, reason)
  local scopes = redis.call('HGET', KEYS[1], 'scopes')
  redis.call('HSET', KEYS[1], 'status', 'revoked', 'revoked_at', now, 'revoked_by', by, 'code_used', '1')
  redis.call('HDEL', KEYS[1], 'at', 'rt')
  redis.call('DEL', KEYS[2])
  if index_remove(c.id, c.merchant_id, c.client_id, c.gen, c.exp) then app_count(c.client_id, c.gen, -1) end
  webhook_event('connection.revoked', now, c, scopes, reason)
end

package store

import "github.com/redis/go-redis/v9"

// Each script touches one connection: its hash conn:{id} and the key
// retry:{id} that holds a sealed refresh answer for the retry window. Both
// share the {id} hash tag, so a script is atomic, one round trip (EVALSHA),
// and runs unchanged on a Redis Cluster.
//
// Connection hash fields:
//
//	id, merchant_id, client_id, scopes (granted, space-separated), created_at
//	status          pending (code not yet exchanged) | active | revoked
//	code, code_exp, code_used, redirect_uri, code_challenge
//	tid             id of the current token record
//	at, at_exp, at_scopes    current access token digest, expiry, scopes
//	rt, rt_exp               current refresh token digest, expiry
//	issued_at, last_used
//	revoked_at, revoked_by
//	access_ttl      access token lifetime (ms) of a connection whose tokens
//	                live shorter than the default (password-grant sign-ins)
//
// Times are Unix milliseconds. Digests are hex SHA-256 of the whole
// credential. Reasons returned to callers are safe to show to clients.

// exchangeScript consumes an authorization code and issues the first token
// pair of its connection. Run twice with the same arguments (the same token
// record id), the second run answers as the first did: a command resent
// after a lost reply must not look like a replay.
//
// ARGV: 1 code digest, 2 client id, 3 redirect_uri sent at the token
// endpoint ("" when absent), 4 S256 of the code_verifier ("" when absent),
// 5 now, 6 access digest, 7 refresh digest, 8 access expiry, 9 refresh
// expiry, 10 token record id.
var exchangeScript = redis.NewScript(`
local c = redis.call('HMGET', KEYS[1], 'code', 'code_exp', 'code_used', 'client_id',
  'redirect_uri', 'code_challenge', 'status', 'merchant_id', 'scopes', 'created_at', 'tid')
if not c[1] or c[1] ~= ARGV[1] then
  return {'invalid_grant', 'the authorization code is unknown or expired'}
end
if c[4] ~= ARGV[2] then
  return {'invalid_grant', 'the authorization code was issued to another client'}
end
if c[3] == '1' and c[11] == ARGV[10] and c[7] == 'active' then
  -- This very exchange, run again (a client library resending after a
  -- lost reply): it already succeeded, and is not a replay.
  return {'ok', c[8], c[9], c[10]}
end
if c[7] == 'revoked' then
  return {'invalid_grant', 'the connection of this authorization code was revoked'}
end
if c[3] == '1' then
  -- RFC 6749 section 4.1.2: a code used twice revokes what it issued.
  redis.call('HSET', KEYS[1], 'status', 'revoked', 'revoked_at', ARGV[5], 'revoked_by', 'code-reuse')
  redis.call('HDEL', KEYS[1], 'at', 'rt')
  redis.call('DEL', KEYS[2])
  return {'invalid_grant', 'the authorization code was already used', 'reuse', c[8]}
end
if tonumber(c[2]) <= tonumber(ARGV[5]) then
  return {'invalid_grant', 'the authorization code is unknown or expired'}
end
if ARGV[3] ~= '' and ARGV[3] ~= c[5] then
  return {'invalid_grant', 'redirect_uri does not match the one of the authorization request'}
end
local challenge = c[6] or ''
if challenge == '' and ARGV[4] ~= '' then
  return {'invalid_grant', 'code_verifier was sent but the authorization request had no code_challenge'}
end
if challenge ~= '' and ARGV[4] == '' then
  return {'invalid_grant', 'code_verifier is required for this authorization code'}
end
if challenge ~= ARGV[4] then
  return {'invalid_grant', 'code_verifier does not match the code_challenge'}
end
redis.call('HSET', KEYS[1], 'code_used', '1', 'status', 'active', 'tid', ARGV[10],
  'at', ARGV[6], 'at_exp', ARGV[8], 'at_scopes', c[9],
  'rt', ARGV[7], 'rt_exp', ARGV[9], 'issued_at', ARGV[5], 'last_used', ARGV[5])
-- Keep the record while its refresh token lives, and at least as long as
-- the code could be replayed, so a replay is still recognised.
redis.call('PEXPIREAT', KEYS[1], math.max(tonumber(ARGV[9]), tonumber(c[2])))
return {'ok', c[8], c[9], c[10]}
`)

// refreshScript rotates a connection's token pair: the presented refresh
// token must be the current one and belong to the calling client; the new
// pair replaces the old one in the same step, so both old tokens die at once
// and concurrent refreshes cannot fork the family. The answer is kept,
// sealed, for a short retry window: presenting the just-used refresh token
// again within it returns that same answer; after it, or with any older
// refresh token of the connection, it is a replay and revokes the
// connection (RFC 9700 §4.14.2).
//
// ARGV: 1 refresh digest, 2 client id, 3 now, 4 access digest, 5 refresh
// digest, 6 access expiry, 7 refresh expiry, 8 token record id, 9 requested
// scopes, space-separated ("" keeps the granted scopes), 10 the sealed
// answer, 11 end of its retry window. KEYS[2] holds the sealed answer for
// the window (its own key, so its TTL is the window's). A connection with
// its own access_ttl gets access tokens of that lifetime instead of ARGV[6];
// the answer ends with the access expiry used.
var refreshScript = redis.NewScript(`
local c = redis.call('HMGET', KEYS[1], 'rt', 'rt_exp', 'client_id', 'status', 'scopes',
  'merchant_id', 'created_at', 'code_exp', 'prev_rt', 'prev_until', 'prev_scopes', 'used_rts',
  'at_exp', 'access_ttl', 'tid')
local unknown = {'invalid_grant', 'the refresh token is unknown, expired, already used or revoked'}
if c[4] ~= 'active' then return unknown end
if c[9] == ARGV[1] and c[15] == ARGV[8] and c[3] == ARGV[2] then
  -- This very refresh, run again: it already succeeded.
  return {'ok', c[6], c[11], c[7], c[13]}
end
if c[3] ~= ARGV[2] then
  if c[1] == ARGV[1] or c[9] == ARGV[1] then
    return {'invalid_grant', 'the refresh token was issued to another client'}
  end
  return unknown
end
if c[1] ~= ARGV[1] then
  if c[9] == ARGV[1] and tonumber(c[10]) > tonumber(ARGV[3]) then
    local sealed = redis.call('GET', KEYS[2])
    if sealed then return {'retry', c[6], c[11], c[7], sealed, c[13]} end
  end
  -- A refresh token this connection used before, presented again, is a
  -- replay. Anything else is merely unknown: a forged token must not be
  -- able to end someone's connection.
  if not string.find(' ' .. (c[12] or '') .. ' ', ' ' .. ARGV[1] .. ' ', 1, true) then return unknown end
  redis.call('HSET', KEYS[1], 'status', 'revoked', 'revoked_at', ARGV[3], 'revoked_by', 'refresh-reuse')
  redis.call('HDEL', KEYS[1], 'at', 'rt')
  redis.call('DEL', KEYS[2])
  return {'invalid_grant', 'the refresh token was already used; the connection is revoked', 'reuse', c[6]}
end
if tonumber(c[2]) <= tonumber(ARGV[3]) then return unknown end
local scopes = c[5]
if ARGV[9] ~= '' then
  local granted = {}
  for s in string.gmatch(c[5], '%S+') do granted[s] = true end
  for s in string.gmatch(ARGV[9], '%S+') do
    if not granted[s] then
      return {'invalid_scope', 'the requested scope exceeds the scope granted by the merchant'}
    end
  end
  scopes = ARGV[9]
end
local at_exp = ARGV[6]
if c[14] and c[14] ~= '' then
  at_exp = string.format('%.0f', tonumber(ARGV[3]) + tonumber(c[14]))
end
-- Remember the last used refresh tokens (digests), newest first, to
-- recognise their replay.
local used = {ARGV[1]}
for d in string.gmatch(c[12] or '', '%S+') do
  if #used < 16 then used[#used + 1] = d end
end
redis.call('HSET', KEYS[1], 'tid', ARGV[8], 'at', ARGV[4], 'at_exp', at_exp, 'at_scopes', scopes,
  'rt', ARGV[5], 'rt_exp', ARGV[7], 'issued_at', ARGV[3], 'last_used', ARGV[3],
  'prev_rt', ARGV[1], 'prev_until', ARGV[11], 'prev_scopes', scopes, 'used_rts', table.concat(used, ' '))
local window = tonumber(ARGV[11]) - tonumber(ARGV[3])
if window > 0 then
  redis.call('SET', KEYS[2], ARGV[10], 'PX', window)
else
  redis.call('DEL', KEYS[2])
end
redis.call('PEXPIREAT', KEYS[1], math.max(tonumber(ARGV[7]), tonumber(c[8] or '0')))
return {'ok', c[6], scopes, c[7], at_exp}
`)

// revokeScript ends a connection: its code, access and refresh tokens stop
// working in one step. The record stays (with its TTL) so the revocation
// itself is visible. With a token digest and a client id (RFC 7009), it
// revokes only when the token is the connection's current access or refresh
// token and the connection belongs to that client.
//
// ARGV: 1 now, 2 who revokes, 3 token digest ("" for any), 4 client id ("" for
// any). Returns nil when nothing matched, else {merchant id, client id,
// "revoked" | "already"}.
var revokeScript = redis.NewScript(`
local c = redis.call('HMGET', KEYS[1], 'id', 'status', 'merchant_id', 'client_id', 'at', 'rt')
if not c[1] then return false end
if ARGV[4] ~= '' and c[4] ~= ARGV[4] then return false end
if ARGV[3] ~= '' and c[5] ~= ARGV[3] and c[6] ~= ARGV[3] then return false end
if c[2] == 'revoked' then return {c[3], c[4], 'already'} end
redis.call('HSET', KEYS[1], 'status', 'revoked', 'revoked_at', ARGV[1], 'revoked_by', ARGV[2], 'code_used', '1')
redis.call('HDEL', KEYS[1], 'at', 'rt')
redis.call('DEL', KEYS[2])
return {c[3], c[4], 'revoked'}
`)

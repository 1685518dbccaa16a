-- approve: record a new connection, pending, with its one-use code (a
-- merchant approved an app on the consent page).
--
-- KEYS[1]  conn:{id}   the new connection (store/keys.go)
-- ARGV[1]  JSON ApproveArgs (store/approve.go):
--            id, merchant_id, client_id
--            scopes        granted, space-separated
--            now           ms
--            code          digest of the new code
--            code_exp      its expiry, ms (also the record's, until exchanged)
--            redirect_uri  the authorization request's
--            challenge     its S256 PKCE challenge, "" without PKCE
--
-- Returns JSON ApproveResult: {outcome="ok"}.
--
-- Why so: the record and its TTL are written in one step, so no record can
-- be left without an expiry. Every approval is a new connection under a
-- fresh id; one that exists already is the same call run again, which
-- must not set an exchanged connection back to pending. The index entries are written by the
-- same pipeline, before this script (keys.go, consistency rules): nothing
-- is undone when a call fails, since a code never handed out is harmless
-- and expires.
local a = cjson.decode(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return cjson.encode({outcome = 'ok'}) end
redis.call('HSET', KEYS[1],
  'id', a.id, 'merchant_id', a.merchant_id, 'client_id', a.client_id, 'scopes', a.scopes,
  'created_at', a.now, 'status', 'pending',
  'code', a.code, 'code_exp', a.code_exp, 'code_used', '0',
  'redirect_uri', a.redirect_uri, 'code_challenge', a.challenge)
redis.call('PEXPIREAT', KEYS[1], a.code_exp)
return cjson.encode({outcome = 'ok'})

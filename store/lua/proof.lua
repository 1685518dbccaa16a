-- proof: a DPoP-bound access token's lookup, and its proof's one use
-- (RFC 9449 §11.1), at a resource check.
--
-- KEYS[1]  conn:{sNN}:<id>, the token's connection
-- KEYS[2]  dpop-proof:{sNN}:<digest of the proof's key thumbprint and jti>
-- ARGV[1]  JSON ProofArgs (store/pushed.go):
--            digest   of the access token presented
--            jkt      the proof's key thumbprint
--            ttl      ms: how long the proof stays acceptable
--
-- Returns JSON ProofResult: {fields = the access lookup's fields, in the
-- order of store/connections.go accessLookup ("" for a missing one),
-- fresh = true when the proof was recorded now}.
--
-- Why so: the proof is recorded only for a token that is this
-- connection's current one and bound to the proof's key, so that nobody
-- fills Redis with records of proofs for tokens they do not hold; the
-- lookup and the record are still one round trip, as a bearer check's
-- lookup is. Go checks the token again (digest in constant time, status,
-- expiry): the script's comparison only decides whether to record.
local a = cjson.decode(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'at', 'at_exp', 'status', 'client_id', 'merchant_id', 'at_scopes', 'tid',
  'issued_at', 'gen', 'resources', 'at_jkt')
local fields = {}
for i = 1, 11 do fields[i] = v[i] or '' end
local fresh = false
if fields[1] == a.digest and fields[11] ~= '' and fields[11] == a.jkt and fields[3] == 'active' then
  fresh = redis.call('SET', KEYS[2], '1', 'NX', 'PX', a.ttl) ~= false
end
return cjson.encode({fields = fields, fresh = fresh})

--[[
  Renews a live claim: new ttl and grace from now, for the messages it still holds.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] claim id
    ARGV[3] ttl, seconds
    ARGV[4] grace, seconds

  Output:
    -1 no queue
    -2 no live claim
    1 renewed
]]

--- @include "includes/str"
--- @include "includes/keys"
--- @include "includes/claim-record"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return -1 end
local rec = redis.call('HGET', base .. ':claims', ARGV[2])
if not rec then return -2 end
local claim = parse_claim(rec)
if claim.expires <= now then return -2 end
local ttl = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
local ce = now + ttl * 1000
local ce_s = str(ce)
local kept = {}
for _, id in ipairs(claim.ids) do
  local k = mkey(base, id)
  local f = redis.call('HMGET', k, 'c', 'e')
  if f[1] == ARGV[2] and f[2] and tonumber(f[2]) > now then
    redis.call('HSET', k, 'ce', ce_s)
    redis.call('ZADD', base .. ':claimed', ce_s, id)
    if tonumber(f[2]) < ce then
      local e = str(ce + grace * 1000)
      redis.call('HSET', k, 'e', e, 't', str(ttl + grace))
      redis.call('ZADD', base .. ':exp', e, id)
    end
    kept[#kept + 1] = id
  end
end
redis.call('HSET', base .. ':claims', ARGV[2], claim_record(ARGV[3], ARGV[4], ARGV[1], ce_s, kept))
redis.call('ZADD', base .. ':claimexp', ce_s, ARGV[2])
return 1

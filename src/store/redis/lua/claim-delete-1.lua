--[[
  Releases a claim's messages at once.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] claim id

  Output:
    1 released
    0 no such claim
]]

--- @include "includes/keys"
--- @include "includes/claim-record"

local base = KEYS[1]
local now = tonumber(ARGV[1])
local rec = redis.call('HGET', base .. ':claims', ARGV[2])
if not rec then return 0 end
for _, id in ipairs(parse_claim(rec).ids) do
  local k = mkey(base, id)
  local f = redis.call('HMGET', k, 'c', 's', 'v')
  if f[1] == ARGV[2] then
    redis.call('HDEL', k, 'c', 'ce')
    redis.call('ZREM', base .. ':claimed', id)
    if tonumber(f[3]) > now then
      redis.call('ZADD', base .. ':delayed', f[3], id)
    else
      redis.call('ZADD', base .. ':ready', f[2], id)
    end
  end
end
redis.call('HDEL', base .. ':claims', ARGV[2])
redis.call('ZREM', base .. ':claimexp', ARGV[2])
return 1

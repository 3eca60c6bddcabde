--[[
  Changes a live subscription's subscriber, ttl or options.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] id
    ARGV[3] subscriber ('' keeps it)
    ARGV[4] ttl, seconds ('' keeps it)
    ARGV[5] has options (1/0)
    ARGV[6] options (JSON)

  Output:
    { -1 } no queue
    { -2 } no live subscription
    { -3, id of the subscription the new subscriber has }
    { 1 } updated
]]

--- @include "includes/str"
--- @include "includes/keys"
--- @include "includes/live-subscription"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local id = ARGV[2]
local k = skey(base, id)
local f = live_subscription(base, id, now)
if not f then return { -2 } end
local sub = ARGV[3]
if sub ~= '' and sub ~= f[2] then
  local other = redis.call('HGET', base .. ':subby', sub)
  if other and other ~= id and live_subscription(base, other, now) then return { -3, other } end
  if redis.call('HGET', base .. ':subby', f[2]) == id then redis.call('HDEL', base .. ':subby', f[2]) end
  redis.call('HSET', base .. ':subby', sub, id)
  redis.call('HSET', k, 'sub', sub)
end
if ARGV[4] ~= '' then
  redis.call('HSET', k, 't', ARGV[4], 'e', str(now + tonumber(ARGV[4]) * 1000))
end
if ARGV[5] == '1' then redis.call('HSET', k, 'o', ARGV[6]) end
return { 1 }

--[[
  A live subscription, by id or by subscriber.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] id or subscriber
    ARGV[3] 'id' or 'subscriber'

  Output:
    { -1 } no queue
    { -2 } no live subscription
    { 1, id, seq, subscriber, ttl, created, expires, options, confirmed }
]]

--- @include "includes/live-subscription"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local id = ARGV[2]
if ARGV[3] == 'subscriber' then
  id = redis.call('HGET', base .. ':subby', ARGV[2])
  if not id then return { -2 } end
end
local f = live_subscription(base, id, now)
if not f then return { -2 } end
local out = { 1, id }
for j = 1, 7 do out[#out + 1] = f[j] end
return out

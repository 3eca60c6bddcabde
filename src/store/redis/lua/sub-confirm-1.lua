--[[
  Marks a live subscription confirmed or not.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] id
    ARGV[3] confirmed (1/0)

  Output:
    -1 no queue
    -2 no live subscription
    1 done
]]

--- @include "includes/keys"
--- @include "includes/live-subscription"

local base = KEYS[1]
if redis.call('EXISTS', base) == 0 then return -1 end
if not live_subscription(base, ARGV[2], tonumber(ARGV[1])) then return -2 end
redis.call('HSET', skey(base, ARGV[2]), 'cf', ARGV[3])
return 1

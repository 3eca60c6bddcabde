--[[
  Reclaims a queue's expired messages (at most a batch), claims, idempotency keys and
  subscriptions, and promotes what became free.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] batch size

  Output:
    { messages, claims, subscriptions reclaimed, 1 when more expired messages wait (else 0) }
]]

--- @include "includes/remove-message"
--- @include "includes/promote"
--- @include "includes/live-subscription"
--- @include "includes/remove-subscription"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { 0, 0, 0, 0 } end
local batch = tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', base .. ':exp', '-inf', ARGV[1], 'LIMIT', 0, batch)
for _, id in ipairs(expired) do remove_message(base, id) end
local claims = redis.call('ZRANGEBYSCORE', base .. ':claimexp', '-inf', ARGV[1])
for _, id in ipairs(claims) do redis.call('HDEL', base .. ':claims', id) end
if #claims > 0 then redis.call('ZREMRANGEBYSCORE', base .. ':claimexp', '-inf', ARGV[1]) end
local keys = redis.call('ZRANGEBYSCORE', base .. ':keyexp', '-inf', ARGV[1])
for _, k in ipairs(keys) do redis.call('HDEL', base .. ':keys', k) end
if #keys > 0 then redis.call('ZREMRANGEBYSCORE', base .. ':keyexp', '-inf', ARGV[1]) end
promote(base, now)
local subs = 0
for _, id in ipairs(redis.call('ZRANGE', base .. ':subs', 0, -1)) do
  if not live_subscription(base, id, now) then
    remove_subscription(base, id)
    subs = subs + 1
  end
end
local more = 0
if #expired == batch then more = 1 end
return { #expired, #claims, subs, more }

--[[
  Lists a queue's live subscriptions in order, after a marker.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] marker seq ('' for none)
    ARGV[3] limit

  Output:
    { -1 } no queue
    { 1, subscriptions... } each as id, seq, subscriber, ttl, created, expires, options, confirmed
]]

--- @include "includes/live-subscription"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local limit = tonumber(ARGV[3])
local lo = '-inf'
if ARGV[2] ~= '' then lo = '(' .. ARGV[2] end
local out = { 1 }
local count = 0
while count < limit do
  local batch = redis.call('ZRANGEBYSCORE', base .. ':subs', lo, '+inf', 'WITHSCORES', 'LIMIT', 0, 100)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    lo = '(' .. batch[i + 1]
    local f = live_subscription(base, batch[i], now)
    if f then
      out[#out + 1] = batch[i]
      for j = 1, 7 do out[#out + 1] = f[j] end
      count = count + 1
      if count >= limit then break end
    end
  end
end
return out

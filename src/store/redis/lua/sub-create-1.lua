--[[
  Subscribes, unless the subscriber has a live subscription already.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] id
    ARGV[3] subscriber
    ARGV[4] ttl, seconds
    ARGV[5] options (JSON)

  Output:
    { -1 } no queue
    { 0, id of the existing subscription }
    { 1, id } created
]]

--- @include "includes/str"
--- @include "includes/keys"
--- @include "includes/live-subscription"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local existing = redis.call('HGET', base .. ':subby', ARGV[3])
if existing and live_subscription(base, existing, now) then return { 0, existing } end
local seq = redis.call('HINCRBY', base, 'sseq', 1)
redis.call('HSET', skey(base, ARGV[2]), 'q', str(seq), 'sub', ARGV[3], 't', ARGV[4], 'cr', ARGV[1],
  'e', str(now + tonumber(ARGV[4]) * 1000), 'o', ARGV[5], 'cf', '0')
redis.call('ZADD', base .. ':subs', str(seq), ARGV[2])
redis.call('HSET', base .. ':subby', ARGV[3], ARGV[2])
return { 1, ARGV[2] }

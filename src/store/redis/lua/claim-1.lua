--[[
  Claims up to limit free, visible messages of a queue. One claimed as often as the queue's
  dead-letter policy allows moves to the dead-letter queue instead.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] claim id
    ARGV[3] ttl, seconds
    ARGV[4] grace, seconds
    ARGV[5] limit
    ARGV[6] the project's base key
    ARGV[7] empty metadata (for a dead-letter queue made on the way)

  Output:
    { -1 } no queue
    { 0, messages dead-lettered, messages expired } nothing to claim
    { 1, messages dead-lettered, messages expired, claimed messages... } 12 items a message
]]

--- @include "includes/str"
--- @include "includes/keys"
--- @include "includes/push-msg"
--- @include "includes/zadd-many"
--- @include "includes/promote"
--- @include "includes/dead-letter-policy"
--- @include "includes/take"
--- @include "includes/claim-record"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
promote(base, now)
local ids, fields, dead, expired = take(base, ARGV[6], now, tonumber(ARGV[5]), dead_letter_policy(base), ARGV[7])
if #ids == 0 then return { 0, dead, expired } end
local ttl = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
local ce = now + ttl * 1000
local ce_s = str(ce)
local out = { 1, dead, expired }
local args = {}
for i, id in ipairs(ids) do
  local k = mkey(base, id)
  local f = fields[i]
  f[7] = ARGV[2]
  f[8] = ce_s
  f[9] = str(tonumber(f[9]) + 1)
  -- A message that would die before its claim ends lives to the claim's end plus grace.
  if tonumber(f[5]) < ce then
    f[5] = str(ce + grace * 1000)
    f[3] = str(ttl + grace)
    redis.call('HSET', k, 'c', f[7], 'ce', f[8], 'cc', f[9], 'e', f[5], 't', f[3])
    redis.call('ZADD', base .. ':exp', f[5], id)
  else
    redis.call('HSET', k, 'c', f[7], 'ce', f[8], 'cc', f[9])
  end
  args[#args + 1] = ce_s
  args[#args + 1] = id
  push_msg(out, id, f)
end
zadd_many(base .. ':claimed', args)
redis.call('HSET', base .. ':claims', ARGV[2], claim_record(ARGV[3], ARGV[4], ARGV[1], ce_s, ids))
redis.call('ZADD', base .. ':claimexp', ce_s, ARGV[2])
return out

--[[
  Takes messages off a queue for good; each comes back with its claim count one higher (a pop
  counts as a claim, as in Zaqar). One claimed as often as the queue's dead-letter policy allows
  moves to the dead-letter queue instead.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] limit
    ARGV[3] the project's base key
    ARGV[4] empty metadata (for a dead-letter queue made on the way)

  Output:
    { 1, messages dead-lettered, messages expired, popped messages... } 12 items a message
]]

--- @include "includes/str"
--- @include "includes/keys"
--- @include "includes/push-msg"
--- @include "includes/promote"
--- @include "includes/dead-letter-policy"
--- @include "includes/take"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { 1, 0, 0 } end
promote(base, now)
local ids, fields, dead, expired = take(base, ARGV[3], now, tonumber(ARGV[2]), dead_letter_policy(base), ARGV[4])
local out = { 1, dead, expired }
for i, id in ipairs(ids) do
  local f = fields[i]
  f[9] = str(tonumber(f[9]) + 1)
  push_msg(out, id, f)
  -- A taken message is in no set but ids and exp any more.
  redis.call('ZREM', base .. ':ids', id)
  redis.call('ZREM', base .. ':exp', id)
  redis.call('DEL', mkey(base, id), bkey(base, id))
end
return out

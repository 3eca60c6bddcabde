--[[
  Lists a queue's messages in order, after a marker.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] marker seq ('' for none)
    ARGV[3] limit
    ARGV[4] hide the client's own messages (1/0)
    ARGV[5] client id
    ARGV[6] include claimed (1/0)
    ARGV[7] include delayed (1/0)

  Output:
    { -1 } no queue
    { 1, last seq (false when none), messages... } 12 items a message
]]

--- @include "includes/is-claimed"
--- @include "includes/read-msg"
--- @include "includes/push-msg"
--- @include "includes/promote"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local limit = tonumber(ARGV[3])
local hide = ARGV[4] == '1'
local with_claimed = ARGV[6] == '1'
local with_delayed = ARGV[7] == '1'
local src = base .. ':ids'
if not with_claimed and not with_delayed then
  -- Only free, visible messages: read ready, so claimed messages at the head cost nothing.
  promote(base, now)
  src = base .. ':ready'
end
local lo = '-inf'
if ARGV[2] ~= '' then lo = '(' .. ARGV[2] end
local out = { 1, false }
local count = 0
while count < limit do
  local batch = redis.call('ZRANGEBYSCORE', src, lo, '+inf', 'WITHSCORES', 'LIMIT', 0, 100)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local id = batch[i]
    lo = '(' .. batch[i + 1]
    local f = read_msg(base, id)
    if f and tonumber(f[5]) > now
      and (with_claimed or not is_claimed(f[7], f[8], now))
      and (with_delayed or tonumber(f[6]) <= now)
      and not (hide and f[10] == ARGV[5]) then
      push_msg(out, id, f)
      out[2] = f[1]
      count = count + 1
      if count >= limit then break end
    end
  end
end
return out

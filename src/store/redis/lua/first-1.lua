--[[
  The oldest or the newest live message of a queue.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] 'newest' or 'oldest'

  Output:
    { -1 } no queue
    { 1 } no message
    { 1, message } 12 items
]]

--- @include "includes/read-msg"
--- @include "includes/push-msg"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local offset = 0
while true do
  local ids
  if ARGV[2] == 'newest' then
    ids = redis.call('ZREVRANGE', base .. ':ids', offset, offset + 99)
  else
    ids = redis.call('ZRANGE', base .. ':ids', offset, offset + 99)
  end
  if #ids == 0 then return { 1 } end
  for _, id in ipairs(ids) do
    local f = read_msg(base, id)
    if f and tonumber(f[5]) > now then
      local out = { 1 }
      push_msg(out, id, f)
      return out
    end
  end
  offset = offset + 100
end

--[[
  Messages by id.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2...] ids

  Output:
    { 1, messages... } the live ones, in the order asked, 12 items each
]]

--- @include "includes/read-msg"
--- @include "includes/push-msg"

local base = KEYS[1]
local now = tonumber(ARGV[1])
local out = { 1 }
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', base .. ':ids', id) then
    local f = read_msg(base, id)
    if f and tonumber(f[5]) > now then push_msg(out, id, f) end
  end
end
return out

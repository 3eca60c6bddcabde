--[[
  Deletes one message, checking its claim.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] id
    ARGV[3] claim id ('' for none)

  Output:
    0 deleted
    1 claimed (and no claim id given)
    2 not claimed
    3 claimed by another claim
    4 nothing to delete
]]

--- @include "includes/keys"
--- @include "includes/is-claimed"
--- @include "includes/remove-message"

local base = KEYS[1]
local now = tonumber(ARGV[1])
local id = ARGV[2]
if not redis.call('ZSCORE', base .. ':ids', id) then return 4 end
local f = redis.call('HMGET', mkey(base, id), 'e', 'c', 'ce')
if not f[1] or tonumber(f[1]) <= now then return 4 end
local claimed = is_claimed(f[2], f[3], now)
if ARGV[3] == '' then
  if claimed then return 1 end
elseif not claimed then
  return 2
elseif f[2] ~= ARGV[3] then
  return 3
end
remove_message(base, id, claimed)
return 0

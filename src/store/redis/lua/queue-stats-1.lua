--[[
  Counts a queue's live messages and finds its oldest and newest.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)

  Output:
    { -1 } no queue
    { 1, total, claimed, delayed, oldest id, its created, newest id, its created }
      (ids and times false when the queue is empty)
]]

--- @include "includes/keys"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local after = '(' .. ARGV[1]
local total = redis.call('ZCOUNT', base .. ':exp', after, '+inf')
local claimed = redis.call('ZCOUNT', base .. ':claimed', after, '+inf')
local delayed = redis.call('ZCOUNT', base .. ':delayed', after, '+inf')
-- A delayed message can expire before it is visible: do not count it. Only expired messages gc
-- has not reclaimed yet are looked at.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. ':exp', '-inf', ARGV[1])) do
  local v = redis.call('ZSCORE', base .. ':delayed', id)
  if v and tonumber(v) > now then delayed = delayed - 1 end
end
local out = { 1, total, claimed, delayed }
for _, rev in ipairs({ false, true }) do
  local found = false
  local offset = 0
  while not found do
    local ids
    if rev then
      ids = redis.call('ZREVRANGE', base .. ':ids', offset, offset + 99)
    else
      ids = redis.call('ZRANGE', base .. ':ids', offset, offset + 99)
    end
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local f = redis.call('HMGET', mkey(base, id), 'e', 'cr')
      if f[1] and tonumber(f[1]) > now then
        out[#out + 1] = id
        out[#out + 1] = f[2]
        found = true
        break
      end
    end
    offset = offset + 100
  end
  if not found then
    out[#out + 1] = false
    out[#out + 1] = false
  end
end
return out

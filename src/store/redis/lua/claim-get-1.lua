--[[
  A live claim and the messages it still holds.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] claim id

  Output:
    { -1 } no queue
    { -2 } no live claim
    { 1, ttl, grace, updated, expires, messages... } 12 items a message
]]

--- @include "includes/str"
--- @include "includes/read-msg"
--- @include "includes/push-msg"
--- @include "includes/claim-record"

local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local rec = redis.call('HGET', base .. ':claims', ARGV[2])
if not rec then return { -2 } end
local claim = parse_claim(rec)
if claim.expires <= now then return { -2 } end
local out = { 1, claim.ttl, claim.grace, claim.updated, str(claim.expires) }
for _, id in ipairs(claim.ids) do
  local f = read_msg(base, id)
  if f and f[7] == ARGV[2] and tonumber(f[5]) > now then push_msg(out, id, f) end
end
return out

--[[
  A message's 11 stored fields (seq, body, ttl, created, expires, visible, claim id, claim end,
  claim count, client, checksum), or nil when it is gone.
]]

--- @include "keys"

local function read_msg(base, id)
  local f = redis.call('HMGET', mkey(base, id), 's', 'b', 't', 'cr', 'e', 'v', 'c', 'ce', 'cc', 'u', 'cs')
  if not f[1] then return nil end
  -- Messages written before bodies moved out keep theirs in the hash.
  if not f[2] then f[2] = redis.call('GET', bkey(base, id)) end
  return f
end

--[[
  A subscription's 7 fields (seq, subscriber, ttl, created, expires, options, confirmed), or nil
  when it is gone or expired.
]]

--- @include "keys"

local function live_subscription(base, id, now)
  local f = redis.call('HMGET', skey(base, id), 'q', 'sub', 't', 'cr', 'e', 'o', 'cf')
  if not f[1] or tonumber(f[5]) <= now then return nil end
  return f
end

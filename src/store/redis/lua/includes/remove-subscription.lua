--[[
  Removes a subscription, and its subscriber's entry when that still names it.
]]

--- @include "keys"

local function remove_subscription(base, id)
  local sub = redis.call('HGET', skey(base, id), 'sub')
  if sub and redis.call('HGET', base .. ':subby', sub) == id then redis.call('HDEL', base .. ':subby', sub) end
  redis.call('DEL', skey(base, id))
  redis.call('ZREM', base .. ':subs', id)
end

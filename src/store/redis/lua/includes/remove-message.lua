--[[
  Removes a message from every set it may be in, with its fields and body.
]]

--- @include "keys"

-- A message under a live claim is in none of ready and delayed (what another clock moved there
-- is dropped by the next take), so held = true spares two commands on the common path: deleting
-- what a consumer claimed.
local function remove_message(base, id, held)
  redis.call('ZREM', base .. ':ids', id)
  if not held then
    redis.call('ZREM', base .. ':ready', id)
    redis.call('ZREM', base .. ':delayed', id)
  end
  redis.call('ZREM', base .. ':claimed', id)
  redis.call('ZREM', base .. ':exp', id)
  redis.call('DEL', mkey(base, id), bkey(base, id))
end

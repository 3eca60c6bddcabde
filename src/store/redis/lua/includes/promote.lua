--[[
  Ids whose delay passed or whose claim ended go back into ready, in sequence order.
]]

--- @include "str"

local function promote(base, now)
  local ids = base .. ':ids'
  local ready = base .. ':ready'
  for _, set in ipairs({ base .. ':delayed', base .. ':claimed' }) do
    local due = redis.call('ZRANGEBYSCORE', set, '-inf', str(now))
    if #due > 0 then
      for _, id in ipairs(due) do
        local s = redis.call('ZSCORE', ids, id)
        if s then redis.call('ZADD', ready, s, id) end
      end
      redis.call('ZREMRANGEBYSCORE', set, '-inf', str(now))
    end
  end
end

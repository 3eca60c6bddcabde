--[[
  Takes up to limit of the oldest free, visible, live messages out of ready and returns their ids,
  their fields (as read-msg gives them), how many it dead-lettered and how many past their ttl it
  removed on the way (the driver tells its observer of both). Every id looked at leaves ready: taken, reclaimed (expired), dead-lettered, or
  filed back under claimed/delayed when another writer's clock says it is not free yet.
]]

--- @include "read-msg"
--- @include "remove-message"
--- @include "is-claimed"
--- @include "dead-letter"

local function take(base, pbase, now, limit, policy, empty_meta)
  local ready = base .. ':ready'
  local ids = {}
  local fields = {}
  local dead = 0
  local expired = 0
  while #ids < limit do
    local batch = redis.call('ZRANGE', ready, 0, limit - #ids - 1)
    if #batch == 0 then break end
    redis.call('ZREMRANGEBYRANK', ready, 0, #batch - 1)
    for _, id in ipairs(batch) do
      local f = read_msg(base, id)
      if not f or tonumber(f[5]) <= now then
        if f then expired = expired + 1 end
        remove_message(base, id)
      elseif is_claimed(f[7], f[8], now) then
        redis.call('ZADD', base .. ':claimed', f[8], id)
      elseif tonumber(f[6]) > now then
        redis.call('ZADD', base .. ':delayed', f[6], id)
      elseif policy and tonumber(f[9]) >= policy.max then
        dead_letter(base, pbase, id, now, policy, empty_meta)
        dead = dead + 1
      else
        ids[#ids + 1] = id
        fields[#ids] = f
      end
    end
  end
  return ids, fields, dead, expired
end

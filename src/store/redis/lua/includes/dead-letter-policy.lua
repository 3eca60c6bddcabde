--[[
  A queue's dead-letter policy (name and key of the dead-letter queue, most claims, ttl or nil),
  or nil when it has none.
]]

local function dead_letter_policy(base)
  local p = redis.call('HMGET', base, 'dlq', 'dlqk', 'dlmax', 'dlttl')
  if not p[1] then return nil end
  return { name = p[1], key = p[2], max = tonumber(p[3]), ttl = p[4] and tonumber(p[4]) or nil }
end

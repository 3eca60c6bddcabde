--[[
  A claim as <q>:claims holds it: "ttl grace updated expires id,id,...".
]]

local function parse_claim(rec)
  local ttl, grace, updated, expires, list = string.match(rec, '^(%d+) (%d+) (%d+) (%d+) (.*)$')
  local ids = {}
  for id in string.gmatch(list, '[^,]+') do ids[#ids + 1] = id end
  return { ttl = ttl, grace = grace, updated = updated, expires = tonumber(expires), ids = ids }
end

local function claim_record(ttl, grace, updated, expires, ids)
  return ttl .. ' ' .. grace .. ' ' .. updated .. ' ' .. expires .. ' ' .. table.concat(ids, ',')
end

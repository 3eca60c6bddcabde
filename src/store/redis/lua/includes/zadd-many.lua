--[[
  ZADD of score, member pairs in batches (unpack has a bounded stack).
]]

local function zadd_many(key, pairs_list)
  for from = 1, #pairs_list, 1000 do
    redis.call('ZADD', key, unpack(pairs_list, from, math.min(from + 999, #pairs_list)))
  end
end

--[[
  Makes a queue with empty metadata when it is missing, and lists it in the project's index.
  Answers 1 when it made it, 0 when it was there.
]]

local function ensure_queue(base, index, name, empty_meta)
  if redis.call('EXISTS', base) == 1 then return 0 end
  redis.call('HSET', base, 'meta', empty_meta, 'seq', '0', 'sseq', '0')
  redis.call('ZADD', index, '0', name)
  return 1
end

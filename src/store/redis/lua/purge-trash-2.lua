--[[
  Deletes one batch of the messages of a deleted queue (see queue-delete).

  Input:
    KEYS[1] the trash key
    KEYS[2] the trash index
    ARGV[1] batch size

  Output:
    how many ids are left (0: the trash is gone)
]]

--- @include "includes/keys"

local base = redis.call('HGET', KEYS[2], KEYS[1])
if not base then redis.call('UNLINK', KEYS[1]) return 0 end
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do redis.call('DEL', mkey(base, id), bkey(base, id)) end
if #ids > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #ids - 1) end
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then redis.call('HDEL', KEYS[2], KEYS[1]) end
return left

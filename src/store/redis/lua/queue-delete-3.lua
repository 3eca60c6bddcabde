--[[
  Deletes a queue. Small structures go at once; the message ids move to a trash set that
  purge-trash empties in batches, so deleting a queue of millions never blocks Redis for long.
  The stale message hashes cannot be seen meanwhile: reads check the queue's id set, which is gone.

  Input:
    KEYS[1] the queue's base key
    KEYS[2] the project's queue index
    KEYS[3] the trash index
    ARGV[1] name
    ARGV[2] the trash key its ids move to

  Output:
    2 deleted, messages left in the trash
    1 deleted
    0 no queue
]]

--- @include "includes/keys"

local base = KEYS[1]
if redis.call('EXISTS', base) == 0 then return 0 end
redis.call('DEL', base)
redis.call('ZREM', KEYS[2], ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', base .. ':subs', 0, -1)) do redis.call('DEL', skey(base, id)) end
redis.call('UNLINK', base .. ':ready', base .. ':delayed', base .. ':claimed', base .. ':exp', base .. ':claims',
  base .. ':claimexp', base .. ':subs', base .. ':subby', base .. ':keys', base .. ':keyexp')
if redis.call('EXISTS', base .. ':ids') == 1 then
  redis.call('RENAME', base .. ':ids', ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[2], base)
  return 2
end
return 1

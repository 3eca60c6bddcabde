--[[
  Creates a queue unless it exists, and lists it in the project's queue index.

  Input:
    KEYS[1] the queue's base key
    KEYS[2] the project's queue index
    ARGV[1] name
    ARGV[2] metadata (JSON)
    ARGV[3] dead-letter queue ('' when unset)
    ARGV[4] its key
    ARGV[5] most claims before a message is dead-lettered
    ARGV[6] dead-letter ttl, seconds ('' when unset)
    ARGV[7] idempotency window, seconds

  Output:
    1 created
    0 it existed
]]

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'seq', '0', 'sseq', '0', 'idw', ARGV[7])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'dlq', ARGV[3], 'dlqk', ARGV[4], 'dlmax', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'dlttl', ARGV[6]) end
redis.call('ZADD', KEYS[2], '0', ARGV[1])
return 1

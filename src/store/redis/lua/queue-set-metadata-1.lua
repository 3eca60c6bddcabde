--[[
  Replaces a queue's metadata and the settings derived from it.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] metadata (JSON)
    ARGV[2] dead-letter queue ('' when unset)
    ARGV[3] its key
    ARGV[4] most claims before a message is dead-lettered
    ARGV[5] dead-letter ttl, seconds ('' when unset)
    ARGV[6] idempotency window, seconds

  Output:
    1 done
    -1 no queue
]]

if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HDEL', KEYS[1], 'dlq', 'dlqk', 'dlmax', 'dlttl')
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'idw', ARGV[6])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'dlq', ARGV[2], 'dlqk', ARGV[3], 'dlmax', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'dlttl', ARGV[5]) end
return 1

--[[
  Moves a message to the end of the project's dead-letter queue (same slot: same project),
  creating that queue when missing; the message starts there unclaimed, with a claim count of 0.
]]

--- @include "str"
--- @include "keys"
--- @include "ensure-queue"

local function dead_letter(base, pbase, id, now, policy, empty_meta)
  local dbase = pbase .. 'q:' .. policy.key
  ensure_queue(dbase, pbase .. 'queues', policy.name, empty_meta)
  local seq = redis.call('HINCRBY', dbase, 'seq', 1)
  local src = mkey(base, id)
  local e = tonumber(redis.call('HGET', src, 'e'))
  for _, suffix in ipairs({ 'ids', 'ready', 'delayed', 'claimed', 'exp' }) do
    redis.call('ZREM', base .. ':' .. suffix, id)
  end
  local dst = mkey(dbase, id)
  redis.call('RENAME', src, dst)
  if redis.call('EXISTS', bkey(base, id)) == 1 then redis.call('RENAME', bkey(base, id), bkey(dbase, id)) end
  redis.call('HSET', dst, 's', str(seq), 'cc', '0')
  redis.call('HDEL', dst, 'c', 'ce')
  if policy.ttl then
    e = now + policy.ttl * 1000
    redis.call('HSET', dst, 't', str(policy.ttl), 'e', str(e))
  end
  redis.call('ZADD', dbase .. ':ids', str(seq), id)
  redis.call('ZADD', dbase .. ':exp', str(e), id)
  redis.call('ZADD', dbase .. ':ready', str(seq), id)
end

--[[
  Posts messages, making the queue when missing. With an idempotency key, the key lives in
  <q>:keys as "until fingerprint id,id,..." and in <q>:keyexp by until, written by this same
  script: never a post without its key.

  Input:
    KEYS[1] the queue's base key
    KEYS[2] the project's queue index
    ARGV[1] now (ms)
    ARGV[2] name
    ARGV[3] empty metadata
    ARGV[4] client id
    ARGV[5] count of messages
    ARGV[6] idempotency key ('' for none)
    ARGV[7] its fingerprint
    ARGV[8] the default idempotency window, seconds
    ARGV[9...] per message: id, body, ttl, delay, checksum ('' for none)

  Output:
    1 posted
    { 2, "id,id,..." } the key's first post answered, nothing stored
    { -2 } the key was used for other messages, nothing stored
]]

--- @include "includes/str"
--- @include "includes/keys"
--- @include "includes/zadd-many"
--- @include "includes/ensure-queue"

local base = KEYS[1]
local now = tonumber(ARGV[1])
local key = ARGV[6]
if key ~= '' then
  local known = redis.call('HGET', base .. ':keys', key)
  if known then
    local a = string.find(known, ' ', 1, true)
    local b = string.find(known, ' ', a + 1, true)
    if tonumber(string.sub(known, 1, a - 1)) > now then
      if string.sub(known, a + 1, b - 1) ~= ARGV[7] then return { -2 } end
      return { 2, string.sub(known, b + 1) }
    end
  end
end
ensure_queue(base, KEYS[2], ARGV[2], ARGV[3])
local n = tonumber(ARGV[5])
local seq = redis.call('HINCRBY', base, 'seq', n) - n
local sets = { ids = {}, exp = {}, delayed = {}, ready = {} }
local function add(set, score, id)
  local t = sets[set]
  t[#t + 1] = score
  t[#t + 1] = id
end
local posted = {}
for i = 0, n - 1 do
  local a = 9 + i * 5
  local id = ARGV[a]
  posted[#posted + 1] = id
  seq = seq + 1
  local s = str(seq)
  local ttl = tonumber(ARGV[a + 2])
  local delay = tonumber(ARGV[a + 3])
  local e = str(now + ttl * 1000)
  local v = str(now + delay * 1000)
  local k = mkey(base, id)
  if ARGV[a + 4] ~= '' then
    redis.call('HSET', k, 's', s, 't', ARGV[a + 2], 'cr', ARGV[1], 'e', e, 'v', v, 'cc', '0', 'u', ARGV[4],
      'cs', ARGV[a + 4])
  else
    redis.call('HSET', k, 's', s, 't', ARGV[a + 2], 'cr', ARGV[1], 'e', e, 'v', v, 'cc', '0', 'u', ARGV[4])
  end
  redis.call('SET', bkey(base, id), ARGV[a + 1])
  add('ids', s, id)
  add('exp', e, id)
  if delay > 0 then add('delayed', v, id) else add('ready', s, id) end
end
for name, t in pairs(sets) do zadd_many(base .. ':' .. name, t) end
if key ~= '' then
  local window = tonumber(redis.call('HGET', base, 'idw') or ARGV[8])
  local until_ms = now + window * 1000
  redis.call('HSET', base .. ':keys', key, str(until_ms) .. ' ' .. ARGV[7] .. ' ' .. table.concat(posted, ','))
  redis.call('ZADD', base .. ':keyexp', str(until_ms), key)
end
return 1

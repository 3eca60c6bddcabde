/**
 * The Lua scripts of the Redis driver. Each runs atomically in Redis, so two claims can never
 * take the same message and a post, a pop or a dead-letter move is all or nothing. Time is never
 * Redis's own: `now` (milliseconds) comes from the driver's Clock as an argument, so a fake clock
 * drives expiry in tests exactly as the real one does in production.
 *
 * KEYS[1] is always the queue's base key (see key-layout.ts); the other keys a script touches
 * are derived from it or from the project base given as an argument, and all carry the same hash
 * tag, so on a Redis Cluster every key a script touches lies in the slot it was routed to.
 *
 * Claims do not rescan: free, visible messages wait in `<q>:ready` (by sequence), claimed ones in
 * `<q>:claimed` (by claim end), delayed ones in `<q>:delayed` (by visible time). Before a claim,
 * `promote` moves the ids whose claim ended or whose delay passed back into ready; a claim then
 * takes the first ids of ready. Every id a claim looks at leaves ready (taken, reclaimed because
 * expired, dead-lettered, or filed back where it belongs), so each message is examined a bounded
 * number of times however many claimed messages sit at the head of the queue.
 *
 * Replies: scripts answer with an array whose first element is a status (1 or 0 ok, negative: a
 * typed failure the driver turns into an error), followed by data. A message travels as 12 items:
 * id, seq, body, ttl, created, expires, visible, claim id, claim end, claim count, client, checksum.
 */

const PRELUDE = `
local function str(n) return string.format('%.0f', n) end
local function mkey(base, id) return base .. ':m:' .. id end
-- A message's body lives in a string of its own, so the hash of its other fields holds only
-- short values and stays a compact listpack (a body over 64 bytes would turn it into a full
-- hash table: slower to write, read and free, and several times the memory).
local function bkey(base, id) return base .. ':b:' .. id end
local function skey(base, id) return base .. ':s:' .. id end
local function is_claimed(c, ce, now) return c and c ~= '' and ce and tonumber(ce) > now end

local function read_msg(base, id)
  local f = redis.call('HMGET', mkey(base, id), 's', 'b', 't', 'cr', 'e', 'v', 'c', 'ce', 'cc', 'u', 'cs')
  if not f[1] then return nil end
  -- Messages written before bodies moved out keep theirs in the hash.
  if not f[2] then f[2] = redis.call('GET', bkey(base, id)) end
  return f
end

local function push_msg(out, id, f)
  out[#out + 1] = id
  for i = 1, 11 do out[#out + 1] = f[i] end
end

-- ZADD of score, member pairs in batches (unpack has a bounded stack).
local function zadd_many(key, pairs_list)
  for from = 1, #pairs_list, 1000 do
    redis.call('ZADD', key, unpack(pairs_list, from, math.min(from + 999, #pairs_list)))
  end
end

-- Removes a message from every set it may be in. A message under a live claim is in none of
-- ready and delayed (what another clock moved there is dropped by the next take), so
-- held = true spares two commands on the common path: deleting what a consumer claimed.
local function remove_message(base, id, held)
  redis.call('ZREM', base .. ':ids', id)
  if not held then
    redis.call('ZREM', base .. ':ready', id)
    redis.call('ZREM', base .. ':delayed', id)
  end
  redis.call('ZREM', base .. ':claimed', id)
  redis.call('ZREM', base .. ':exp', id)
  redis.call('DEL', mkey(base, id), bkey(base, id))
end

-- Ids whose delay passed or whose claim ended go back into ready, in sequence order.
local function promote(base, now)
  local ids = base .. ':ids'
  local ready = base .. ':ready'
  for _, set in ipairs({ base .. ':delayed', base .. ':claimed' }) do
    local due = redis.call('ZRANGEBYSCORE', set, '-inf', str(now))
    if #due > 0 then
      for _, id in ipairs(due) do
        local s = redis.call('ZSCORE', ids, id)
        if s then redis.call('ZADD', ready, s, id) end
      end
      redis.call('ZREMRANGEBYSCORE', set, '-inf', str(now))
    end
  end
end

local function ensure_queue(base, index, name, empty_meta)
  if redis.call('EXISTS', base) == 1 then return 0 end
  redis.call('HSET', base, 'meta', empty_meta, 'seq', '0', 'sseq', '0')
  redis.call('ZADD', index, '0', name)
  return 1
end

local function dead_letter_policy(base)
  local p = redis.call('HMGET', base, 'dlq', 'dlqk', 'dlmax', 'dlttl')
  if not p[1] then return nil end
  return { name = p[1], key = p[2], max = tonumber(p[3]), ttl = p[4] and tonumber(p[4]) or nil }
end

-- Moves a message to the end of the project's dead-letter queue (same slot: same project),
-- creating that queue when missing; the message starts there unclaimed, with a claim count of 0.
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

-- Takes up to limit of the oldest free, visible, live messages out of ready and returns their ids,
-- their fields (as read_msg gives them) and how many it dead-lettered on the way (the driver tells
-- its observer). Every id looked at leaves ready: taken, reclaimed (expired), dead-lettered, or
-- filed back under claimed/delayed when another writer's clock says it is not free yet.
local function take(base, pbase, now, limit, policy, empty_meta)
  local ready = base .. ':ready'
  local ids = {}
  local fields = {}
  local dead = 0
  while #ids < limit do
    local batch = redis.call('ZRANGE', ready, 0, limit - #ids - 1)
    if #batch == 0 then break end
    redis.call('ZREMRANGEBYRANK', ready, 0, #batch - 1)
    for _, id in ipairs(batch) do
      local f = read_msg(base, id)
      if not f or tonumber(f[5]) <= now then
        remove_message(base, id)
      elseif is_claimed(f[7], f[8], now) then
        redis.call('ZADD', base .. ':claimed', f[8], id)
      elseif tonumber(f[6]) > now then
        redis.call('ZADD', base .. ':delayed', f[6], id)
      elseif policy and tonumber(f[9]) >= policy.max then
        dead_letter(base, pbase, id, now, policy, empty_meta)
        dead = dead + 1
      else
        ids[#ids + 1] = id
        fields[#ids] = f
      end
    end
  end
  return ids, fields, dead
end

local function parse_claim(rec)
  local ttl, grace, updated, expires, list = string.match(rec, '^(%d+) (%d+) (%d+) (%d+) (.*)$')
  local ids = {}
  for id in string.gmatch(list, '[^,]+') do ids[#ids + 1] = id end
  return { ttl = ttl, grace = grace, updated = updated, expires = tonumber(expires), ids = ids }
end

local function claim_record(ttl, grace, updated, expires, ids)
  return ttl .. ' ' .. grace .. ' ' .. updated .. ' ' .. expires .. ' ' .. table.concat(ids, ',')
end

local function live_subscription(base, id, now)
  local f = redis.call('HMGET', skey(base, id), 'q', 'sub', 't', 'cr', 'e', 'o', 'cf')
  if not f[1] or tonumber(f[5]) <= now then return nil end
  return f
end

local function remove_subscription(base, id)
  local sub = redis.call('HGET', skey(base, id), 'sub')
  if sub and redis.call('HGET', base .. ':subby', sub) == id then redis.call('HDEL', base .. ':subby', sub) end
  redis.call('DEL', skey(base, id))
  redis.call('ZREM', base .. ':subs', id)
end
`;

/** Name, number of keys and body of every script. */
const BODIES = {
  // KEYS: base, queue index. ARGV: name, meta, dlq, dlqk, dlmax, dlttl ('' when unset),
  // idempotency window (seconds).
  phQueueCreate: [
    2,
    `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'seq', '0', 'sseq', '0', 'idw', ARGV[7])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'dlq', ARGV[3], 'dlqk', ARGV[4], 'dlmax', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'dlttl', ARGV[6]) end
redis.call('ZADD', KEYS[2], '0', ARGV[1])
return 1`,
  ],
  // KEYS: base. ARGV: meta, dlq, dlqk, dlmax, dlttl, idempotency window (seconds).
  phQueueSetMetadata: [
    1,
    `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HDEL', KEYS[1], 'dlq', 'dlqk', 'dlmax', 'dlttl')
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'idw', ARGV[6])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'dlq', ARGV[2], 'dlqk', ARGV[3], 'dlmax', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'dlttl', ARGV[5]) end
return 1`,
  ],
  // KEYS: base, queue index, trash index. ARGV: name, trash key.
  // Small structures go at once; the message ids move to a trash set that phPurgeTrash empties in
  // batches, so deleting a queue of millions never blocks Redis for long. The stale message
  // hashes cannot be seen meanwhile: reads check the queue's id set, which is gone.
  phQueueDelete: [
    3,
    `
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
return 1`,
  ],
  // KEYS: trash key, trash index. ARGV: batch. Returns how many ids are left.
  phPurgeTrash: [
    2,
    `
local base = redis.call('HGET', KEYS[2], KEYS[1])
if not base then redis.call('UNLINK', KEYS[1]) return 0 end
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do redis.call('DEL', mkey(base, id), bkey(base, id)) end
if #ids > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #ids - 1) end
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then redis.call('HDEL', KEYS[2], KEYS[1]) end
return left`,
  ],
  // KEYS: base. ARGV: now. Reply: status, total, claimed, delayed, oldest id, its created, newest id, its created.
  phQueueStats: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local after = '(' .. ARGV[1]
local total = redis.call('ZCOUNT', base .. ':exp', after, '+inf')
local claimed = redis.call('ZCOUNT', base .. ':claimed', after, '+inf')
local delayed = redis.call('ZCOUNT', base .. ':delayed', after, '+inf')
-- A delayed message can expire before it is visible: do not count it. Only expired messages gc
-- has not reclaimed yet are looked at.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. ':exp', '-inf', ARGV[1])) do
  local v = redis.call('ZSCORE', base .. ':delayed', id)
  if v and tonumber(v) > now then delayed = delayed - 1 end
end
local out = { 1, total, claimed, delayed }
for _, rev in ipairs({ false, true }) do
  local found = false
  local offset = 0
  while not found do
    local ids
    if rev then
      ids = redis.call('ZREVRANGE', base .. ':ids', offset, offset + 99)
    else
      ids = redis.call('ZRANGE', base .. ':ids', offset, offset + 99)
    end
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local f = redis.call('HMGET', mkey(base, id), 'e', 'cr')
      if f[1] and tonumber(f[1]) > now then
        out[#out + 1] = id
        out[#out + 1] = f[2]
        found = true
        break
      end
    end
    offset = offset + 100
  end
  if not found then
    out[#out + 1] = false
    out[#out + 1] = false
  end
end
return out`,
  ],
  // KEYS: base, queue index. ARGV: now, name, empty meta, client id, count, idempotency key
  // ('' for none), its fingerprint, the default window (seconds), then per message id, body,
  // ttl, delay, checksum ('' for none). The queue is made when missing. Reply: 1 (posted), or
  // { 2, "id,id,..." } (the key's first post, nothing stored), or { -2 } (key reused for other
  // messages, nothing stored). The key lives in <q>:keys as "until fingerprint id,id,..." and in
  // <q>:keyexp by until, written by this same script: never a post without its key.
  phPost: [
    2,
    `
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
return 1`,
  ],
  // KEYS: base. ARGV: now, marker seq ('' for none), limit, hide client (1/0), client id,
  // include claimed (1/0), include delayed (1/0). Reply: status, last seq, messages.
  phList: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local limit = tonumber(ARGV[3])
local hide = ARGV[4] == '1'
local with_claimed = ARGV[6] == '1'
local with_delayed = ARGV[7] == '1'
local src = base .. ':ids'
if not with_claimed and not with_delayed then
  -- Only free, visible messages: read ready, so claimed messages at the head cost nothing.
  promote(base, now)
  src = base .. ':ready'
end
local lo = '-inf'
if ARGV[2] ~= '' then lo = '(' .. ARGV[2] end
local out = { 1, false }
local count = 0
while count < limit do
  local batch = redis.call('ZRANGEBYSCORE', src, lo, '+inf', 'WITHSCORES', 'LIMIT', 0, 100)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local id = batch[i]
    lo = '(' .. batch[i + 1]
    local f = read_msg(base, id)
    if f and tonumber(f[5]) > now
      and (with_claimed or not is_claimed(f[7], f[8], now))
      and (with_delayed or tonumber(f[6]) <= now)
      and not (hide and f[10] == ARGV[5]) then
      push_msg(out, id, f)
      out[2] = f[1]
      count = count + 1
      if count >= limit then break end
    end
  end
end
return out`,
  ],
  // KEYS: base. ARGV: now, 'newest' or 'oldest'. Reply: status, message or nothing.
  phFirst: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local offset = 0
while true do
  local ids
  if ARGV[2] == 'newest' then
    ids = redis.call('ZREVRANGE', base .. ':ids', offset, offset + 99)
  else
    ids = redis.call('ZRANGE', base .. ':ids', offset, offset + 99)
  end
  if #ids == 0 then return { 1 } end
  for _, id in ipairs(ids) do
    local f = read_msg(base, id)
    if f and tonumber(f[5]) > now then
      local out = { 1 }
      push_msg(out, id, f)
      return out
    end
  end
  offset = offset + 100
end`,
  ],
  // KEYS: base. ARGV: now, ids... Reply: the live ones, in the order asked.
  phGet: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
local out = { 1 }
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('ZSCORE', base .. ':ids', id) then
    local f = read_msg(base, id)
    if f and tonumber(f[5]) > now then push_msg(out, id, f) end
  end
end
return out`,
  ],
  // KEYS: base. ARGV: now, id, claim id ('' for none).
  // Reply: 0 deleted, 1 claimed, 2 not claimed, 3 claimed by another, 4 nothing to delete.
  phDelete: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
local id = ARGV[2]
if not redis.call('ZSCORE', base .. ':ids', id) then return 4 end
local f = redis.call('HMGET', mkey(base, id), 'e', 'c', 'ce')
if not f[1] or tonumber(f[1]) <= now then return 4 end
local claimed = is_claimed(f[2], f[3], now)
if ARGV[3] == '' then
  if claimed then return 1 end
elseif not claimed then
  return 2
elseif f[2] ~= ARGV[3] then
  return 3
end
remove_message(base, id, claimed)
return 0`,
  ],
  // KEYS: base. ARGV: now, number of ids, narrow (1/0), ids..., claim ids... When narrowed, only
  // messages held by a live claim among the claim ids go (an empty list: none). Reply: the ids
  // deleted, in the order asked, each once (an expired message awaiting collection is not there).
  phBulkDelete: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local narrow = ARGV[3] == '1'
local allowed = {}
for i = n + 4, #ARGV do allowed[ARGV[i]] = true end
local gone = {}
for i = 4, n + 3 do
  local id = ARGV[i]
  if redis.call('ZSCORE', base .. ':ids', id) then
    local f = redis.call('HMGET', mkey(base, id), 'e', 'c', 'ce')
    local ok = f[1] and tonumber(f[1]) > now
    if ok and narrow then ok = is_claimed(f[2], f[3], now) and allowed[f[2]] == true end
    if ok then
      remove_message(base, id, narrow)
      gone[#gone + 1] = id
    end
  end
end
return gone`,
  ],
  // KEYS: base. ARGV: now, limit, project base, empty meta. Reply: status, messages dead-lettered,
  // popped messages.
  phPop: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { 1, 0 } end
promote(base, now)
local ids, fields, dead = take(base, ARGV[3], now, tonumber(ARGV[2]), dead_letter_policy(base), ARGV[4])
local out = { 1, dead }
for i, id in ipairs(ids) do
  local f = fields[i]
  f[9] = str(tonumber(f[9]) + 1)
  push_msg(out, id, f)
  -- A taken message is in no set but ids and exp any more.
  redis.call('ZREM', base .. ':ids', id)
  redis.call('ZREM', base .. ':exp', id)
  redis.call('DEL', mkey(base, id), bkey(base, id))
end
return out`,
  ],
  // KEYS: base. ARGV: now, claim id, ttl, grace, limit, project base, empty meta.
  // Reply: -1 no queue; 0, messages dead-lettered (nothing to claim); 1, messages dead-lettered,
  // claimed messages.
  phClaim: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
promote(base, now)
local ids, fields, dead = take(base, ARGV[6], now, tonumber(ARGV[5]), dead_letter_policy(base), ARGV[7])
if #ids == 0 then return { 0, dead } end
local ttl = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
local ce = now + ttl * 1000
local ce_s = str(ce)
local out = { 1, dead }
local args = {}
for i, id in ipairs(ids) do
  local k = mkey(base, id)
  local f = fields[i]
  f[7] = ARGV[2]
  f[8] = ce_s
  f[9] = str(tonumber(f[9]) + 1)
  -- A message that would die before its claim ends lives to the claim's end plus grace.
  if tonumber(f[5]) < ce then
    f[5] = str(ce + grace * 1000)
    f[3] = str(ttl + grace)
    redis.call('HSET', k, 'c', f[7], 'ce', f[8], 'cc', f[9], 'e', f[5], 't', f[3])
    redis.call('ZADD', base .. ':exp', f[5], id)
  else
    redis.call('HSET', k, 'c', f[7], 'ce', f[8], 'cc', f[9])
  end
  args[#args + 1] = ce_s
  args[#args + 1] = id
  push_msg(out, id, f)
end
zadd_many(base .. ':claimed', args)
redis.call('HSET', base .. ':claims', ARGV[2], claim_record(ARGV[3], ARGV[4], ARGV[1], ce_s, ids))
redis.call('ZADD', base .. ':claimexp', ce_s, ARGV[2])
return out`,
  ],
  // KEYS: base. ARGV: now, claim id. Reply: -1 no queue, -2 no live claim; 1, ttl, grace,
  // updated, expires, messages it still holds.
  phClaimGet: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local rec = redis.call('HGET', base .. ':claims', ARGV[2])
if not rec then return { -2 } end
local claim = parse_claim(rec)
if claim.expires <= now then return { -2 } end
local out = { 1, claim.ttl, claim.grace, claim.updated, str(claim.expires) }
for _, id in ipairs(claim.ids) do
  local f = read_msg(base, id)
  if f and f[7] == ARGV[2] and tonumber(f[5]) > now then push_msg(out, id, f) end
end
return out`,
  ],
  // KEYS: base. ARGV: now, claim id, ttl, grace. Reply: -1 no queue, -2 no live claim, 1 renewed.
  phClaimUpdate: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return -1 end
local rec = redis.call('HGET', base .. ':claims', ARGV[2])
if not rec then return -2 end
local claim = parse_claim(rec)
if claim.expires <= now then return -2 end
local ttl = tonumber(ARGV[3])
local grace = tonumber(ARGV[4])
local ce = now + ttl * 1000
local ce_s = str(ce)
local kept = {}
for _, id in ipairs(claim.ids) do
  local k = mkey(base, id)
  local f = redis.call('HMGET', k, 'c', 'e')
  if f[1] == ARGV[2] and f[2] and tonumber(f[2]) > now then
    redis.call('HSET', k, 'ce', ce_s)
    redis.call('ZADD', base .. ':claimed', ce_s, id)
    if tonumber(f[2]) < ce then
      local e = str(ce + grace * 1000)
      redis.call('HSET', k, 'e', e, 't', str(ttl + grace))
      redis.call('ZADD', base .. ':exp', e, id)
    end
    kept[#kept + 1] = id
  end
end
redis.call('HSET', base .. ':claims', ARGV[2], claim_record(ARGV[3], ARGV[4], ARGV[1], ce_s, kept))
redis.call('ZADD', base .. ':claimexp', ce_s, ARGV[2])
return 1`,
  ],
  // KEYS: base. ARGV: now, claim id. Releases the claim's messages at once.
  phClaimDelete: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
local rec = redis.call('HGET', base .. ':claims', ARGV[2])
if not rec then return 0 end
for _, id in ipairs(parse_claim(rec).ids) do
  local k = mkey(base, id)
  local f = redis.call('HMGET', k, 'c', 's', 'v')
  if f[1] == ARGV[2] then
    redis.call('HDEL', k, 'c', 'ce')
    redis.call('ZREM', base .. ':claimed', id)
    if tonumber(f[3]) > now then
      redis.call('ZADD', base .. ':delayed', f[3], id)
    else
      redis.call('ZADD', base .. ':ready', f[2], id)
    end
  end
end
redis.call('HDEL', base .. ':claims', ARGV[2])
redis.call('ZREM', base .. ':claimexp', ARGV[2])
return 1`,
  ],
  // KEYS: base. ARGV: now, id, subscriber, ttl, options. Reply: -1 no queue; 0, existing id; 1, id.
  phSubCreate: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local existing = redis.call('HGET', base .. ':subby', ARGV[3])
if existing and live_subscription(base, existing, now) then return { 0, existing } end
local seq = redis.call('HINCRBY', base, 'sseq', 1)
redis.call('HSET', skey(base, ARGV[2]), 'q', str(seq), 'sub', ARGV[3], 't', ARGV[4], 'cr', ARGV[1],
  'e', str(now + tonumber(ARGV[4]) * 1000), 'o', ARGV[5], 'cf', '0')
redis.call('ZADD', base .. ':subs', str(seq), ARGV[2])
redis.call('HSET', base .. ':subby', ARGV[3], ARGV[2])
return { 1, ARGV[2] }`,
  ],
  // KEYS: base. ARGV: now, marker seq ('' for none), limit. Reply: status, subscriptions as
  // id, seq, subscriber, ttl, created, expires, options, confirmed.
  phSubList: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local limit = tonumber(ARGV[3])
local lo = '-inf'
if ARGV[2] ~= '' then lo = '(' .. ARGV[2] end
local out = { 1 }
local count = 0
while count < limit do
  local batch = redis.call('ZRANGEBYSCORE', base .. ':subs', lo, '+inf', 'WITHSCORES', 'LIMIT', 0, 100)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    lo = '(' .. batch[i + 1]
    local f = live_subscription(base, batch[i], now)
    if f then
      out[#out + 1] = batch[i]
      for j = 1, 7 do out[#out + 1] = f[j] end
      count = count + 1
      if count >= limit then break end
    end
  end
end
return out`,
  ],
  // KEYS: base. ARGV: now, id or subscriber, 'id' or 'subscriber'. Reply: -1 no queue, -2 none; 1, subscription.
  phSubGet: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local id = ARGV[2]
if ARGV[3] == 'subscriber' then
  id = redis.call('HGET', base .. ':subby', ARGV[2])
  if not id then return { -2 } end
end
local f = live_subscription(base, id, now)
if not f then return { -2 } end
local out = { 1, id }
for j = 1, 7 do out[#out + 1] = f[j] end
return out`,
  ],
  // KEYS: base. ARGV: now, id, subscriber ('' keeps), ttl ('' keeps), has options (1/0), options.
  // Reply: -1 no queue, -2 no subscription; -3, id of the subscription the new subscriber has; 1.
  phSubUpdate: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { -1 } end
local id = ARGV[2]
local k = skey(base, id)
local f = live_subscription(base, id, now)
if not f then return { -2 } end
local sub = ARGV[3]
if sub ~= '' and sub ~= f[2] then
  local other = redis.call('HGET', base .. ':subby', sub)
  if other and other ~= id and live_subscription(base, other, now) then return { -3, other } end
  if redis.call('HGET', base .. ':subby', f[2]) == id then redis.call('HDEL', base .. ':subby', f[2]) end
  redis.call('HSET', base .. ':subby', sub, id)
  redis.call('HSET', k, 'sub', sub)
end
if ARGV[4] ~= '' then
  redis.call('HSET', k, 't', ARGV[4], 'e', str(now + tonumber(ARGV[4]) * 1000))
end
if ARGV[5] == '1' then redis.call('HSET', k, 'o', ARGV[6]) end
return { 1 }`,
  ],
  // KEYS: base. ARGV: id.
  phSubDelete: [
    1,
    `
if redis.call('EXISTS', skey(KEYS[1], ARGV[1])) == 1 then remove_subscription(KEYS[1], ARGV[1]) end
return 1`,
  ],
  // KEYS: base. ARGV: now, id, confirmed (1/0). Reply: -1 no queue, -2 no subscription, 1.
  phSubConfirm: [
    1,
    `
local base = KEYS[1]
if redis.call('EXISTS', base) == 0 then return -1 end
if not live_subscription(base, ARGV[2], tonumber(ARGV[1])) then return -2 end
redis.call('HSET', skey(base, ARGV[2]), 'cf', ARGV[3])
return 1`,
  ],
  // KEYS: base. ARGV: now, batch. Reclaims expired messages (at most batch), claims and
  // subscriptions. Reply: messages, claims, subscriptions reclaimed, 1 when more messages wait.
  phGc: [
    1,
    `
local base = KEYS[1]
local now = tonumber(ARGV[1])
if redis.call('EXISTS', base) == 0 then return { 0, 0, 0, 0 } end
local batch = tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', base .. ':exp', '-inf', ARGV[1], 'LIMIT', 0, batch)
for _, id in ipairs(expired) do remove_message(base, id) end
local claims = redis.call('ZRANGEBYSCORE', base .. ':claimexp', '-inf', ARGV[1])
for _, id in ipairs(claims) do redis.call('HDEL', base .. ':claims', id) end
if #claims > 0 then redis.call('ZREMRANGEBYSCORE', base .. ':claimexp', '-inf', ARGV[1]) end
local keys = redis.call('ZRANGEBYSCORE', base .. ':keyexp', '-inf', ARGV[1])
for _, k in ipairs(keys) do redis.call('HDEL', base .. ':keys', k) end
if #keys > 0 then redis.call('ZREMRANGEBYSCORE', base .. ':keyexp', '-inf', ARGV[1]) end
promote(base, now)
local subs = 0
for _, id in ipairs(redis.call('ZRANGE', base .. ':subs', 0, -1)) do
  if not live_subscription(base, id, now) then
    remove_subscription(base, id)
    subs = subs + 1
  end
end
local more = 0
if #expired == batch then more = 1 end
return { #expired, #claims, subs, more }`,
  ],
} as const satisfies Record<string, readonly [number, string]>;

export type ScriptName = keyof typeof BODIES;

export interface ScriptDefinition {
  name: ScriptName;
  numberOfKeys: number;
  lua: string;
}

/** Every script with the shared helpers in front; ioredis sends them by EVALSHA, loading on NOSCRIPT. */
export const SCRIPTS: readonly ScriptDefinition[] = Object.entries(BODIES).map(([name, [numberOfKeys, body]]) => ({
  name: name as ScriptName,
  numberOfKeys,
  lua: `${PRELUDE}\n${body}`,
}));

--[[
  Deletes messages by id. When narrowed, only messages held by a live claim among the claim
  ids go (an empty list: none).

  Input:
    KEYS[1] the queue's base key
    ARGV[1] now (ms)
    ARGV[2] n, the number of ids
    ARGV[3] narrow (1/0)
    ARGV[4...3+n] ids
    ARGV[4+n...] claim ids

  Output:
    the ids deleted, in the order asked, each once (an expired message awaiting collection is not there)
]]

--- @include "includes/keys"
--- @include "includes/is-claimed"
--- @include "includes/remove-message"

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
return gone

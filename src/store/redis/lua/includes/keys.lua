--[[
  The keys of one message's fields, of its body and of one subscription, under a queue's base key.
]]

local function mkey(base, id) return base .. ':m:' .. id end
-- A message's body lives in a string of its own, so the hash of its other fields holds only
-- short values and stays a compact listpack (a body over 64 bytes would turn it into a full
-- hash table: slower to write, read and free, and several times the memory).
local function bkey(base, id) return base .. ':b:' .. id end
local function skey(base, id) return base .. ':s:' .. id end

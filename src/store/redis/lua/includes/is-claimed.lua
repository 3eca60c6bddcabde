--[[
  Whether a message's claim id c and claim end ce (as a message's hash holds them) make a live claim at now.
]]

local function is_claimed(c, ce, now) return c and c ~= '' and ce and tonumber(ce) > now end

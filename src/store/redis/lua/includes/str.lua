--[[
  A number as Redis wants it in a score or a field: whole, never in exponent notation.
]]

local function str(n) return string.format('%.0f', n) end

--[[
  Appends a message to a reply as its 12 items: id, then the fields read-msg gives.
]]

local function push_msg(out, id, f)
  out[#out + 1] = id
  for i = 1, 11 do out[#out + 1] = f[i] end
end

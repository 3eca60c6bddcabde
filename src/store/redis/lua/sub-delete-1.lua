--[[
  Deletes a subscription.

  Input:
    KEYS[1] the queue's base key
    ARGV[1] id

  Output:
    1 (whether it was there or not)
]]

--- @include "includes/keys"
--- @include "includes/remove-subscription"

if redis.call('EXISTS', skey(KEYS[1], ARGV[1])) == 1 then remove_subscription(KEYS[1], ARGV[1]) end
return 1

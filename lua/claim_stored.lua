-- Marks a claim's message stored (see claim.lua), unless the claim has passed to another message.
-- KEYS: the claim. ARGV: the message id claimed; the id it was stored under, when the
-- sequencing script gave it another one.
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then
  redis.call('SET', KEYS[1], ARGV[2] or ARGV[1], 'KEEPTTL')
  return 1
end
return 0

-- Removes a departure from a grace index shard, unless it was indexed anew meanwhile (a
-- drop after the confirmation or check that led here gives it another deadline).
-- KEYS: the shard. ARGV: the member, the deadline it was found with.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0

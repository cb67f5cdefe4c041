-- Replaces one history member by its edited or deleted version, unless it changed meanwhile.
-- KEYS: the room's history, its byte count. ARGV: the member read, its new version.
-- Returns 1 when replaced, 0 when the member read is no longer there (read it again).
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], 0, ARGV[2])
-- INCRBY keeps the count's expiry; it creates the count if it had gone.
redis.call('INCRBY', KEYS[2], #ARGV[2] - #ARGV[1])
return 1

-- Replaces one history member by its edited or deleted version, unless it changed meanwhile.
-- KEYS: the room's history, its byte count. ARGV: the member read, its new version.
-- Returns 1 when replaced, 0 when the member read is no longer there (read it again).
-- Runs after lua/history_lib.lua.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
-- Raised before the members change, as an append does: a garbled count is counted again from
-- the members as they are, plus the change. INCRBY keeps the count's expiry.
raise_byte_count(KEYS[1], KEYS[2], 1, #ARGV[2] - #ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], 0, ARGV[2])
return 1

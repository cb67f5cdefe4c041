-- Appends a message to a room's history and keeps only the newest ones.
-- Members are "<messageId>\n<message JSON>" with score 0, so the set is ordered by id
-- (ids are fixed-width and sort as they were issued).
-- KEYS: history zset
-- ARGV: member, max messages kept
local key = KEYS[1]
redis.call('ZADD', key, 0, ARGV[1])
redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[2]) + 1))
return 1

-- Appends messages to rooms' histories (one batch per few ms of an instance) and keeps only
-- the newest of each: a set is trimmed back to the limit once it exceeds it by a slack, so
-- most appends pay no trim (readers take the newest `limit`). Members are "<messageId>\n<message JSON>" with score 0, so
-- each set is ordered by id (ids are fixed-width and sort as they were issued).
-- KEYS: one history zset per message (repeated when a room has several)
-- ARGV: max messages kept, then the members, one per key
local limit = tonumber(ARGV[1])
local slack = math.max(16, math.floor(limit / 8))
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 0, ARGV[i + 1])
end
local trimmed = {}
for _, key in ipairs(KEYS) do
  if not trimmed[key] then
    trimmed[key] = true
    if redis.call('ZCARD', key) > limit + slack then
      redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
    end
  end
end
return #KEYS

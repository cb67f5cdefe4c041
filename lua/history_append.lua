-- Appends one flush's messages to their rooms' histories: one call for every room, so the
-- client sends one command per flush rather than one per room (bench/RESULTS.md, lever 12).
-- KEYS: the rooms' history keys. ARGV[1]: trim threshold (limit + slack); ARGV[2]: limit;
-- then, for each key in order, its member count followed by its members.
-- Members score 0 (ordered by their id prefix). A room past the threshold is trimmed back to
-- its newest `limit` (trimming only past a slack spares a ZREMRANGEBYRANK on most appends).
local threshold = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local at = 3
for _, key in ipairs(KEYS) do
  local n = tonumber(ARGV[at])
  for j = at + 1, at + n do
    redis.call('ZADD', key, 0, ARGV[j])
  end
  at = at + n + 1
  if redis.call('ZCARD', key) > threshold then
    redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
  end
end
return #KEYS

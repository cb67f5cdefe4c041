-- Appends one flush's messages to their rooms' histories: one call for every room, so the
-- client sends one command per flush rather than one per room (bench/RESULTS.md, lever 12).
-- KEYS: the rooms' history keys. ARGV[1]: trim threshold (limit + slack); ARGV[2]: limit;
-- then, for each key in order, its member count followed by its members.
-- Members score 0 (ordered by their id prefix). A room past the threshold is trimmed back to
-- its newest `limit` (trimming only past a slack spares a ZREMRANGEBYRANK on most appends).
-- A room whose write fails (its key holds another type) does not stop the others: returns
-- {index, error, ...} for the keys that failed (1-based), empty when all were stored.
local threshold = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local failed = {}
local at = 3
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[at])
  local err
  for j = at + 1, at + n do
    local reply = redis.pcall('ZADD', key, 0, ARGV[j])
    if type(reply) == 'table' and reply.err then
      err = reply.err
      break
    end
  end
  at = at + n + 1
  if err then
    failed[#failed + 1] = i
    failed[#failed + 1] = err
  elseif redis.call('ZCARD', key) > threshold then
    redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
  end
end
return failed

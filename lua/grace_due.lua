-- The departures of one grace index shard that are due by Redis's clock, at least ARGV[2] ms ago.
-- KEYS: the shard. ARGV: the most to return, the lateness (ms).
-- Returns { "<roomId>\n<userId>", deadline, ... }
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))

-- Helpers of the history scripts (prepended to history_append.lua and history_sequence.lua).
-- A room's history is a sorted set of "<id>\n<JSON>" members, all scored 0 (so ordered by
-- id), with its members' byte total in a key beside it.

-- The bounds every history script receives first: ARGV[1] trim threshold (limit + slack),
-- ARGV[2] limit, ARGV[3] most bytes per room, ARGV[4] retention (ms) of a room nobody is in.
local function read_bounds(argv)
  return {
    threshold = tonumber(argv[1]),
    limit = tonumber(argv[2]),
    max_bytes = tonumber(argv[3]),
    retention_ms = tonumber(argv[4]),
  }
end

-- Removes the oldest members while the room is over its bounds (past `threshold` members,
-- trimmed back to `limit`; past `max_bytes`); returns the bytes left. Never the newest member:
-- one message always fits (MAX_MESSAGE_LENGTH is bounded).
local function trim_history(key, card, bytes, threshold, limit, max_bytes)
  local excess = card > threshold and card - limit or 0
  if excess == 0 and bytes <= max_bytes then return bytes end
  local removed = 0
  while true do
    local batch = redis.call('ZRANGE', key, removed, removed + 31)
    if #batch == 0 then break end
    local stop = false
    for _, m in ipairs(batch) do
      if removed >= card - 1 or (removed >= excess and bytes <= max_bytes) then
        stop = true
        break
      end
      removed = removed + 1
      bytes = bytes - #m
    end
    if stop then break end
  end
  if removed > 0 then redis.call('ZREMRANGEBYRANK', key, 0, removed - 1) end
  return bytes
end

-- Adds members to a room's history within its bounds. Every key is read before any is
-- written: a key this node does not serve (a script reaching keys of several slots on a
-- cluster, one of them migrating) fails the room here, before it is half written.
-- Expiry: a history that exists already carries what its room gave it (none while somebody
-- is present, the retention from when the last one went), and ZADD and SET KEEPTTL keep it;
-- so only a new history asks whether anybody is in the room. Nobody (everybody left before
-- this write arrived, when there was no history key to set an expiry on): it expires here.
local function add_to_history(key, bytes_key, users_key, members, first, last, bounds)
  local card = redis.call('ZCARD', key)
  local stored_bytes = redis.call('GET', bytes_key)
  local unoccupied = card == 0 and redis.call('EXISTS', users_key) == 0
  local bytes = 0
  if card > 0 then bytes = tonumber(stored_bytes or '0') or 0 end
  for j = first, last do
    if redis.call('ZADD', key, 0, members[j]) == 1 then
      card = card + 1
      bytes = bytes + #members[j]
    end
  end
  bytes = trim_history(key, card, bytes, bounds.threshold, bounds.limit, bounds.max_bytes)
  redis.call('SET', bytes_key, bytes, 'KEEPTTL')
  if unoccupied then
    redis.call('PEXPIRE', key, bounds.retention_ms)
    redis.call('PEXPIRE', bytes_key, bounds.retention_ms)
  end
end

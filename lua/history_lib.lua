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

-- A room's byte count with `added` bytes more, before its members are added. `card` is the
-- history's size: a new history (0) gets a count of its own, dropping whatever an earlier one
-- left; an existing one's is raised by INCRBY, which keeps the key's expiry and creates it if
-- it had gone. A count that is not a number (written by hand, say) is counted again.
local function raise_byte_count(key, bytes_key, card, added)
  if card == 0 then
    redis.call('SET', bytes_key, added)
    return added
  end
  local bytes = redis.pcall('INCRBY', bytes_key, added)
  if type(bytes) == 'number' then return bytes end
  if not string.find(bytes.err, 'not an integer', 1, true) then error(bytes) end
  bytes = added
  for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do bytes = bytes + #m end
  redis.call('SET', bytes_key, bytes, 'KEEPTTL')
  return bytes
end

-- Adds members to a room's history within its bounds. Nothing is written until each of its
-- keys has answered a command that, failing, writes nothing: a key this node does not serve
-- (a script reaching keys of several slots on a cluster, one of them migrating) fails the
-- room before it is half written. The history answers ZCARD; the byte count, written before
-- the members, answers SET or INCRBY.
-- Expiry: a history that exists already carries what its room gave it (none while somebody
-- is present, the retention from when the last one went), and ZADD, INCRBY and SET KEEPTTL
-- keep it; so only a new history asks whether anybody is in the room. Nobody (everybody left
-- before this write arrived, when there was no history key to set an expiry on): it expires
-- here.
-- Three calls for one message to a history that exists (ZCARD, INCRBY, ZADD): a redis.call
-- costs Redis about 2.5 microseconds beyond the command it runs, several times what GET or
-- SET take (bench/RESULTS.md, eighteenth session), so the count is raised in one call rather
-- than read and then written.
local function add_to_history(key, bytes_key, users_key, members, first, last, bounds)
  local card = redis.call('ZCARD', key)
  local unoccupied = card == 0 and redis.call('EXISTS', users_key) == 0
  local added = 0
  for j = first, last do added = added + #members[j] end
  local counted = raise_byte_count(key, bytes_key, card, added)
  local bytes = counted
  for j = first, last do
    -- Already there (a write sent again): its bytes were counted, and are taken back.
    if redis.call('ZADD', key, 0, members[j]) == 1 then
      card = card + 1
    else
      bytes = bytes - #members[j]
    end
  end
  bytes = trim_history(key, card, bytes, bounds.threshold, bounds.limit, bounds.max_bytes)
  if bytes ~= counted then redis.call('SET', bytes_key, bytes, 'KEEPTTL') end
  if unoccupied then
    redis.call('PEXPIRE', key, bounds.retention_ms)
    redis.call('PEXPIRE', bytes_key, bounds.retention_ms)
  end
end

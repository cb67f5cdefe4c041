-- Appends one flush's messages to their rooms' histories: one call for every room, so the
-- client sends one command per flush rather than one per room (bench/RESULTS.md, lever 12).
-- KEYS: for each room, three keys: its history (sorted set), the history's byte count, and
-- its users hash.
-- ARGV[1]: trim threshold (limit + slack); ARGV[2]: limit; ARGV[3]: most bytes kept per room;
-- ARGV[4]: retention (ms) of the history of a room nobody is in; then, for each room in order,
-- its member count followed by its members.
-- Members score 0 (ordered by their id prefix). A room past the threshold is trimmed back to
-- its newest `limit` (trimming only past a slack spares a ZREMRANGEBYRANK on most appends);
-- a room past its byte bound loses its oldest messages until it fits.
-- A room nobody is in (everybody left before this write arrived) gets its expiry here: the
-- departure's expiry found no history key to set it on.
-- A room whose write fails (its key holds another type) does not stop the others: returns
-- {index, error, ...} for the rooms that failed (1-based), empty when all were stored.
local threshold = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local max_bytes = tonumber(ARGV[3])
local retention_ms = tonumber(ARGV[4])

-- Removes the oldest members while the room is over its bounds; returns the bytes left.
local function trim(key, card, bytes)
  local excess = card > threshold and card - limit or 0
  if excess == 0 and bytes <= max_bytes then return bytes end
  local removed = 0
  while true do
    local batch = redis.call('ZRANGE', key, removed, removed + 31)
    if #batch == 0 then break end
    local stop = false
    for _, m in ipairs(batch) do
      -- Never the newest message: one message always fits (MAX_MESSAGE_LENGTH is bounded).
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

local failed = {}
local at = 5
for room = 1, #KEYS / 3 do
  local key, bytes_key, users_key = KEYS[room * 3 - 2], KEYS[room * 3 - 1], KEYS[room * 3]
  local n = tonumber(ARGV[at])
  local ok, err = pcall(function()
    local card = redis.call('ZCARD', key)
    local bytes = 0
    if card > 0 then bytes = tonumber(redis.call('GET', bytes_key) or '0') or 0 end
    for j = at + 1, at + n do
      if redis.call('ZADD', key, 0, ARGV[j]) == 1 then
        card = card + 1
        bytes = bytes + #ARGV[j]
      end
    end
    bytes = trim(key, card, bytes)
    redis.call('SET', bytes_key, bytes)
    if redis.call('EXISTS', users_key) == 0 then
      redis.call('PEXPIRE', key, retention_ms)
      redis.call('PEXPIRE', bytes_key, retention_ms)
    end
  end)
  at = at + n + 1
  if not ok then
    failed[#failed + 1] = room
    failed[#failed + 1] = type(err) == 'table' and err.err or tostring(err)
  end
end
return failed

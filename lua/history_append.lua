-- Appends one flush's messages to their rooms' histories: one call for every room, so the
-- client sends one command per flush rather than one per room (bench/RESULTS.md, lever 12).
-- KEYS: for each room, three keys: its history (sorted set), the history's byte count, and
-- its users hash.
-- ARGV[1]: trim threshold (limit + slack); ARGV[2]: limit; ARGV[3]: most bytes kept per room;
-- ARGV[4]: retention (ms) of the history of a room nobody is in; then, for each room in order,
-- its member count followed by its members. Rooms past those of KEYS name their three keys
-- in ARGV, before their count: on a Redis Cluster, where declared keys must share a slot,
-- one call carries every room of a node that way (run with allow-cross-slot-keys; see
-- RedisHistoryStore.sendToNode).
-- A room whose write fails (its key holds another type, or on a cluster is not this node's)
-- does not stop the others: returns {index, error, ...} for the rooms that failed (1-based),
-- empty when all were stored.
local bounds = read_bounds(ARGV)
local failed = {}
local declared = #KEYS / 3
local at = 5
local room = 0
while at <= #ARGV do
  room = room + 1
  local key, bytes_key, users_key
  if room <= declared then
    key, bytes_key, users_key = KEYS[room * 3 - 2], KEYS[room * 3 - 1], KEYS[room * 3]
  else
    key, bytes_key, users_key = ARGV[at], ARGV[at + 1], ARGV[at + 2]
    at = at + 3
  end
  local n = tonumber(ARGV[at])
  local ok, err = pcall(add_to_history, key, bytes_key, users_key, ARGV, at + 1, at + n, bounds)
  at = at + n + 1
  if not ok then
    failed[#failed + 1] = room
    failed[#failed + 1] = type(err) == 'table' and err.err or tostring(err)
  end
end
return failed

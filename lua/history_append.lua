-- Appends one flush's messages to their rooms' histories: one call for every room, so the
-- client sends one command per flush rather than one per room (bench/RESULTS.md, lever 12).
-- KEYS: for each room, three keys: its history (sorted set), the history's byte count, and
-- its users hash.
-- ARGV[1]: trim threshold (limit + slack); ARGV[2]: limit; ARGV[3]: most bytes kept per room;
-- ARGV[4]: retention (ms) of the history of a room nobody is in; then, for each room in order,
-- its member count followed by its members.
-- A room whose write fails (its key holds another type) does not stop the others: returns
-- {index, error, ...} for the rooms that failed (1-based), empty when all were stored.
local bounds = read_bounds(ARGV)
local failed = {}
local at = 5
for room = 1, #KEYS / 3 do
  local n = tonumber(ARGV[at])
  local ok, err = pcall(add_to_history, KEYS[room * 3 - 2], KEYS[room * 3 - 1], KEYS[room * 3], ARGV, at + 1, at + n, bounds)
  at = at + n + 1
  if not ok then
    failed[#failed + 1] = room
    failed[#failed + 1] = type(err) == 'table' and err.err or tostring(err)
  end
end
return failed

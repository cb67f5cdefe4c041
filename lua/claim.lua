-- Claims a sender's clientMessageId for a new message, unless its first copy is stored or
-- still on its way to the history.
-- KEYS: the claim (see RedisKeys.dedupe), the room's history
-- ARGV: new message id, dedupe window (ms), in-flight bound (ms), '1' when history is kept
-- The claim's value is "<id> <claimedAtMs>" while its message is on its way to the history,
-- and "<id>" once it is stored (the storing instance marks it).
-- Returns { 'new' } when the caller may deliver its message (the claim is now its own),
-- { 'duplicate', id } when the first copy is stored, or { 'wait', id, ms } when the first
-- copy may still be stored by its instance within ms: ask again then.
local claim_key, history_key = KEYS[1], KEYS[2]
local message_id, window_ms, in_flight_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local history_kept = ARGV[4] == '1'

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local value = redis.call('GET', claim_key)
if value then
  local sep = string.find(value, ' ', 1, true)
  if not sep or not history_kept then return { 'duplicate', sep and string.sub(value, 1, sep - 1) or value } end
  local first_id, claimed_at = string.sub(value, 1, sep - 1), tonumber(string.sub(value, sep + 1)) or 0
  local found = redis.call('ZRANGEBYLEX', history_key, '[' .. first_id .. '\n', '(' .. first_id .. '\n\255', 'LIMIT', 0, 1)
  if #found > 0 then return { 'duplicate', first_id } end
  local age = now - claimed_at
  if age < in_flight_ms then return { 'wait', first_id, in_flight_ms - age } end
  -- The first copy never reached the history (its instance died, or its write failed): this
  -- message takes its place.
end
redis.call('SET', claim_key, message_id .. ' ' .. now, 'PX', window_ms)
return { 'new' }

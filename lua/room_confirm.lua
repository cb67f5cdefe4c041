-- Confirms a departure found due in the grace index, if the room agrees: atomic, so each
-- departure is confirmed (and announced) by exactly one caller.
-- KEYS: the room's users hash, history, history byte count
-- ARGV: userId, history TTL (ms) of the room if it is left empty
-- Returns { 'confirmed', username }; { 'later', graceUntil } when the grace period runs on
-- (the index is to be moved to it); { 'none' } when the user is back or already gone.
local user_id, history_ttl_ms = ARGV[1], tonumber(ARGV[2])

local entry = decode(redis.call('HGET', KEYS[1], user_id))
if not entry or entry.isDisconnectConfirm or connections(entry) > 0 or not entry.graceUntil then
  return { 'none' }
end
if entry.graceUntil > now_ms() then return { 'later', entry.graceUntil } end
confirm(entry, user_id, history_ttl_ms)
return { 'confirmed', entry.username or '' }

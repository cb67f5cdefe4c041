-- Confirms a departure found due in the grace index, if the room agrees: atomic, so each
-- departure is confirmed (and announced) by exactly one caller.
-- KEYS: the room's users hash, history, history byte count
-- ARGV: userId, history TTL (ms) of the room if it is left empty, the confirming instance's id
-- Returns { 'confirmed', username, elsewhere } where elsewhere is 1 when another instance
-- holds a socket in the room (the notice must travel), else 0; { 'later', graceUntil } when
-- the grace period runs on (the index is to be moved to it); { 'none' } when the user is back
-- or already gone.
local user_id, history_ttl_ms, instance_id = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local entry = decode(redis.call('HGET', KEYS[1], user_id))
if not entry or entry.isDisconnectConfirm or connections(entry) > 0 or not entry.graceUntil then
  return { 'none' }
end
if entry.graceUntil > now_ms() then return { 'later', entry.graceUntil } end
confirm(entry, user_id, history_ttl_ms)
return { 'confirmed', entry.username or '', #other_hosts(instance_id) > 0 and 1 or 0 }

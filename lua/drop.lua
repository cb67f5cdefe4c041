-- A socket of user left the room on this instance without saying goodbye.
-- KEYS: room hash, grace zset, this instance's room index
-- ARGV: roomId, userId, instanceId, connections left on this instance, graceMs
-- Returns the ms until the user's departure is due, or -1 when the user is still connected
-- (elsewhere or in another tab) or no longer present.
local key, grace_key, rooms_key = KEYS[1], KEYS[2], KEYS[3]
local room_id, user_id, instance_id = ARGV[1], ARGV[2], ARGV[3]
local n, grace_ms = tonumber(ARGV[4]), tonumber(ARGV[5])

local entry = decode(redis.call('HGET', key, user_id))
if not entry then
  forget_room_if_unused(key, rooms_key, room_id, instance_id)
  return -1
end
set_connections(entry, instance_id, n)
local now = now_ms()
start_grace(entry, grace_key, room_id, user_id, now + grace_ms)
redis.call('HSET', key, user_id, encode(entry))
forget_room_if_unused(key, rooms_key, room_id, instance_id)
if entry.isDisconnectConfirm or not entry.graceUntil then return -1 end
return math.max(0, entry.graceUntil - now)

-- A socket of user left the room on purpose (leave_session, or a join to another room).
-- KEYS: room hash, grace zset, this instance's room index
-- ARGV: roomId, userId, instanceId, connections left on this instance, history TTL (ms)
-- Returns { 1, username } when the departure is confirmed now and must be announced, else { 0, '' }.
local key, grace_key, rooms_key = KEYS[1], KEYS[2], KEYS[3]
local room_id, user_id, instance_id = ARGV[1], ARGV[2], ARGV[3]
local n, history_ttl_ms = tonumber(ARGV[4]), tonumber(ARGV[5])

local entry = decode(redis.call('HGET', key, user_id))
if not entry or entry.isDisconnectConfirm then
  forget_room_if_unused(key, rooms_key, room_id, instance_id)
  return { 0, '' }
end
set_connections(entry, instance_id, n)
local announce = 0
if connections(entry) == 0 then
  confirm(entry, key, grace_key, room_id, user_id, history_ttl_ms)
  announce = 1
else
  redis.call('HSET', key, user_id, encode(entry))
end
forget_room_if_unused(key, rooms_key, room_id, instance_id)
return { announce, entry.username or '' }

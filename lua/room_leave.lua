-- A socket of user left the room on purpose (leave_session, or a join to another room).
-- KEYS: the room's users hash, history, history byte count
-- ARGV: userId, instanceId, connections left on this instance, history TTL (ms)
-- Returns { announce, username, hosts }: announce is 1 when the departure is confirmed now
-- and must be announced; hosts is 1 while this instance still holds a socket in the room.
local user_id, instance_id = ARGV[1], ARGV[2]
local n, history_ttl_ms = tonumber(ARGV[3]), tonumber(ARGV[4])

local entry = decode(redis.call('HGET', KEYS[1], user_id))
if not entry or entry.isDisconnectConfirm then return { 0, '', still_hosts(instance_id) } end
set_connections(entry, instance_id, n)
if connections(entry) == 0 then
  confirm(entry, user_id, history_ttl_ms)
  return { 1, entry.username or '', still_hosts(instance_id) }
end
redis.call('HSET', KEYS[1], user_id, encode(entry))
return { 0, entry.username or '', still_hosts(instance_id) }

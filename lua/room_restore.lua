-- Writes one user of this instance back after Redis came back, was restarted, or this
-- instance's lease lapsed (see RedisRoomStore.sync).
-- KEYS: the room's users hash, history, history byte count
-- ARGV: userId, username, connections (0 = dropped here, in its grace period), the grace
-- period's ms left, instanceId
-- Returns { reconnected, graceUntil }: reconnected is 1 when the user's departure had been
-- confirmed meanwhile and it must be announced again; graceUntil is the Redis time the
-- user's departure is due, or -1 when the user is not in its grace period.
local user_id, username, n, grace_left, instance_id = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]

local entry = decode(redis.call('HGET', KEYS[1], user_id))
if n > 0 then
  local reconnected = 0
  if not entry then
    entry = { instances = {} }
  elseif entry.isDisconnectConfirm then
    reconnected = 1
  end
  entry.username = username
  entry.isDisconnectConfirm = false
  entry.graceUntil = nil
  set_connections(entry, instance_id, n)
  redis.call('HSET', KEYS[1], user_id, encode(entry))
  keep_history()
  return { reconnected, -1 }
end
if not entry then entry = { instances = {}, username = username, isDisconnectConfirm = false } end
if entry.isDisconnectConfirm then return { 0, -1 } end
set_connections(entry, instance_id, 0)
start_grace(entry, now_ms() + grace_left)
redis.call('HSET', KEYS[1], user_id, encode(entry))
return { 0, entry.graceUntil or -1 }

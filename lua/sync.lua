-- Replaces what Redis records of this instance's sockets by the instance's own view, after
-- Redis came back, was restarted, or this instance's lease lapsed.
-- KEYS: grace zset, this instance's room index
-- ARGV: key prefix, instanceId, graceMs, snapshot JSON
--   snapshot = [[roomId, userId, username, connections, graceRemainingMs], ...]
--   connections = 0 means the user dropped here and is in its grace period.
-- Users this instance no longer holds start their grace period; users restored after their
-- departure was confirmed elsewhere must be announced again.
-- Returns { roomId, userId, username, ... } of the users to announce as reconnected.
local grace_key, rooms_key = KEYS[1], KEYS[2]
local prefix, instance_id, grace_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local snapshot = cjson.decode(ARGV[4])

local now = now_ms()
local keep = {}
local reconnected = {}
for _, item in ipairs(snapshot) do
  local room_id, user_id, username, n = item[1], item[2], item[3], tonumber(item[4])
  local key = room_key(prefix, room_id)
  local entry = decode(redis.call('HGET', key, user_id))
  if n > 0 then
    if not entry then
      entry = { instances = {} }
    elseif entry.isDisconnectConfirm then
      reconnected[#reconnected + 1] = room_id
      reconnected[#reconnected + 1] = user_id
      reconnected[#reconnected + 1] = username
    end
    entry.username = username
    entry.isDisconnectConfirm = false
    entry.graceUntil = nil
    set_connections(entry, instance_id, n)
    redis.call('ZREM', grace_key, grace_member(room_id, user_id))
    redis.call('HSET', key, user_id, encode(entry))
    keep[room_id] = keep[room_id] or {}
    keep[room_id][user_id] = true
    redis.call('SADD', rooms_key, room_id)
    redis.call('PERSIST', history_key(key))
  else
    if not entry then entry = { instances = {}, username = username, isDisconnectConfirm = false } end
    if not entry.isDisconnectConfirm then
      set_connections(entry, instance_id, 0)
      start_grace(entry, grace_key, room_id, user_id, now + tonumber(item[5] or grace_ms))
      redis.call('HSET', key, user_id, encode(entry))
    end
  end
end
release_instance(prefix, grace_key, instance_id, grace_ms, now, keep)
return reconnected

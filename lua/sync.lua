-- Replaces what Redis records of this instance's sockets by the instance's own view, after
-- Redis came back, was restarted, or this instance's lease lapsed.
-- KEYS: grace zset, this instance's room index
-- ARGV: key prefix, instanceId, graceMs, then the snapshot, five arguments per user:
--   roomId, userId, username, connections, graceRemainingMs
--   connections = 0 means the user dropped here and is in its grace period.
-- Flat arguments rather than JSON, so no entry can make the whole write-back fail to decode;
-- each entry is written on its own (pcall), so one that fails (a key of another type) does
-- not keep the others, or the instance, out of shared mode.
-- Users this instance no longer holds start their grace period; users restored after their
-- departure was confirmed elsewhere must be announced again.
-- Returns { { roomId, userId, username, ... }, { roomId, userId, error, ... } }: the users to
-- announce as reconnected, and the entries that could not be written.
local grace_key, rooms_key = KEYS[1], KEYS[2]
local prefix, instance_id, grace_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])

local now = now_ms()
local keep = {}
local reconnected = {}
local failed = {}

local function restore(room_id, user_id, username, n, grace_remaining)
  local key = room_key(prefix, room_id)
  local entry = decode(redis.call('HGET', key, user_id))
  if n > 0 then
    keep[room_id] = keep[room_id] or {}
    keep[room_id][user_id] = true
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
    redis.call('SADD', rooms_key, room_id)
    keep_history(key)
  else
    if not entry then entry = { instances = {}, username = username, isDisconnectConfirm = false } end
    if not entry.isDisconnectConfirm then
      set_connections(entry, instance_id, 0)
      start_grace(entry, grace_key, room_id, user_id, now + (grace_remaining or grace_ms))
      redis.call('HSET', key, user_id, encode(entry))
    end
  end
end

for i = 4, #ARGV - 4, 5 do
  local room_id, user_id = ARGV[i], ARGV[i + 1]
  local ok, err = pcall(restore, room_id, user_id, ARGV[i + 2], tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]))
  if not ok then
    failed[#failed + 1] = room_id
    failed[#failed + 1] = user_id
    failed[#failed + 1] = type(err) == 'table' and err.err or tostring(err)
  end
end
pcall(release_instance, prefix, grace_key, instance_id, grace_ms, now, keep)
return { reconnected, failed }

-- A socket of user joined the room on this instance.
-- KEYS: room hash, grace zset, this instance's room index
-- ARGV: roomId, userId, username, instanceId, connections (this instance's sockets of the user)
-- Returns { kind, { userId, username, ... }, { instanceId, ... } } where kind is connect |
-- reconnect | rejoin, the second list holds the other users present (in their grace period
-- included) and the third the other instances holding a socket in the room.
local key, grace_key, rooms_key = KEYS[1], KEYS[2], KEYS[3]
local room_id, user_id, username, instance_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local n = tonumber(ARGV[5])
-- The key prefix, recovered from the room key "<prefix>room:<roomId>:users".
local prefix = string.sub(key, 1, #key - #('room:' .. room_id .. ':users'))

local entry = decode(redis.call('HGET', key, user_id))
local kind = 'rejoin'
if not entry then
  kind = 'connect'
  entry = { instances = {} }
elseif entry.isDisconnectConfirm then
  kind = 'reconnect'
end
entry.username = username
entry.isDisconnectConfirm = false
entry.graceUntil = nil
set_connections(entry, instance_id, n)
redis.call('HSET', key, user_id, encode(entry))
redis.call('ZREM', grace_key, grace_member(room_id, user_id))
redis.call('SADD', rooms_key, room_id)
keep_history(key)

local others = {}
local hosts, seen = {}, {}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  local e = decode(all[i + 1])
  if e then
    if all[i] ~= user_id and not e.isDisconnectConfirm then
      others[#others + 1] = all[i]
      others[#others + 1] = e.username or ''
    end
    add_hosts(prefix, e, instance_id, hosts, seen)
  end
end
return { kind, others, hosts }

-- A socket of user joined the room on this instance.
-- KEYS: the room's users hash, history, history byte count
-- ARGV: userId, username, instanceId, connections (this instance's sockets of the user)
-- Returns { kind, { userId, username, ... }, { instanceId, ... } } where kind is connect |
-- reconnect | rejoin, the second list holds the other users present (in their grace period
-- included) and the third the other instances holding a socket in the room (the caller
-- drops those whose lease has lapsed).
local user_id, username, instance_id, n = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

local entry = decode(redis.call('HGET', KEYS[1], user_id))
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
redis.call('HSET', KEYS[1], user_id, encode(entry))
keep_history()

local others = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local e = decode(all[i + 1])
  if e and all[i] ~= user_id and not e.isDisconnectConfirm then
    others[#others + 1] = all[i]
    others[#others + 1] = e.username or ''
  end
end
return { kind, others, other_hosts(instance_id) }

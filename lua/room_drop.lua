-- A socket of user left the room on this instance without saying goodbye.
-- KEYS: the room's users hash
-- ARGV: userId, instanceId, connections left on this instance, graceMs
-- Returns { deadline, remaining, hosts }: the Redis time (ms) the user's departure is due and
-- the ms until then, both -1 when the user is still connected (elsewhere or in another tab)
-- or no longer present; hosts is 1 while this instance still holds a socket in the room.
local user_id, instance_id = ARGV[1], ARGV[2]
local n, grace_ms = tonumber(ARGV[3]), tonumber(ARGV[4])

local entry = decode(redis.call('HGET', KEYS[1], user_id))
if not entry then return { -1, -1, still_hosts(instance_id) } end
set_connections(entry, instance_id, n)
local now = now_ms()
start_grace(entry, now + grace_ms)
redis.call('HSET', KEYS[1], user_id, encode(entry))
if entry.isDisconnectConfirm or not entry.graceUntil then return { -1, -1, still_hosts(instance_id) } end
return { entry.graceUntil, math.max(0, entry.graceUntil - now), still_hosts(instance_id) }

-- Removes an instance's sockets from the room (the instance died, or shut down, or wrote its
-- state back without some of them): users left with no socket start their grace period.
-- KEYS: the room's users hash
-- ARGV: instanceId, graceMs, then the users the instance still holds here (kept as they are)
-- Returns every user of the room in its grace period, { userId, graceUntil, ... }, so the
-- caller can (re)index them all: a release repeated after a crash reports them again.
local instance_id, grace_ms = ARGV[1], tonumber(ARGV[2])
local kept = {}
for i = 3, #ARGV do kept[ARGV[i]] = true end

local now = now_ms()
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local user_id = all[i]
  local e = decode(all[i + 1])
  if e and e.instances[instance_id] and not kept[user_id] then
    e.instances[instance_id] = nil
    start_grace(e, now + grace_ms)
    redis.call('HSET', KEYS[1], user_id, encode(e))
  end
end
return in_grace()

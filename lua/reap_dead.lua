-- Treats the sockets of every instance whose lease has expired as dropped now: their users
-- start the grace period (and are confirmed by confirm_due unless they come back).
-- KEYS: instance set, grace zset
-- ARGV: key prefix, graceMs, the caller's instanceId (never reaped by itself)
-- Returns the ids of the instances reaped.
local instances_key, grace_key = KEYS[1], KEYS[2]
local prefix, grace_ms, self_id = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local reaped = {}
local now = now_ms()
for _, id in ipairs(redis.call('SMEMBERS', instances_key)) do
  if id ~= self_id and redis.call('EXISTS', prefix .. 'presence:instance:' .. id) == 0 then
    release_instance(prefix, grace_key, id, grace_ms, now, nil)
    redis.call('DEL', instance_rooms_key(prefix, id))
    redis.call('SREM', instances_key, id)
    reaped[#reaped + 1] = id
  end
end
return reaped

-- Renews this instance's lease.
-- KEYS: lease key, instance set
-- ARGV: instanceId, leaseMs
-- Returns 1 when the lease was still held, 0 when it had lapsed (first start, Redis restarted,
-- or this instance was presumed dead): the caller must then write its state back.
local lease_key, instances_key = KEYS[1], KEYS[2]
local instance_id, lease_ms = ARGV[1], ARGV[2]

local held = redis.call('SET', lease_key, '1', 'PX', lease_ms, 'XX')
if held and redis.call('SISMEMBER', instances_key, instance_id) == 1 then return 1 end
redis.call('SET', lease_key, '1', 'PX', lease_ms)
redis.call('SADD', instances_key, instance_id)
return 0

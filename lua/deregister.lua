-- Clean shutdown: this instance's users start their grace period (the rest of the cluster
-- confirms them unless they reconnect elsewhere) and its lease is released.
-- KEYS: grace zset, lease key, instance set
-- ARGV: key prefix, instanceId, graceMs
local grace_key, lease_key, instances_key = KEYS[1], KEYS[2], KEYS[3]
local prefix, instance_id, grace_ms = ARGV[1], ARGV[2], tonumber(ARGV[3])

release_instance(prefix, grace_key, instance_id, grace_ms, now_ms(), nil)
redis.call('DEL', instance_rooms_key(prefix, instance_id), lease_key)
redis.call('SREM', instances_key, instance_id)
return 1

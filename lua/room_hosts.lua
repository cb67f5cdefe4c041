-- The other instances holding a socket in each of the given rooms (after a write-back, so
-- this instance can introduce itself to them).
-- ARGV: key prefix, this instance's id, roomId...
-- Returns { roomId, { instanceId, ... }, roomId, { ... }, ... }
local prefix, self_id = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV do
  local room_id = ARGV[i]
  local hosts, seen = {}, {}
  for _, raw in ipairs(redis.call('HVALS', room_key(prefix, room_id))) do
    local e = decode(raw)
    if e then add_hosts(prefix, e, self_id, hosts, seen) end
  end
  out[#out + 1] = room_id
  out[#out + 1] = hosts
end
return out

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
    if e then
      for id, n in pairs(e.instances) do
        if id ~= self_id and n > 0 and not seen[id] then
          seen[id] = true
          hosts[#hosts + 1] = id
        end
      end
    end
  end
  out[#out + 1] = room_id
  out[#out + 1] = hosts
end
return out

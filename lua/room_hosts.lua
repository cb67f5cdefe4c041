-- The other instances holding a socket in the room (after a write-back, so this instance
-- can introduce itself to them).
-- KEYS: the room's users hash. ARGV: this instance's id.
-- Returns { instanceId, ... } (the caller drops those whose lease has lapsed).
local hosts, seen = {}, {}
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
  local e = decode(raw)
  if e then
    for id, c in pairs(e.instances) do
      if id ~= ARGV[1] and c > 0 and not seen[id] then
        seen[id] = true
        hosts[#hosts + 1] = id
      end
    end
  end
end
return hosts

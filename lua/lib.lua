-- Helpers shared by every room script (prepended to each one when it is loaded).
--
-- A room's state is the hash <prefix>room:<roomId>:users, field = userId, value = JSON:
--   username            display name from the latest join
--   isDisconnectConfirm false while the user is present, true once the departure is confirmed
--   instances           { [instanceId] = number of that instance's sockets joined as this user }
--   graceUntil          Redis time (ms) at which a user with no sockets left is confirmed gone
--
-- Every room script touches only the room's own keys, all passed in KEYS (one hash slot in
-- cluster mode): KEYS[1] its users hash, and where the script needs them KEYS[2] its history
-- and KEYS[3] the history's byte count. The indexes that span rooms (grace deadlines, the
-- rooms of an instance) are kept by the caller around these scripts, in an order that a
-- crash cannot turn into a ghost (see RedisRoomStore).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function decode(raw)
  if not raw then return nil end
  local ok, value = pcall(cjson.decode, raw)
  if not ok or type(value) ~= 'table' then return nil end
  if type(value.instances) ~= 'table' then value.instances = {} end
  return value
end

local function encode(entry)
  -- cjson turns an empty table into {} (an object), which is what we want for instances.
  return cjson.encode(entry)
end

local function connections(entry)
  local n = 0
  for _, c in pairs(entry.instances) do n = n + c end
  return n
end

local function set_connections(entry, instance_id, n)
  if n > 0 then entry.instances[instance_id] = n else entry.instances[instance_id] = nil end
end

-- Starts the grace period of a present user who has no socket left anywhere.
local function start_grace(entry, deadline)
  if entry.isDisconnectConfirm or connections(entry) > 0 or entry.graceUntil then return false end
  entry.graceUntil = deadline
  return true
end

-- Somebody is present: the history (KEYS[2], KEYS[3]) is kept, whatever expiry an empty room gave it.
local function keep_history()
  redis.call('PERSIST', KEYS[2])
  redis.call('PERSIST', KEYS[3])
end

local function anyone_present(key)
  for _, raw in ipairs(redis.call('HVALS', key)) do
    local e = decode(raw)
    if e and not e.isDisconnectConfirm then return true end
  end
  return false
end

-- Marks a departure confirmed; deletes the room once nobody is present in it, and lets its
-- history expire `history_ttl_ms` later.
local function confirm(entry, user_id, history_ttl_ms)
  entry.isDisconnectConfirm = true
  entry.graceUntil = nil
  redis.call('HSET', KEYS[1], user_id, encode(entry))
  if not anyone_present(KEYS[1]) then
    redis.call('DEL', KEYS[1])
    redis.call('PEXPIRE', KEYS[2], history_ttl_ms)
    redis.call('PEXPIRE', KEYS[3], history_ttl_ms)
  end
end

-- 1 when the instance still holds a socket in the room, else 0 (it may leave its room index).
local function still_hosts(instance_id)
  for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
    local e = decode(raw)
    if e and e.instances[instance_id] then return 1 end
  end
  return 0
end

-- The other instances holding a socket in the room: { instanceId, ... }.
local function other_hosts(instance_id)
  local hosts, seen = {}, {}
  for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
    local e = decode(raw)
    if e then
      for id, c in pairs(e.instances) do
        if id ~= instance_id and c > 0 and not seen[id] then
          seen[id] = true
          hosts[#hosts + 1] = id
        end
      end
    end
  end
  return hosts
end

-- The users of the room in their grace period, as a flat list { userId, graceUntil, ... }.
local function in_grace()
  local out = {}
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local e = decode(all[i + 1])
    if e and not e.isDisconnectConfirm and e.graceUntil then
      out[#out + 1] = all[i]
      out[#out + 1] = e.graceUntil
    end
  end
  return out
end

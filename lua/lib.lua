-- Helpers shared by every presence script (prepended to each one when it is loaded).
--
-- A room's state is the hash <prefix>room:<roomId>:users, field = userId, value = JSON:
--   username            display name from the latest join
--   isDisconnectConfirm false while the user is present, true once the departure is confirmed
--   instances           { [instanceId] = number of that instance's sockets joined as this user }
--   graceUntil          Redis time (ms) at which a user with no sockets left is confirmed gone
-- The grace sorted set <prefix>presence:grace holds "<roomId>\n<userId>" scored by graceUntil,
-- so any instance can confirm departures whose instance has died.

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

local function grace_member(room_id, user_id)
  return room_id .. '\n' .. user_id
end

local function room_key(prefix, room_id)
  return prefix .. 'room:' .. room_id .. ':users'
end

local function instance_rooms_key(prefix, instance_id)
  return prefix .. 'presence:instance:' .. instance_id .. ':rooms'
end

-- Adds the live instances (other than self_id) holding a socket of `entry` to the list
-- `hosts`; an instance whose lease has expired is dead and will not answer.
local function add_hosts(prefix, entry, self_id, hosts, seen)
  for id, n in pairs(entry.instances) do
    if id ~= self_id and n > 0 and not seen[id] then
      seen[id] = true
      if redis.call('EXISTS', prefix .. 'presence:instance:' .. id) == 1 then hosts[#hosts + 1] = id end
    end
  end
end

-- Starts the grace period of a present user who has no socket left anywhere.
local function start_grace(entry, grace_key, room_id, user_id, deadline)
  if entry.isDisconnectConfirm or connections(entry) > 0 or entry.graceUntil then return false end
  entry.graceUntil = deadline
  redis.call('ZADD', grace_key, deadline, grace_member(room_id, user_id))
  return true
end

-- The room's message history (a sorted set next to the users hash) and its byte count.
local function history_key(users_key)
  return string.sub(users_key, 1, -7) .. ':history'
end

-- Somebody is present: the history is kept, whatever expiry an empty room gave it.
local function keep_history(users_key)
  local h = history_key(users_key)
  redis.call('PERSIST', h)
  redis.call('PERSIST', h .. ':bytes')
end

-- Nobody is present: the history expires `ttl_ms` from now.
local function expire_history(users_key, ttl_ms)
  local h = history_key(users_key)
  redis.call('PEXPIRE', h, ttl_ms)
  redis.call('PEXPIRE', h .. ':bytes', ttl_ms)
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
local function confirm(entry, key, grace_key, room_id, user_id, history_ttl_ms)
  entry.isDisconnectConfirm = true
  entry.graceUntil = nil
  redis.call('ZREM', grace_key, grace_member(room_id, user_id))
  redis.call('HSET', key, user_id, encode(entry))
  if not anyone_present(key) then
    redis.call('DEL', key)
    expire_history(key, history_ttl_ms)
  end
end

-- Keeps the instance's room index to rooms where it still holds a socket.
local function forget_room_if_unused(key, rooms_key, room_id, instance_id)
  for _, raw in ipairs(redis.call('HVALS', key)) do
    local e = decode(raw)
    if e and e.instances[instance_id] then return end
  end
  redis.call('SREM', rooms_key, room_id)
end

-- Removes an instance's sockets from every room it indexed; users left with no socket
-- start their grace period at `now`. Returns nothing; the grace set drives announcements.
local function release_instance(prefix, grace_key, instance_id, grace_ms, now, keep)
  local rooms_key = instance_rooms_key(prefix, instance_id)
  for _, room_id in ipairs(redis.call('SMEMBERS', rooms_key)) do
    local key = room_key(prefix, room_id)
    local kept = keep and keep[room_id]
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local user_id = all[i]
      local e = decode(all[i + 1])
      if e and e.instances[instance_id] and not (kept and kept[user_id]) then
        e.instances[instance_id] = nil
        start_grace(e, grace_key, room_id, user_id, now + grace_ms)
        redis.call('HSET', key, user_id, encode(e))
      end
    end
    if not kept then redis.call('SREM', rooms_key, room_id) end
  end
end

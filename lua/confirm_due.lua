-- Confirms every departure whose grace period is over, on behalf of whichever instance
-- started it. Atomic, so each departure is confirmed (and announced) by exactly one caller.
-- KEYS: grace zset
-- ARGV: key prefix, max departures to confirm, history TTL (ms) of rooms left empty
-- Returns { roomId, userId, username, ... } of the departures to announce.
local grace_key = KEYS[1]
local prefix, limit, history_ttl_ms = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local out = {}
local due = redis.call('ZRANGEBYSCORE', grace_key, '-inf', now_ms(), 'LIMIT', 0, limit)
for _, member in ipairs(due) do
  redis.call('ZREM', grace_key, member)
  local sep = string.find(member, '\n', 1, true)
  if sep then
    local room_id, user_id = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
    local key = room_key(prefix, room_id)
    local entry = decode(redis.call('HGET', key, user_id))
    if entry and not entry.isDisconnectConfirm and connections(entry) == 0 then
      confirm(entry, key, grace_key, room_id, user_id, history_ttl_ms)
      out[#out + 1] = room_id
      out[#out + 1] = user_id
      out[#out + 1] = entry.username or ''
    end
  end
end
return out

-- Stores and publishes one message of a room served by several instances, so that every
-- instance delivers the room's messages in one order, the history's: Redis runs scripts one
-- at a time and delivers a channel's messages in the order they were published.
-- KEYS: the room's history, its byte count, its users hash.
-- ARGV: threshold, limit, max bytes, retention (ms) (as history_append.lua); the id the
-- sender proposes; the message's stored JSON; the publish command (PUBLISH, or SPUBLISH on a
-- cluster); the channel (on a cluster one per room, in the room's slot; a channel is not a
-- key: declared, it would count as a missing key while the slot migrates, and every call
-- would be refused with TRYAGAIN); the sending socket's id; the room id; the deadline
-- (ms since the epoch, the sender's clock) after which the call must not act.
-- The message gets the proposed id, or, when that would not sort after the newest stored
-- message (another instance's clock is ahead), the next id after it, so ids ascend in the
-- order of delivery. The payload names the newest id stored before it ("prev"), so a
-- subscriber that lost a message in between (a slot moved, a failover) sees the gap and reads
-- it from the history. Returns the id.
local bounds = read_bounds(ARGV)
local id, stored, publish, channel, socket_id, room_id, deadline =
  ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local key, bytes_key, users_key = KEYS[1], KEYS[2], KEYS[3]

-- Ids are "<time, 9 base-36 digits>-<sequence, 4 base-36 digits>-<instance tag>". Compared
-- by their numbers, not as strings: Lua compares strings by the server's locale.
local function parts(message_id)
  return tonumber(string.sub(message_id, 1, 9), 36), tonumber(string.sub(message_id, 11, 14), 36)
end

-- Already stored under the proposed id (a call that ran after its sender had given up on
-- it and stored the message on its fallback path, or one run twice): nothing more to do,
-- and nothing published, so no member gets the message a second time under another id.
if redis.call('ZSCORE', key, id .. '\n' .. stored) then return id end

-- Past its deadline: the sender has given up on this call, or is about to, and delivers and
-- stores the message another way. A call the client sent again after a failover, or one
-- that waited in a frozen server's socket, must not store and publish it a second time.
-- The deadline leaves the sender half its timeout of margin, for the two clocks' skew.
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(deadline) then
  return redis.error_reply('STALE sequenced write reached redis after its deadline (is the redis clock ahead of this instance\'s?)')
end

local prev = ''
local newest = redis.call('ZRANGE', key, -1, -1)[1]
if newest then
  local newest_id = string.sub(newest, 1, (string.find(newest, '\n', 1, true) or (#newest + 1)) - 1)
  prev = newest_id
  local nt, ns = parts(newest_id)
  local pt, ps = parts(id)
  if nt and ns and pt and ps and not (pt > nt or (pt == nt and ps > ns)) then
    -- The newest one's time with the next sequence number, and the sender's tag.
    local digits, n = '', ns + 1
    for _ = 1, 4 do
      local d = n % 36
      digits = string.sub('0123456789abcdefghijklmnopqrstuvwxyz', d + 1, d + 1) .. digits
      n = math.floor(n / 36)
    end
    id = string.sub(newest_id, 1, 9) .. '-' .. digits .. '-' .. string.sub(id, 16)
  end
end

local member = id .. '\n' .. stored
if bounds.limit > 0 then add_to_history(key, bytes_key, users_key, { member }, 1, 1, bounds) end
redis.call(publish, channel, id .. '\n' .. prev .. '\n' .. socket_id .. '\n' .. room_id .. '\n' .. stored)
return id

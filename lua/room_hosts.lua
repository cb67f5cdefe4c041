-- The other instances holding a socket in the room (after a write-back, so this instance
-- can introduce itself to them).
-- KEYS: the room's users hash. ARGV: this instance's id.
-- Returns { instanceId, ... } (the caller drops those whose lease has lapsed).
return other_hosts(ARGV[1])

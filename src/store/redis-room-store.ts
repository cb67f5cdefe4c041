import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.js";
import type { Departure, JoinResult, LocalPresence, PresenceKey, RoomStore, StoredUser } from "./room-store.js";
import { definePresenceScripts } from "./redis-scripts.js";

const toDepartures = (flat: string[]): Departure[] => {
  const out: Departure[] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    out.push({ roomId: flat[i]!, userId: flat[i + 1]!, username: flat[i + 2]! });
  }
  return out;
};

interface StoredValue {
  username?: unknown;
  isDisconnectConfirm?: unknown;
  instances?: unknown;
  graceUntil?: unknown;
}

/** Parses one stored user; values written by someone else are read defensively. */
const parseStored = (userId: string, raw: string): StoredUser => {
  let value: StoredValue = {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === "object") value = parsed as StoredValue;
  } catch {
    // an unreadable value counts as an anonymous, absent user
  }
  const instances = value.instances && typeof value.instances === "object" ? Object.values(value.instances) : [];
  return {
    userId,
    username: typeof value.username === "string" ? value.username : "",
    isDisconnectConfirm: value.isDisconnectConfirm === true,
    connections: instances.reduce<number>((n, c) => n + (typeof c === "number" ? c : 0), 0),
    ...(typeof value.graceUntil === "number" ? { graceUntil: value.graceUntil } : {}),
  };
};

/**
 * Room state and presence in Redis, shared by every instance. Each method is one Lua
 * script (see `lua/`), so every read-modify-write is atomic.
 */
export class RedisRoomStore implements RoomStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** How long a room's history outlives the room once nobody is present. */
    private readonly historyTtlMs: number,
  ) {
    definePresenceScripts(redis);
  }

  async join(p: PresenceKey & { username: string; instanceId: string; connections: number }): Promise<JoinResult> {
    const [kind, flat, remoteHosts] = await this.redis.presenceJoin(
      this.keys.room(p.roomId),
      this.keys.grace,
      this.keys.instanceRooms(p.instanceId),
      p.roomId,
      p.userId,
      p.username,
      p.instanceId,
      p.connections,
    );
    const users = [];
    for (let i = 0; i + 1 < flat.length; i += 2) users.push({ userId: flat[i]!, username: flat[i + 1]! });
    return { kind: kind as JoinResult["kind"], users, remoteHosts };
  }

  async drop(p: PresenceKey & { instanceId: string; connections: number; graceMs: number }): Promise<number | null> {
    const remaining = await this.redis.presenceDrop(
      this.keys.room(p.roomId),
      this.keys.grace,
      this.keys.instanceRooms(p.instanceId),
      p.roomId,
      p.userId,
      p.instanceId,
      p.connections,
      p.graceMs,
    );
    return remaining < 0 ? null : remaining;
  }

  async leave(p: PresenceKey & { instanceId: string; connections: number }): Promise<Departure | null> {
    const [announce, username] = await this.redis.presenceLeave(
      this.keys.room(p.roomId),
      this.keys.grace,
      this.keys.instanceRooms(p.instanceId),
      p.roomId,
      p.userId,
      p.instanceId,
      p.connections,
      this.historyTtlMs,
    );
    return announce === 1 ? { roomId: p.roomId, userId: p.userId, username } : null;
  }

  async confirmDue(limit: number): Promise<Departure[]> {
    return toDepartures(
      await this.redis.presenceConfirmDue(this.keys.grace, this.keys.prefix, limit, this.historyTtlMs),
    );
  }

  async heartbeat(instanceId: string, leaseMs: number): Promise<boolean> {
    const held = await this.redis.presenceHeartbeat(
      this.keys.lease(instanceId),
      this.keys.instances,
      instanceId,
      leaseMs,
    );
    return held === 0;
  }

  async reapDeadInstances(selfId: string, graceMs: number): Promise<string[]> {
    return this.redis.presenceReapDead(this.keys.instances, this.keys.grace, this.keys.prefix, graceMs, selfId);
  }

  /**
   * Writes this instance's view back (see lua/sync.lua). Entries Redis refused are reported
   * to `onFailed` and left out; the rest is written, so one bad entry cannot keep the
   * instance out of shared mode.
   */
  async sync(instanceId: string, users: LocalPresence[], graceMs: number): Promise<Departure[]> {
    const snapshot = users.flatMap((u) => [
      u.roomId,
      u.userId,
      u.username,
      u.connections,
      u.graceRemainingMs ?? graceMs,
    ]);
    const [reconnected, failed] = await this.redis.presenceSync(
      this.keys.grace,
      this.keys.instanceRooms(instanceId),
      this.keys.prefix,
      instanceId,
      graceMs,
      ...snapshot,
    );
    this.onSyncFailures?.(toDepartures(failed).map((f) => ({ roomId: f.roomId, userId: f.userId, error: f.username })));
    return toDepartures(reconnected);
  }

  /** Told after each write-back of the entries it could not store (none: an empty list). */
  onSyncFailures: ((failed: { roomId: string; userId: string; error: string }[]) => void) | undefined;

  async deregister(instanceId: string, graceMs: number): Promise<void> {
    await this.redis.presenceDeregister(
      this.keys.grace,
      this.keys.lease(instanceId),
      this.keys.instances,
      this.keys.prefix,
      instanceId,
      graceMs,
    );
  }

  /** The other instances holding a socket in each room (see lua/room_hosts.lua). */
  async roomHosts(instanceId: string, roomIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (roomIds.length === 0) return out;
    const flat = await this.redis.presenceRoomHosts(this.keys.prefix, instanceId, ...roomIds);
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] as string, flat[i + 1] as string[]);
    return out;
  }

  async roomUsers(roomId: string): Promise<StoredUser[]> {
    const all = await this.redis.hgetall(this.keys.room(roomId));
    return Object.entries(all).map(([userId, raw]) => parseStored(userId, raw));
  }
}

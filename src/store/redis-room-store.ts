import type { RedisClient } from "../redis/connection.js";
import type { RedisKeys } from "../redis/keys.js";
import type { Departure, JoinResult, LocalPresence, PresenceKey, RoomStore, StoredUser } from "./room-store.js";
import { definePresenceScripts } from "./redis-scripts.js";
import { InFlight } from "../in-flight.js";

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

/** A grace index member: "<roomId>\n<userId>" (a room id holds no control character). */
const graceMember = (roomId: string, userId: string) => `${roomId}\n${userId}`;

/** An instance's join to a room, as {@link RedisRoomStore}'s joins on their way are counted. */
const joinKey = (instanceId: string, roomId: string) => `${instanceId}\n${roomId}`;

/** A user a write-back could not store, and Redis's reason. */
export interface SyncFailure {
  roomId: string;
  userId: string;
  error: string;
}

/** True for an error Redis answered about the request itself (a key of another type). */
const refusedByRedis = (err: unknown): err is Error => err instanceof Error && err.name === "ReplyError";

/**
 * Room state and presence in Redis, shared by every instance, on a single node or a Redis
 * Cluster alike.
 *
 * Each change to a room is one Lua script on that room's keys (lua/room_*.lua), so every
 * read-modify-write of a room is atomic and, in cluster mode, touches one slot. The indexes
 * that span rooms are kept around those scripts by separate commands, ordered so that a
 * crash between two of them can leave a stale index entry but never a ghost:
 * - an instance's room index gets the room before the instance's sockets are recorded in
 *   it, and loses it only after they are gone from it, their departures are indexed and no
 *   join of the instance to the room is on its way, so the reaper of a dead instance always
 *   finds every room it held;
 * - the grace index gets a departure after the room script set its deadline; a release
 *   (reap, shutdown, write-back) re-reports every user in grace in the room, so a deadline
 *   lost with its instance is indexed again by whoever reaps it;
 * - the sweep re-checks every due entry against its room (lua/room_confirm.lua) and removes
 *   an entry only if it was not indexed anew meanwhile: stale entries cost one check.
 */
export class RedisRoomStore implements RoomStore {
  /** Joins between their index entry and their room script's answer, by {@link joinKey}. */
  private readonly joinsInFlight = new InFlight();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    /** How long a room's history outlives the room once nobody is present. */
    private readonly historyTtlMs: number,
    /** Told after each write-back of the entries it could not store (none: an empty list). */
    private readonly onSyncFailures: (failed: SyncFailure[]) => void = () => {},
  ) {
    definePresenceScripts(redis);
  }

  /** The three keys of a room its scripts touch: users, history, history byte count. */
  private roomKeys(roomId: string): [string, string, string] {
    return [this.keys.room(roomId), this.keys.history(roomId), this.keys.historyBytes(roomId)];
  }

  async join(p: PresenceKey & { username: string; instanceId: string; connections: number }): Promise<JoinResult> {
    const inFlight = joinKey(p.instanceId, p.roomId);
    this.joinsInFlight.begin(inFlight);
    let reply: [string, string[], string[]];
    try {
      // Indexed first: if this instance dies after the room script, its reaper finds the room.
      await this.redis.sadd(this.keys.instanceRooms(p.instanceId), p.roomId);
      reply = await this.redis.roomJoin(...this.roomKeys(p.roomId), p.userId, p.username, p.instanceId, p.connections);
    } finally {
      this.joinsInFlight.end(inFlight);
    }
    const [kind, flat, hosts] = reply;
    const users = [];
    for (let i = 0; i + 1 < flat.length; i += 2) users.push({ userId: flat[i]!, username: flat[i + 1]! });
    // A departure of this user still in the grace index is stale now: the sweep drops it.
    return { kind: kind as JoinResult["kind"], users, remoteHosts: await this.alive(hosts) };
  }

  async drop(p: PresenceKey & { instanceId: string; connections: number; graceMs: number }): Promise<number | null> {
    const [deadline, remaining, stillHosts] = await this.redis.roomDrop(
      this.keys.room(p.roomId),
      p.userId,
      p.instanceId,
      p.connections,
      p.graceMs,
    );
    if (deadline >= 0) await this.redis.zadd(this.keys.grace(p.roomId), deadline, graceMember(p.roomId, p.userId));
    if (stillHosts === 0) await this.unindex(p.instanceId, p.roomId);
    return remaining < 0 ? null : remaining;
  }

  async leave(p: PresenceKey & { instanceId: string; connections: number }): Promise<Departure | null> {
    const [announce, username, stillHosts] = await this.redis.roomLeave(
      ...this.roomKeys(p.roomId),
      p.userId,
      p.instanceId,
      p.connections,
      this.historyTtlMs,
    );
    if (stillHosts === 0) await this.unindex(p.instanceId, p.roomId);
    return announce === 1 ? { roomId: p.roomId, userId: p.userId, username } : null;
  }

  /**
   * Takes a room out of the instance's index after a script found the instance holds nobody
   * there, unless a join of this instance to the room is on its way: that join's index entry
   * may already be in (its script runs after the one that answered here), and removing it
   * would leave the joiner where no reaper looks. The entry then stays, stale at worst.
   */
  private async unindex(instanceId: string, roomId: string): Promise<void> {
    if (this.joinsInFlight.has(joinKey(instanceId, roomId))) return;
    await this.redis.srem(this.keys.instanceRooms(instanceId), roomId);
  }

  /**
   * Confirms the due departures of every grace shard, each checked against its room (see the
   * class comment). Concurrent sweepers may find the same entry; its room confirms it once.
   */
  async confirmDue(instanceId: string, limit: number, lateMs = 0): Promise<Departure[]> {
    const perShard = await Promise.all(
      this.keys.graceShards.map(async (shard) => {
        const due = await this.redis.graceDue(shard, limit, lateMs);
        const out: Departure[] = [];
        await Promise.all(
          pairs(due).map(async ([member, score]) => {
            const departure = await this.confirmOne(instanceId, shard, member, Number(score));
            if (departure) out.push(departure);
          }),
        );
        return out;
      }),
    );
    return perShard.flat();
  }

  private async confirmOne(
    instanceId: string,
    shard: string,
    member: string,
    score: number,
  ): Promise<Departure | undefined> {
    const sep = member.indexOf("\n");
    if (sep < 0) {
      await this.redis.graceForget(shard, member, score);
      return undefined;
    }
    const roomId = member.slice(0, sep);
    const userId = member.slice(sep + 1);
    const [verdict, detail, elsewhere] = await this.redis.roomConfirm(
      ...this.roomKeys(roomId),
      userId,
      this.historyTtlMs,
      instanceId,
    );
    if (verdict === "later") {
      await this.redis.zadd(shard, Number(detail), member);
      return undefined;
    }
    await this.redis.graceForget(shard, member, score);
    if (verdict !== "confirmed") return undefined;
    return { roomId, userId, username: String(detail ?? ""), hostedElsewhere: elsewhere === 1 };
  }

  async heartbeat(instanceId: string, leaseMs: number): Promise<boolean> {
    const lease = this.keys.lease(instanceId);
    const held = await this.redis.set(lease, "1", "PX", leaseMs, "XX");
    if (held !== null && (await this.redis.sismember(this.keys.instances, instanceId)) === 1) return false;
    // Registered before the lease: an instance that dies in between is reaped, never forgotten.
    await this.redis.sadd(this.keys.instances, instanceId);
    await this.redis.set(lease, "1", "PX", leaseMs);
    return true;
  }

  async reapDeadInstances(selfId: string, graceMs: number): Promise<string[]> {
    const reaped: string[] = [];
    for (const id of await this.redis.smembers(this.keys.instances)) {
      if (id === selfId || (await this.redis.exists(this.keys.lease(id))) === 1) continue;
      await this.release(id, graceMs);
      await this.redis.del(this.keys.instanceRooms(id));
      await this.redis.srem(this.keys.instances, id);
      reaped.push(id);
    }
    return reaped;
  }

  /**
   * Removes an instance's sockets from the rooms of its index, but those of `keep` (room →
   * users it still holds there); their users start the grace period, and every user in
   * grace in those rooms is (re)indexed before the room leaves the instance's index.
   * Rooms Redis refuses (a key of another type) are skipped.
   */
  private async release(instanceId: string, graceMs: number, keep?: Map<string, string[]>): Promise<void> {
    const roomsKey = this.keys.instanceRooms(instanceId);
    const rooms = await this.redis.smembers(roomsKey);
    await Promise.all(
      rooms.map(async (roomId) => {
        const kept = keep?.get(roomId);
        try {
          const inGrace = await this.redis.roomRelease(this.keys.room(roomId), instanceId, graceMs, ...(kept ?? []));
          await this.indexGrace(roomId, pairs(inGrace));
        } catch (err) {
          if (!refusedByRedis(err)) throw err;
        }
        if (!kept) await this.redis.srem(roomsKey, roomId);
      }),
    );
  }

  private async indexGrace(roomId: string, users: [string | number, string | number][]): Promise<void> {
    if (users.length === 0) return;
    const scoresAndMembers = users.flatMap(([userId, deadline]) => [deadline, graceMember(roomId, String(userId))]);
    await this.redis.zadd(this.keys.grace(roomId), ...scoresAndMembers);
  }

  /**
   * Writes this instance's view back, user by user (lua/room_restore.lua), then releases what
   * Redis records of this instance beyond it. Users Redis refused (a key of another type)
   * are reported to `onSyncFailures` and left out; the rest is written, so one bad entry
   * cannot keep the instance out of shared mode.
   */
  async sync(instanceId: string, users: LocalPresence[], graceMs: number): Promise<Departure[]> {
    const reconnected: Departure[] = [];
    const failed: SyncFailure[] = [];
    const keep = new Map<string, string[]>();
    for (const u of users) {
      if (u.connections > 0) (keep.get(u.roomId) ?? keep.set(u.roomId, []).get(u.roomId)!).push(u.userId);
    }
    const roomsKey = this.keys.instanceRooms(instanceId);
    if (keep.size > 0) await this.redis.sadd(roomsKey, ...keep.keys());
    await Promise.all(
      users.map(async (u) => {
        try {
          const [wasConfirmed, deadline] = await this.redis.roomRestore(
            ...this.roomKeys(u.roomId),
            u.userId,
            u.username,
            u.connections,
            u.graceRemainingMs ?? graceMs,
            instanceId,
          );
          if (deadline >= 0) await this.indexGrace(u.roomId, [[u.userId, deadline]]);
          if (wasConfirmed === 1) reconnected.push({ roomId: u.roomId, userId: u.userId, username: u.username });
        } catch (err) {
          if (!refusedByRedis(err)) throw err;
          failed.push({ roomId: u.roomId, userId: u.userId, error: err.message });
        }
      }),
    );
    await this.release(instanceId, graceMs, keep);
    this.onSyncFailures(failed);
    return reconnected;
  }

  async deregister(instanceId: string, graceMs: number): Promise<void> {
    await this.release(instanceId, graceMs);
    await this.redis.del(this.keys.instanceRooms(instanceId), this.keys.lease(instanceId));
    await this.redis.srem(this.keys.instances, instanceId);
  }

  /** The other live instances holding a socket in each room (see lua/room_hosts.lua). */
  async roomHosts(instanceId: string, roomIds: string[]): Promise<Map<string, string[]>> {
    const hosts = await Promise.all(
      roomIds.map(async (roomId) => this.alive(await this.redis.roomHosts(this.keys.room(roomId), instanceId))),
    );
    return new Map(roomIds.map((roomId, i) => [roomId, hosts[i]!]));
  }

  /** The instances of `ids` whose lease is held: a dead one would never answer. */
  private async alive(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return ids;
    const held = await Promise.all(ids.map((id) => this.redis.exists(this.keys.lease(id))));
    return ids.filter((_, i) => held[i] === 1);
  }

  async roomUsers(roomId: string): Promise<StoredUser[]> {
    const all = await this.redis.hgetall(this.keys.room(roomId));
    return Object.entries(all).map(([userId, raw]) => parseStored(userId, raw));
  }
}

/** [a, b, c, d, ...] → [[a, b], [c, d], ...] (Redis's flat replies). */
function pairs<T>(flat: T[]): [T, T][] {
  const out: [T, T][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

import type { Departure, JoinResult, LocalPresence, PresenceKey, RoomStore, StoredUser } from "./room-store.js";

interface Entry {
  username: string;
  isDisconnectConfirm: boolean;
  instances: Map<string, number>;
  graceUntil?: number;
}

const connectionsOf = (entry: Entry): number => {
  let n = 0;
  for (const c of entry.instances.values()) n += c;
  return n;
};

const setConnections = (entry: Entry, instanceId: string, n: number): void => {
  if (n > 0) entry.instances.set(instanceId, n);
  else entry.instances.delete(instanceId);
};

/**
 * Room state in this process's memory: the store of a single instance, and the fallback
 * while Redis is unreachable. Same semantics as the Redis store (one contract suite runs
 * against both); there are no other instances, so leases and reaping are no-ops.
 */
export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, Map<string, Entry>>();

  constructor(private readonly now: () => number = Date.now) {}

  async join(p: PresenceKey & { username: string; instanceId: string; connections: number }): Promise<JoinResult> {
    const room = this.room(p.roomId);
    let entry = room.get(p.userId);
    let kind: JoinResult["kind"] = "rejoin";
    if (!entry) {
      kind = "connect";
      entry = { username: p.username, isDisconnectConfirm: false, instances: new Map() };
      room.set(p.userId, entry);
    } else if (entry.isDisconnectConfirm) {
      kind = "reconnect";
    }
    entry.username = p.username;
    entry.isDisconnectConfirm = false;
    delete entry.graceUntil;
    setConnections(entry, p.instanceId, p.connections);
    const users = [...room]
      .filter(([userId, e]) => userId !== p.userId && !e.isDisconnectConfirm)
      .map(([userId, e]) => ({ userId, username: e.username }));
    return { kind, users };
  }

  async drop(p: PresenceKey & { instanceId: string; connections: number; graceMs: number }): Promise<number | null> {
    const entry = this.rooms.get(p.roomId)?.get(p.userId);
    if (!entry) return null;
    setConnections(entry, p.instanceId, p.connections);
    const now = this.now();
    this.startGrace(entry, now + p.graceMs);
    if (entry.isDisconnectConfirm || entry.graceUntil === undefined) return null;
    return Math.max(0, entry.graceUntil - now);
  }

  async leave(p: PresenceKey & { instanceId: string; connections: number }): Promise<Departure | null> {
    const entry = this.rooms.get(p.roomId)?.get(p.userId);
    if (!entry || entry.isDisconnectConfirm) return null;
    setConnections(entry, p.instanceId, p.connections);
    if (connectionsOf(entry) > 0) return null;
    this.confirm(p.roomId, entry);
    return { roomId: p.roomId, userId: p.userId, username: entry.username };
  }

  async confirmDue(_instanceId: string, limit: number, lateMs = 0): Promise<Departure[]> {
    const now = this.now() - lateMs;
    const due: Departure[] = [];
    for (const [roomId, room] of this.rooms) {
      for (const [userId, entry] of room) {
        if (due.length >= limit) return due;
        if (entry.graceUntil === undefined || entry.graceUntil > now) continue;
        if (entry.isDisconnectConfirm || connectionsOf(entry) > 0) continue;
        this.confirm(roomId, entry);
        due.push({ roomId, userId, username: entry.username });
      }
    }
    return due;
  }

  async heartbeat(): Promise<boolean> {
    return false;
  }

  async reapDeadInstances(): Promise<string[]> {
    return [];
  }

  async sync(instanceId: string, users: LocalPresence[], graceMs: number): Promise<Departure[]> {
    const now = this.now();
    const reconnected: Departure[] = [];
    const kept = new Set<string>();
    for (const u of users) {
      const room = this.room(u.roomId);
      let entry = room.get(u.userId);
      if (u.connections > 0) {
        if (!entry) {
          entry = { username: u.username, isDisconnectConfirm: false, instances: new Map() };
          room.set(u.userId, entry);
        } else if (entry.isDisconnectConfirm) {
          reconnected.push({ roomId: u.roomId, userId: u.userId, username: u.username });
        }
        entry.username = u.username;
        entry.isDisconnectConfirm = false;
        delete entry.graceUntil;
        setConnections(entry, instanceId, u.connections);
        kept.add(`${u.roomId}\n${u.userId}`);
      } else {
        if (!entry) {
          entry = { username: u.username, isDisconnectConfirm: false, instances: new Map() };
          room.set(u.userId, entry);
        }
        if (!entry.isDisconnectConfirm) {
          setConnections(entry, instanceId, 0);
          this.startGrace(entry, now + (u.graceRemainingMs ?? graceMs));
        }
      }
    }
    this.release(instanceId, now + graceMs, kept);
    return reconnected;
  }

  async deregister(instanceId: string, graceMs: number): Promise<void> {
    this.release(instanceId, this.now() + graceMs, new Set());
  }

  async roomHosts(_instanceId: string, roomIds: string[]): Promise<Map<string, string[]>> {
    return new Map(roomIds.map((roomId) => [roomId, []]));
  }

  async roomUsers(roomId: string): Promise<StoredUser[]> {
    return [...(this.rooms.get(roomId) ?? [])].map(([userId, e]) => ({
      userId,
      username: e.username,
      isDisconnectConfirm: e.isDisconnectConfirm,
      connections: connectionsOf(e),
      ...(e.graceUntil === undefined ? {} : { graceUntil: e.graceUntil }),
    }));
  }

  /** Forgets everything (used when this store takes over from Redis and is reloaded). */
  clear(): void {
    this.rooms.clear();
  }

  private room(roomId: string): Map<string, Entry> {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new Map();
      this.rooms.set(roomId, room);
    }
    return room;
  }

  private startGrace(entry: Entry, deadline: number): void {
    if (entry.isDisconnectConfirm || connectionsOf(entry) > 0 || entry.graceUntil !== undefined) return;
    entry.graceUntil = deadline;
  }

  private confirm(roomId: string, entry: Entry): void {
    entry.isDisconnectConfirm = true;
    delete entry.graceUntil;
    const room = this.rooms.get(roomId);
    if (room && ![...room.values()].some((e) => !e.isDisconnectConfirm)) this.rooms.delete(roomId);
  }

  private release(instanceId: string, deadline: number, kept: Set<string>): void {
    for (const [roomId, room] of this.rooms) {
      for (const [userId, entry] of room) {
        if (!entry.instances.has(instanceId) || kept.has(`${roomId}\n${userId}`)) continue;
        entry.instances.delete(instanceId);
        this.startGrace(entry, deadline);
      }
    }
  }
}

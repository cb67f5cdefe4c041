import type { LocalPresence } from "../store/room-store.js";

interface LocalUser {
  username: string;
  sockets: Set<string>;
  /** Set while the user has no socket here and their grace period runs. */
  graceDeadline?: number;
  graceTimer?: NodeJS.Timeout;
}

/**
 * This instance's own sockets, by room and user: the ground truth it writes back to Redis.
 * A user stays here with no socket during their grace period.
 */
export class LocalRegistry {
  private readonly rooms = new Map<string, Map<string, LocalUser>>();

  /** Adds a socket; returns the user's socket count here. Cancels a running grace timer. */
  add(roomId: string, userId: string, username: string, socketId: string): number {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = new Map();
      this.rooms.set(roomId, room);
    }
    let user = room.get(userId);
    if (!user) {
      user = { username, sockets: new Set() };
      room.set(userId, user);
    }
    user.username = username;
    user.sockets.add(socketId);
    this.clearGrace(user);
    return user.sockets.size;
  }

  /** Removes a socket; returns the user's socket count left here (the user is kept). */
  remove(roomId: string, userId: string, socketId: string): number {
    const user = this.rooms.get(roomId)?.get(userId);
    if (!user) return 0;
    user.sockets.delete(socketId);
    return user.sockets.size;
  }

  /** Starts tracking a grace period for a user with no socket left. */
  startGrace(roomId: string, userId: string, remainingMs: number, onDue: () => void): void {
    const user = this.rooms.get(roomId)?.get(userId);
    if (!user || user.sockets.size > 0) return;
    this.clearGrace(user);
    user.graceDeadline = Date.now() + remainingMs;
    user.graceTimer = setTimeout(onDue, remainingMs);
  }

  /** Forgets a user who has no socket here (their departure is settled). */
  forgetIfIdle(roomId: string, userId: string): void {
    const room = this.rooms.get(roomId);
    const user = room?.get(userId);
    if (!room || !user || user.sockets.size > 0) return;
    this.clearGrace(user);
    room.delete(userId);
    if (room.size === 0) this.rooms.delete(roomId);
  }

  /** Whether this instance holds anybody (connected or in grace) in the room. */
  hasRoom(roomId: string): boolean {
    return this.rooms.has(roomId);
  }

  /** This instance's users, as {@link RoomStore.sync} takes them. */
  snapshot(): LocalPresence[] {
    const now = Date.now();
    const out: LocalPresence[] = [];
    for (const [roomId, room] of this.rooms) {
      for (const [userId, user] of room) {
        out.push({
          roomId,
          userId,
          username: user.username,
          connections: user.sockets.size,
          ...(user.sockets.size === 0 && user.graceDeadline !== undefined
            ? { graceRemainingMs: Math.max(0, user.graceDeadline - now) }
            : {}),
        });
      }
    }
    return out;
  }

  /** Number of rooms and users held here. */
  get size(): { rooms: number; users: number } {
    let users = 0;
    for (const room of this.rooms.values()) users += room.size;
    return { rooms: this.rooms.size, users };
  }

  /** Stops every grace timer and forgets everything. */
  clear(): void {
    for (const room of this.rooms.values()) for (const user of room.values()) this.clearGrace(user);
    this.rooms.clear();
  }

  private clearGrace(user: LocalUser): void {
    if (user.graceTimer) clearTimeout(user.graceTimer);
    delete user.graceTimer;
    delete user.graceDeadline;
  }
}

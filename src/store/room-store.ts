import type { UserRef } from "../../client/dist/protocol.js";

/** A user as other members see them. */
export type { UserRef };

/** Identifies one user's presence in one room. */
export interface PresenceKey {
  roomId: string;
  userId: string;
}

/**
 * What a join means to the rest of the room:
 * - `connect`: the user is new to the room;
 * - `reconnect`: the user's departure had been confirmed and they are back;
 * - `rejoin`: the user never stopped being present (another tab, or back within the grace period).
 */
export type JoinKind = "connect" | "reconnect" | "rejoin";

export interface JoinResult {
  kind: JoinKind;
  /** The other users present in the room, those in their grace period included. */
  users: UserRef[];
  /**
   * The other instances holding a socket in the room, as the shared store knows them;
   * undefined when the answer came from this instance's memory (unknown).
   */
  remoteHosts?: string[];
}

/** A departure the caller must announce to the room. */
export interface Departure extends PresenceKey {
  username: string;
  /**
   * Whether an instance other than the confirming one held a socket in the room when the
   * shared store confirmed the departure; undefined when unknown (then the notice is
   * published, in case). False spares the publish: a mass disconnect's rooms are empty.
   */
  hostedElsewhere?: boolean;
}

/** One user of this instance, as written back by {@link RoomStore.sync}. */
export interface LocalPresence extends PresenceKey {
  username: string;
  /** This instance's sockets joined as the user; 0 = dropped here, in its grace period. */
  connections: number;
  /** For `connections === 0`: ms left of the grace period. */
  graceRemainingMs?: number;
}

/**
 * Shared room state and cluster-wide presence.
 *
 * A user is present in a room while any instance holds one of their sockets there, and for
 * the grace period after the last one drops. Every method is one atomic step, so concurrent
 * calls from several instances never interleave into a wrong announcement. Each instance
 * passes its own count of the user's sockets (absolute, not a delta), so a retried or
 * replayed call is harmless.
 */
export interface RoomStore {
  /** A socket joined; `connections` = this instance's sockets of the user in the room. */
  join(key: PresenceKey & { username: string; instanceId: string; connections: number }): Promise<JoinResult>;
  /**
   * A socket dropped. When the user has no socket left anywhere, the grace period starts.
   * @returns ms until the departure is due, or null when the user is still connected.
   */
  drop(key: PresenceKey & { instanceId: string; connections: number; graceMs: number }): Promise<number | null>;
  /**
   * A socket left on purpose. When the user has no socket left anywhere, the departure is
   * confirmed at once and returned for announcement.
   */
  leave(key: PresenceKey & { instanceId: string; connections: number }): Promise<Departure | null>;
  /**
   * Confirms, for `instanceId`, every departure whose grace period ended at least `lateMs`
   * ago (0: is over); each is returned to exactly one caller.
   */
  confirmDue(instanceId: string, limit: number, lateMs?: number): Promise<Departure[]>;
  /** Renews the instance's lease; true when it had lapsed and the instance must {@link sync}. */
  heartbeat(instanceId: string, leaseMs: number): Promise<boolean>;
  /** Users of instances whose lease expired are treated as dropped now; returns their ids. */
  reapDeadInstances(selfId: string, graceMs: number): Promise<string[]>;
  /**
   * Makes the store's record of this instance equal `users`; returns users whose departure
   * had been confirmed meanwhile and who must be announced as reconnected.
   */
  sync(instanceId: string, users: LocalPresence[], graceMs: number): Promise<Departure[]>;
  /** Clean shutdown: the instance's users start their grace period and its lease is released. */
  deregister(instanceId: string, graceMs: number): Promise<void>;
  /** The users recorded in a room (for diagnostics and tests). */
  roomUsers(roomId: string): Promise<StoredUser[]>;
  /** The other live instances holding a socket in each room (none for a store of one instance). */
  roomHosts(instanceId: string, roomIds: string[]): Promise<Map<string, string[]>>;
}

/** A room member as stored. */
export interface StoredUser extends UserRef {
  isDisconnectConfirm: boolean;
  connections: number;
  graceUntil?: number;
}

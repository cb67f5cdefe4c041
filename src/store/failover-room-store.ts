import type { Logger } from "../logger.js";
import { retryingRoutingRace } from "../redis/routing-race.js";
import type { MemoryRoomStore } from "./memory-room-store.js";
import type { Departure, JoinResult, LocalPresence, PresenceKey, RoomStore, StoredUser } from "./room-store.js";

export type StoreMode = "shared" | "memory";

/** Replies that mean Redis cannot serve now (a cluster failing over, a node loading), not that the request was wrong. */
const UNAVAILABLE = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY|BUSY)\b/;

/**
 * True for an error Redis answered about the request (a script or command refused: a key of
 * another type, a bad argument), as opposed to Redis being away (connection lost, timeout,
 * a cluster without a master for the slot). Only the latter means memory mode: one room's
 * bad key must not cut the instance off the cluster.
 */
const answeredByRedis = (err: unknown): boolean =>
  err instanceof Error && err.name === "ReplyError" && !UNAVAILABLE.test(err.message);

/** A change held back by a write-back that ended in memory mode: answered from memory. */
const NOT_SENT = Symbol("not sent");

/**
 * Redis while it answers, memory while it does not.
 *
 * Every change this instance makes is applied to the memory store as well, so when Redis
 * is lost the memory store already holds this instance's rooms and serves them at once.
 * When Redis answers again, this instance's view is written back ({@link RoomStore.sync})
 * before any later change is sent, and the shared mode resumes by itself. A write-back takes
 * several round trips (index, users, release); changes made while it runs are held until it
 * is done, so none lands between its steps (a leave undone by the user's restore, a join
 * released as if it had not happened).
 */
export class FailoverRoomStore implements RoomStore {
  private currentMode: StoreMode;
  /** Why the last attempt to return to shared mode failed although Redis answered (for /ready). */
  lastRecoveryError: string | undefined;
  /** Set when the Redis found cannot be used at all (see {@link refuseShared}). */
  refusal: string | undefined;
  /** Settles when the write-back under way is done; undefined when none is. */
  private writeBackDone: Promise<void> | undefined;

  constructor(
    private readonly redis: RoomStore,
    private readonly memory: MemoryRoomStore,
    private readonly options: {
      instanceId: string;
      graceMs: number;
      leaseMs: number;
      /** This instance's users right now (the source of truth for write-back). */
      snapshot: () => LocalPresence[];
      logger: Logger;
    },
    initialMode: StoreMode,
  ) {
    this.currentMode = initialMode;
  }

  get mode(): StoreMode {
    return this.currentMode;
  }

  private readonly modeListeners: ((mode: StoreMode) => void)[] = [];

  /** Calls `listener` at every switch to memory mode and back to shared mode. */
  onModeChange(listener: (mode: StoreMode) => void): void {
    this.modeListeners.push(listener);
  }

  /** Switches to memory mode (idempotent), e.g. when the Redis connection closes. */
  enterMemoryMode(reason: unknown): void {
    if (this.currentMode === "memory") return;
    this.currentMode = "memory";
    this.options.logger.warn(
      { err: reason instanceof Error ? reason.message : String(reason) },
      "redis unavailable: serving rooms from memory until it is back",
    );
    this.modeListeners.forEach((l) => l("memory"));
  }

  /**
   * Never enters shared mode: the Redis answering is one this service cannot use (a Redis
   * Cluster). Said once, at error level, and shown by /ready, never silent.
   */
  refuseShared(reason: string): void {
    this.refusal = reason;
    this.options.logger.error({ reason }, "redis cannot be used: serving from memory");
    if (this.currentMode === "shared") this.enterMemoryMode(reason);
  }

  /**
   * In memory mode, tries Redis once: when it answers, writes this instance's state back and
   * returns to shared mode. Returns the users to announce as reconnected, or null when Redis
   * is still away (or the store was already shared).
   */
  async recover(): Promise<Departure[] | null> {
    if (this.currentMode === "shared" || this.refusal !== undefined) return null;
    try {
      await retryingRoutingRace(() => this.redis.heartbeat(this.options.instanceId, this.options.leaseMs));
      // The snapshot is taken and written back before any later change is sent, so nothing is lost.
      const users = this.options.snapshot();
      this.currentMode = "shared";
      const reconnected = await this.writingBack(() =>
        retryingRoutingRace(() => this.redis.sync(this.options.instanceId, users, this.options.graceMs)),
      );
      this.options.logger.info({ restored: users.length }, "shared mode: room state written to redis");
      this.lastRecoveryError = undefined;
      this.modeListeners.forEach((l) => l("shared"));
      return reconnected;
    } catch (err) {
      this.currentMode = "memory";
      const message = (err as Error).message;
      if (answeredByRedis(err)) {
        // Redis is there but refused the write-back: say so (once per distinct error); the
        // next heartbeat tries again.
        if (message !== this.lastRecoveryError) {
          this.options.logger.warn({ err: message }, "write-back to redis failed: still serving from memory, retrying");
        }
        this.lastRecoveryError = message;
      } else {
        this.options.logger.debug({ err: message }, "redis still unavailable");
      }
      return null;
    }
  }

  join(p: PresenceKey & { username: string; instanceId: string; connections: number }): Promise<JoinResult> {
    return this.both((s) => s.join(p));
  }

  drop(p: PresenceKey & { instanceId: string; connections: number; graceMs: number }): Promise<number | null> {
    return this.both((s) => s.drop(p));
  }

  leave(p: PresenceKey & { instanceId: string; connections: number }): Promise<Departure | null> {
    return this.both((s) => s.leave(p));
  }

  async confirmDue(instanceId: string, limit: number, lateMs = 0): Promise<Departure[]> {
    // The memory copy expires its own graces silently while Redis is the authority.
    return this.both((s) => s.confirmDue(instanceId, limit, lateMs));
  }

  heartbeat(instanceId: string, leaseMs: number): Promise<boolean> {
    return this.sharedOnly((s) => s.heartbeat(instanceId, leaseMs), false);
  }

  reapDeadInstances(selfId: string, graceMs: number): Promise<string[]> {
    return this.sharedOnly((s) => s.reapDeadInstances(selfId, graceMs), []);
  }

  sync(instanceId: string, users: LocalPresence[], graceMs: number): Promise<Departure[]> {
    return this.writingBack(() => this.sharedOnly((s) => s.sync(instanceId, users, graceMs), []));
  }

  /** Runs a write-back; changes made meanwhile are sent after it (see {@link both}). */
  private async writingBack<T>(run: () => Promise<T>): Promise<T> {
    const result = run();
    const done = result.then(
      () => {},
      () => {},
    );
    this.writeBackDone = done;
    try {
      return await result;
    } finally {
      if (this.writeBackDone === done) this.writeBackDone = undefined;
    }
  }

  async deregister(instanceId: string, graceMs: number): Promise<void> {
    await this.memory.deregister(instanceId, graceMs);
    await this.sharedOnly((s) => s.deregister(instanceId, graceMs), undefined);
  }

  roomHosts(instanceId: string, roomIds: string[]): Promise<Map<string, string[]>> {
    return this.sharedOnly((s) => s.roomHosts(instanceId, roomIds), new Map());
  }

  roomUsers(roomId: string): Promise<StoredUser[]> {
    return this.currentMode === "shared"
      ? retryingRoutingRace(() => this.redis.roomUsers(roomId))
      : this.memory.roomUsers(roomId);
  }

  /** Applies a change to both stores; answers from Redis while it is up, else from memory. */
  private async both<T>(op: (store: RoomStore) => Promise<T>): Promise<T> {
    // Redis first, so its commands leave in the order the changes happened.
    const remote = this.currentMode === "shared" ? this.toRedis(op) : undefined;
    const local = op(this.memory);
    if (remote) {
      try {
        const answer = await remote;
        if (answer !== NOT_SENT) return answer;
      } catch (err) {
        if (answeredByRedis(err)) {
          // This change alone failed; the memory copy holds it and answers.
          this.options.logger.warn(
            { err: (err as Error).message },
            "redis refused a room change: answered from memory",
          );
        } else {
          this.enterMemoryMode(err);
        }
      }
    }
    return local;
  }

  /**
   * Sends a change to Redis: at once (before this returns), or, during a write-back, after it
   * and in the order the changes came (each waits on the one promise); not at all when the
   * write-back ended in memory mode.
   */
  private async toRedis<T>(op: (store: RoomStore) => Promise<T>): Promise<T | typeof NOT_SENT> {
    if (this.writeBackDone) {
      await this.writeBackDone;
      if (this.currentMode !== "shared") return NOT_SENT;
    }
    return retryingRoutingRace(() => op(this.redis));
  }

  private async sharedOnly<T>(op: (store: RoomStore) => Promise<T>, fallback: T): Promise<T> {
    if (this.currentMode !== "shared") return fallback;
    try {
      return await retryingRoutingRace(() => op(this.redis));
    } catch (err) {
      if (answeredByRedis(err))
        this.options.logger.warn({ err: (err as Error).message }, "redis refused a presence operation");
      else this.enterMemoryMode(err);
      return fallback;
    }
  }
}

import type { Logger } from "../logger.js";
import type { FailoverRoomStore } from "../store/failover-room-store.js";
import type { Departure, JoinResult } from "../store/room-store.js";
import type { LocalRegistry } from "./local-registry.js";

export interface PresenceOptions {
  instanceId: string;
  graceMs: number;
  leaseMs: number;
  sweepMs: number;
}

/**
 * How late a departure is before the sweep confirms it. The instance that dropped the user
 * confirms it at its deadline, by its own timer, and ends the user's typing after the notice
 * (its typing state lives there); the sweeps of every instance take over only when that one
 * is late by this much (stalled, or dead and reaped), so they do not race it for every
 * departure: a quarter of the grace period, at least two sweeps, at most a second.
 */
const sweepTakeoverMs = (graceMs: number, sweepMs: number) => Math.min(1000, Math.max(2 * sweepMs, graceMs / 4));

/** Most departures confirmed per sweep round trip. */
const CONFIRM_BATCH = 200;

/**
 * Cluster-wide presence for this instance's sockets.
 *
 * Each change is recorded locally first (synchronously, in event order) and then sent to the
 * store, so the store sees changes in the order they happened. A dropped user's departure is
 * confirmed when its grace period ends: by this instance's timer, or by any instance's sweep
 * when this one is gone. A lease, renewed by the heartbeat, tells the others this instance is
 * alive; instances whose lease expired are reaped by the sweep.
 */
export class PresenceService {
  private sweepTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private stopped = false;
  /** Whether the run of confirmDue(0) the grace timers share is on, and whether one fired during it. */
  private confirmingDue = false;
  private dueAgain = false;
  private readonly departureListeners: ((d: Departure) => void)[] = [];
  private readonly reconnectListeners: ((d: Departure) => void)[] = [];

  constructor(
    private readonly store: FailoverRoomStore,
    private readonly registry: LocalRegistry,
    private readonly options: PresenceOptions,
    private readonly logger: Logger,
    /** Called after this instance's state was written back to the shared store. */
    private readonly onResync: () => Promise<void> = async () => {},
  ) {}

  /** Registers this instance (and writes back its state when the store needs it), then starts the loops. */
  async start(): Promise<void> {
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(100, Math.floor(this.options.leaseMs / 4)));
    this.sweepTimer = setInterval(() => void this.sweep(), this.options.sweepMs);
    this.heartbeatTimer.unref();
    this.sweepTimer.unref();
  }

  /** Calls `listener` with each departure this instance confirms, for it to announce. */
  onDeparted(listener: (d: Departure) => void): void {
    this.departureListeners.push(listener);
  }

  /**
   * Calls `listener` with each user found back after a write-back whose departure had been
   * confirmed meanwhile, for it to announce.
   */
  onReconnected(listener: (d: Departure) => void): void {
    this.reconnectListeners.push(listener);
  }

  private departed(d: Departure): void {
    for (const listener of this.departureListeners) listener(d);
  }

  /** A socket joined a room as a user. */
  join(socketId: string, roomId: string, userId: string, username: string): Promise<JoinResult> {
    const connections = this.registry.add(roomId, userId, username, socketId);
    return this.store.join({ roomId, userId, username, instanceId: this.options.instanceId, connections });
  }

  /** A socket dropped without a goodbye: the user's grace period starts when it was their last. */
  async drop(socketId: string, roomId: string, userId: string): Promise<void> {
    if (this.stopped) return;
    const connections = this.registry.remove(roomId, userId, socketId);
    const remaining = await this.store.drop({
      roomId,
      userId,
      instanceId: this.options.instanceId,
      connections,
      graceMs: this.options.graceMs,
    });
    if (remaining === null) {
      this.registry.forgetIfIdle(roomId, userId);
      return;
    }
    this.registry.startGrace(roomId, userId, remaining, () => {
      this.registry.forgetIfIdle(roomId, userId);
      this.confirmDueNow();
    });
  }

  /** A socket left on purpose: the departure is announced at once when it was the user's last. */
  async leave(socketId: string, roomId: string, userId: string): Promise<void> {
    const connections = this.registry.remove(roomId, userId, socketId);
    if (connections === 0) this.registry.forgetIfIdle(roomId, userId);
    const departure = await this.store.leave({ roomId, userId, instanceId: this.options.instanceId, connections });
    if (departure) this.departed(departure);
  }

  /**
   * Stops the loops. With `handOver`, this instance's users start their grace period in the
   * shared store, so the rest of the cluster announces those who do not come back.
   */
  async stop(handOver: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.sweepTimer);
    this.registry.clear();
    if (handOver) await this.store.deregister(this.options.instanceId, this.options.graceMs);
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.store.mode === "memory") {
        const reconnected = await this.store.recover();
        if (reconnected) await this.afterWriteBack(reconnected);
        return;
      }
      const lapsed = await this.store.heartbeat(this.options.instanceId, this.options.leaseMs);
      if (lapsed && this.store.mode === "shared") {
        const users = this.registry.snapshot();
        const reconnected = await this.store.sync(this.options.instanceId, users, this.options.graceMs);
        this.logger.info({ users: users.length }, "presence lease (re)acquired: local state written to redis");
        await this.afterWriteBack(reconnected);
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "presence heartbeat failed");
    }
  }

  /** Announces users whose departure had been confirmed meanwhile, then the resync hook. */
  private async afterWriteBack(reconnected: Departure[]): Promise<void> {
    for (const d of reconnected) for (const listener of this.reconnectListeners) listener(d);
    await this.onResync();
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const reaped = await this.store.reapDeadInstances(this.options.instanceId, this.options.graceMs);
      if (reaped.length > 0) this.logger.warn({ instances: reaped }, "instances presumed dead: their users dropped");
      await this.confirmDue(sweepTakeoverMs(this.options.graceMs, this.options.sweepMs));
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "presence sweep failed");
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * A grace timer fired: confirms what is due now. Timers that fire while a run is on its way
   * share one more run after it, rather than one run each: each run reads every departure
   * due, so after a mass disconnect (whose grace periods end together) 2,000 runs at once
   * confirmed each departure over and over and stalled delivery for seconds
   * (bench/RESULTS.md, departures).
   */
  private confirmDueNow(): void {
    if (this.confirmingDue) {
      this.dueAgain = true;
      return;
    }
    this.confirmingDue = true;
    void (async () => {
      do {
        this.dueAgain = false;
        await this.confirmDue(0);
      } while (this.dueAgain && !this.stopped);
    })()
      .catch((err: Error) => this.logger.warn({ err: err.message }, "confirming departures failed"))
      .finally(() => {
        this.confirmingDue = false;
      });
  }

  /** Confirms and announces the departures due at least `lateMs` ago. */
  private async confirmDue(lateMs: number): Promise<void> {
    for (;;) {
      const due = await this.store.confirmDue(this.options.instanceId, CONFIRM_BATCH, lateMs);
      for (const d of due) {
        this.registry.forgetIfIdle(d.roomId, d.userId);
        this.departed(d);
      }
      if (due.length < CONFIRM_BATCH) return;
    }
  }
}

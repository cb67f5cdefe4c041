import type { RedisClient } from "./connection.js";

/** How released channels are unsubscribed: this long after, at most `batch` every `intervalMs`. */
export interface UnsubscribePace {
  delayMs: number;
  batch: number;
  intervalMs: number;
}

const DEFAULT_PACE: UnsubscribePace = { delayMs: 1000, batch: 50, intervalMs: 50 };

/**
 * This instance's sharded channel subscriptions on a Redis Cluster (SSUBSCRIBE), for both
 * kinds of per-room channel: the Socket.IO sharded adapter's and the one-order line's
 * (SequencedDelivery). A subscription starts at once; a channel released is unsubscribed
 * `delayMs` later, at most `batch` every `intervalMs`, and a channel subscribed again
 * meanwhile simply stays.
 *
 * Why paced: each SUNSUBSCRIBE is a write of its own on the subscriber connection, and
 * ioredis's cluster subscriber group walks every channel it holds on each one. A mass
 * disconnect deletes a thousand rooms at once, and the adapter unsubscribed each room's
 * channel the moment its room was deleted: about 300 ms of one burst in which the rooms still
 * chatting waited (bench/RESULTS.md, departures).
 */
export class ShardedSubscriptions {
  /** Released channels still subscribed → when they were released; oldest first. */
  private readonly released = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly pace: UnsubscribePace = DEFAULT_PACE,
  ) {}

  /** Subscribes to `channel`, unless it is still subscribed since its release. */
  subscribe(channel: string): Promise<unknown> {
    if (this.released.delete(channel)) return Promise.resolve();
    return this.subscriber.ssubscribe(channel);
  }

  /** Unsubscribes `channel` soon (see the class comment). */
  release(channel: string): void {
    this.released.delete(channel); // a channel released again goes to the back
    this.released.set(channel, Date.now());
    this.timer ??= setTimeout(() => this.unsubscribeDue(), this.pace.delayMs).unref();
  }

  /**
   * The subscriber as Socket.IO's sharded adapter is to see it: its SSUBSCRIBE and
   * SUNSUBSCRIBE go through here (it calls them as rooms are created and deleted), the rest
   * straight to the client.
   */
  forAdapter(): RedisClient {
    const subscribe = (channel: string) => this.subscribe(channel);
    const release = (channel: string | string[]) => {
      for (const c of Array.isArray(channel) ? channel : [channel]) this.release(c);
      return Promise.resolve();
    };
    return new Proxy(this.subscriber, {
      get(target, prop, receiver) {
        if (prop === "ssubscribe") return subscribe;
        if (prop === "sunsubscribe") return release;
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  /** Unsubscribes the channels released at least the delay ago, a batch at a time. */
  private unsubscribeDue(): void {
    this.timer = undefined;
    const due = Date.now() - this.pace.delayMs;
    let sent = 0;
    for (const [channel, releasedAt] of this.released) {
      if (releasedAt > due || sent === this.pace.batch) break;
      sent++;
      this.released.delete(channel);
      this.subscriber.sunsubscribe(channel).catch(() => {});
    }
    const oldest = this.released.values().next();
    if (oldest.done) return;
    const wait = sent === this.pace.batch ? this.pace.intervalMs : oldest.value - due;
    this.timer = setTimeout(() => this.unsubscribeDue(), Math.max(wait, this.pace.intervalMs)).unref();
  }
}

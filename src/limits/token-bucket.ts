/**
 * A token bucket: `ratePerSecond` sustained, `burst` at once. Synchronous and allocation-free,
 * because it sits on the message hot path (no Redis round trip there, by design).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = Math.max(1, burst);
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now = Date.now()): boolean {
    const capacity = Math.max(1, this.burst);
    this.tokens = Math.min(capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True once the bucket has refilled completely (the entry can be dropped). */
  idle(now = Date.now()): boolean {
    return this.tokens + ((now - this.last) / 1000) * this.ratePerSecond >= Math.max(1, this.burst);
  }
}

/**
 * One token bucket per key (a user, a user in a room), made on first use. Full buckets are
 * forgotten now and then, so keys that went quiet cost nothing.
 */
export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    sweepMs = 30_000,
  ) {
    this.sweepTimer = setInterval(() => {
      const now = Date.now();
      for (const [key, bucket] of this.buckets) if (bucket.idle(now)) this.buckets.delete(key);
    }, sweepMs);
    this.sweepTimer.unref();
  }

  /** Takes one token from `key`'s bucket; false when it is empty. */
  take(key: string, now = Date.now()): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.ratePerSecond, this.burst, now);
      this.buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.buckets.clear();
  }
}

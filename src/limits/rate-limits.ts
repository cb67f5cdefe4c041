import type { RedisClient } from "../redis/connection.js";
import type { RedisKeys } from "../redis/keys.js";
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { RateLimitConfig } from "../config/config.js";
import { KeyedTokenBuckets, TokenBucket } from "./token-bucket.js";

const ABUSE_WINDOW_MS = 10_000;

/** A shared (Redis) limiter that falls back to a per-instance memory one while Redis is away. */
function sharedLimiter(redis: RedisClient, keyPrefix: string, points: number, duration: number): RateLimiterAbstract {
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points,
    duration,
    // Fail over at once rather than wait for a dead Redis (the command client fails fast).
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }),
  });
}

/**
 * The service's rate limits.
 * - Joins per user and new connections per IP are shared by every instance through Redis
 *   (rate-limiter-flexible), with an in-memory fallback while Redis is down.
 * - Messages are limited per connection and per user by token buckets in this process: the
 *   message path never waits on Redis. A user with tabs on k instances gets k per-user budgets,
 *   each connection still bounded by its own bucket.
 * - A connection refused `abuseDisconnectAfter` times within 10 s (for rate, invalid payloads,
 *   unknown events, ...) is closed.
 */
export class RateLimits {
  private readonly joins: RateLimiterAbstract | undefined;
  private readonly connections: RateLimiterAbstract | undefined;
  private readonly userBuckets: KeyedTokenBuckets | undefined;

  constructor(
    private readonly config: RateLimitConfig,
    redis: RedisClient,
    keys: RedisKeys,
  ) {
    if (config.joinsPerMinute > 0) this.joins = sharedLimiter(redis, keys.rateLimit("join"), config.joinsPerMinute, 60);
    if (config.connectionsPerMinute > 0) {
      this.connections = sharedLimiter(redis, keys.rateLimit("conn"), config.connectionsPerMinute, 60);
    }
    if (config.messagesPerSecond > 0) {
      this.userBuckets = new KeyedTokenBuckets(config.messagesPerSecond, config.messagesBurst);
    }
  }

  /** A new connection from `ip`; false when over the limit. */
  allowConnection(ip: string): Promise<boolean> {
    return consume(this.connections, ip);
  }

  /** A join by `userId`; false when over the limit. */
  allowJoin(userId: string): Promise<boolean> {
    return consume(this.joins, userId);
  }

  /** A limiter for one connection's messages (synchronous). */
  forConnection(): ConnectionLimiter {
    return new ConnectionLimiter(this.config, this.userBuckets);
  }

  close(): void {
    this.userBuckets?.close();
  }
}

async function consume(limiter: RateLimiterAbstract | undefined, key: string): Promise<boolean> {
  if (!limiter) return true;
  try {
    await limiter.consume(key);
    return true;
  } catch (err) {
    if (err instanceof Error) throw err; // a store failure the insurance limiter could not absorb
    return false; // a RateLimiterRes: over the limit
  }
}

/** Message limits of one connection, and its record of refusals. */
export class ConnectionLimiter {
  private readonly bucket: TokenBucket | undefined;
  private refusals = 0;
  private windowStart = 0;

  constructor(
    private readonly config: RateLimitConfig,
    /** The per-user budgets, shared by the user's connections on this instance. */
    private readonly userBuckets: KeyedTokenBuckets | undefined,
  ) {
    if (config.messagesPerSecond > 0) this.bucket = new TokenBucket(config.messagesPerSecond, config.messagesBurst);
  }

  /** One message from `userId`; false when the connection or the user is over the limit. */
  allowMessage(userId: string): boolean {
    if (!this.bucket) return true;
    const now = Date.now();
    return this.bucket.take(now) && this.userBuckets!.take(userId, now);
  }

  /** Records a refusal of this connection's events; returns the refusals in the current window. */
  refused(): number {
    const now = Date.now();
    if (now - this.windowStart > ABUSE_WINDOW_MS) {
      this.windowStart = now;
      this.refusals = 0;
    }
    return ++this.refusals;
  }

  /** True when `refusals` in one window mean the connection should be closed. */
  abusive(refusals: number): boolean {
    return this.config.abuseDisconnectAfter > 0 && refusals >= this.config.abuseDisconnectAfter;
  }
}

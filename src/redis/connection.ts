import { Redis, type RedisOptions } from "ioredis";
import { createClient, type RedisClientType } from "redis";
import type { Config } from "../config/config.js";
import type { Logger } from "../logger.js";

/** Reconnect forever, backing off to at most 2 s between attempts. */
const retryStrategy = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 5), 2000);

function baseOptions(cfg: Config["redis"]): RedisOptions {
  return {
    lazyConnect: true,
    connectTimeout: cfg.connectTimeoutMs,
    retryStrategy,
    ...(cfg.url ? {} : { host: cfg.host, port: cfg.port, ...(cfg.tls ? { tls: {} } : {}) }),
    ...(cfg.username ? { username: cfg.username } : {}),
    ...(cfg.password ? { password: cfg.password } : {}),
  };
}

/** The same settings for node-redis (the history writer), in its own shape. */
function nodeRedisOptions(cfg: Config["redis"]) {
  return {
    ...(cfg.url ? { url: cfg.url } : {}),
    socket: {
      ...(cfg.url ? {} : { host: cfg.host, port: cfg.port, ...(cfg.tls ? { tls: true as const } : {}) }),
      connectTimeout: cfg.connectTimeoutMs,
      reconnectStrategy: retryStrategy,
    },
    ...(cfg.username ? { username: cfg.username } : {}),
    ...(cfg.password ? { password: cfg.password } : {}),
  };
}

/**
 * The Socket.IO adapter subscribes and unsubscribes without handling a rejection, and a
 * subscriber closed while Redis is away rejects its queued (un)subscriptions ("Connection is
 * closed."): unhandled rejections. Each of these calls' promises gets a handler here (the
 * caller still gets the same promise); the subscriber re-subscribes by itself after a
 * reconnect (`autoResubscribe`).
 */
function markSubscriptionsHandled(subscriber: Redis): void {
  const client = subscriber as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ["subscribe", "psubscribe", "unsubscribe", "punsubscribe"]) {
    const original = client[method]!.bind(subscriber);
    client[method] = (...args: unknown[]) => {
      const result = original(...args);
      if (result instanceof Promise) result.catch(() => {});
      return result;
    };
  }
}

/**
 * The three Redis connections of an instance:
 * - `command`: state scripts (auto-pipelined) and adapter publishes (written at once). It
 *   fails fast when Redis is away (no offline queue, no resend, a command timeout), so the
 *   caller falls back to memory instead of hanging;
 * - `subscriber`: the adapter's subscriptions, which it queues and restores by itself
 *   after every reconnect;
 * - `historyWriter`: history appends only, on node-redis, which costs about a third less
 *   client CPU per command than ioredis on that write (`npm run bench:clients`,
 *   bench/RESULTS.md). No offline queue either; the history store times its batches itself.
 */
export class RedisConnection {
  readonly command: Redis;
  readonly subscriber: Redis;
  readonly historyWriter: RedisClientType;
  /** The last error of each connection that has not been ready since (for /ready). */
  private readonly lastErrors = new Map<string, string>();

  constructor(
    cfg: Config["redis"],
    private readonly logger: Logger,
  ) {
    const common = baseOptions(cfg);
    const make = (options: RedisOptions): Redis => (cfg.url ? new Redis(cfg.url, options) : new Redis(options));
    this.command = make({
      ...common,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: cfg.commandTimeoutMs,
      // Commands issued in one tick leave in one write, in order (bench/RESULTS.md: fewer
      // syscalls on both sides).
      enableAutoPipelining: true,
      // Except publishes: a pipeline waits for setImmediate, i.e. behind every other message the
      // event loop has read, and a room split over instances waits for its publish. Written at
      // once, the cross-instance p99 fell by a third for ~3 % more CPU on that path
      // (bench/RESULTS.md, lever 17). Publishes keep their order among themselves.
      autoPipeliningIgnoredCommands: ["publish"],
    });
    this.subscriber = make({
      ...common,
      enableOfflineQueue: true,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
    });
    markSubscriptionsHandled(this.subscriber);
    // Named, so an operator (or a test) can tell it apart in CLIENT LIST.
    this.historyWriter = createClient({
      ...nodeRedisOptions(cfg),
      name: "chat:history-writer",
      disableOfflineQueue: true,
    });
    for (const [role, client] of [
      ["command", this.command],
      ["subscriber", this.subscriber],
      ["history", this.historyWriter],
    ] as const) {
      client.on("error", (err: Error) => {
        // ioredis reports every failed reconnect attempt; log each distinct error once.
        if (err.message === this.lastErrors.get(role)) return;
        this.lastErrors.set(role, err.message);
        this.logger.warn({ role, err: err.message }, "redis connection error");
      });
      client.on("ready", () => {
        this.lastErrors.delete(role);
        this.logger.info({ role }, "redis connection ready");
      });
    }
  }

  /**
   * Connects both clients, waiting at most `timeoutMs`. Resolves true when Redis answered;
   * false when it did not, in which case the clients keep retrying in the background.
   */
  async connect(timeoutMs: number): Promise<boolean> {
    // A client may already be connecting on its own (the adapter subscribes at construction).
    const ready = (client: Redis) =>
      client.status === "ready"
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            client.once("ready", () => resolve());
            if (client.status === "wait") client.connect().catch(() => {});
          });
    const writerReady = this.historyWriter.isReady
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.historyWriter.once("ready", () => resolve());
          if (!this.historyWriter.isOpen) this.historyWriter.connect().catch(() => {});
        });
    const attempt = Promise.all([ready(this.command), ready(this.subscriber), writerReady]).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([attempt, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Why the Redis that answered cannot serve as shared state, or undefined when it can:
   * a Redis Cluster (ElastiCache Serverless, MemoryDB, cluster mode) spreads keys over
   * slots that the room scripts do not respect yet.
   */
  async unusableBecause(): Promise<string | undefined> {
    try {
      const info = await this.command.info("cluster");
      if (/^cluster_enabled:1/m.test(info)) {
        return "redis is a Redis Cluster (cluster mode enabled), which this version does not support yet: point REDIS_HOST at a single primary";
      }
    } catch (err) {
      // INFO may be renamed or refused (managed Redis): nothing to conclude from that.
      this.logger.debug({ err: (err as Error).message }, "redis INFO cluster failed");
    }
    return undefined;
  }

  /** The connections in trouble and their last error, e.g. "command: NOAUTH Authentication required." */
  get troubles(): string[] {
    return [...this.lastErrors].map(([role, message]) => `${role}: ${message}`);
  }

  get isReady(): boolean {
    return this.command.status === "ready";
  }

  /** Closes the connections; gracefully when connected, otherwise just stop reconnecting. */
  async close(): Promise<void> {
    const writer = this.historyWriter;
    await Promise.all([
      ...[this.command, this.subscriber].map(async (client) => {
        if (client.status === "ready") {
          await client.quit().catch(() => client.disconnect());
        } else {
          client.disconnect();
        }
      }),
      writer.isReady ? writer.close().catch(() => writer.destroy()) : writer.isOpen ? writer.destroy() : undefined,
    ]);
  }
}

import { Redis, type RedisOptions } from "ioredis";
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

/**
 * The two Redis connections of an instance:
 * - `command`: state scripts and adapter publishes, auto-pipelined. It fails fast when Redis
 *   is away (no offline queue, no resend, a command timeout), so the caller falls back to
 *   memory instead of hanging;
 * - `subscriber`: the adapter's subscriptions, which it queues and restores by itself
 *   after every reconnect.
 */
export class RedisConnection {
  readonly command: Redis;
  readonly subscriber: Redis;

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
      // syscalls on both sides for the publish and history append of every message).
      enableAutoPipelining: true,
    });
    this.subscriber = make({
      ...common,
      enableOfflineQueue: true,
      autoResubscribe: true,
      maxRetriesPerRequest: null,
    });
    for (const [role, client] of [
      ["command", this.command],
      ["subscriber", this.subscriber],
    ] as const) {
      let lastError = "";
      client.on("error", (err: Error) => {
        // ioredis reports every failed reconnect attempt; log each distinct error once.
        if (err.message === lastError) return;
        lastError = err.message;
        this.logger.warn({ role, err: err.message }, "redis connection error");
      });
      client.on("ready", () => {
        lastError = "";
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
    const attempt = Promise.all([ready(this.command), ready(this.subscriber)]).then(() => true);
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

  get isReady(): boolean {
    return this.command.status === "ready";
  }

  /** Closes both connections; QUIT when connected, otherwise just stop reconnecting. */
  async close(): Promise<void> {
    await Promise.all(
      [this.command, this.subscriber].map(async (client) => {
        if (client.status === "ready") {
          await client.quit().catch(() => client.disconnect());
        } else {
          client.disconnect();
        }
      }),
    );
  }
}

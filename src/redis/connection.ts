import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import type { Config } from "../config/config.js";
import type { Logger } from "../logger.js";
import { onRedirected } from "./routing-race.js";
import { followSlotMap } from "./slot-map-follower.js";

/** A connection to a single Redis node or to a Redis Cluster: the service uses either alike. */
export type RedisClient = Redis | Cluster;

type RedisConfig = Config["redis"];

/** Reconnect forever, backing off to at most 2 s between attempts. */
const retryStrategy = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 5), 2000);

/** Where to connect and as whom: REDIS_URL when set, else REDIS_HOST/PORT/TLS and credentials. */
function endpoint(cfg: RedisConfig) {
  if (!cfg.url) return { host: cfg.host, port: cfg.port, tls: cfg.tls, username: cfg.username, password: cfg.password };
  const url = new URL(cfg.url);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    tls: url.protocol === "rediss:",
    username: decodeURIComponent(url.username) || cfg.username,
    password: decodeURIComponent(url.password) || cfg.password,
    db: Number(url.pathname.slice(1) || 0),
  };
}

/** Options of one node's connection (a single node's client, or every node of a cluster's). */
function nodeOptions(cfg: RedisConfig): RedisOptions {
  const { host, port, tls, username, password, ...rest } = endpoint(cfg);
  return {
    host,
    port,
    ...rest,
    lazyConnect: true,
    connectTimeout: cfg.connectTimeoutMs,
    retryStrategy,
    ...(tls ? { tls: {} } : {}),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}

/**
 * Whether the Redis that REDIS_HOST/REDIS_URL names is a Redis Cluster (INFO cluster), unless
 * REDIS_CLUSTER says so. Unreachable or unable to answer (INFO renamed on a managed Redis):
 * a single node is assumed, and logged.
 */
export async function detectCluster(cfg: RedisConfig, logger: Logger): Promise<boolean> {
  if (cfg.cluster !== "auto") return cfg.cluster;
  const probe = new Redis({ ...nodeOptions(cfg), retryStrategy: () => null, enableOfflineQueue: false });
  probe.on("error", () => {}); // the outcome is logged below
  try {
    await probe.connect();
    return /^cluster_enabled:1/m.test(await probe.info("cluster"));
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      "could not ask redis whether it is a cluster: assuming a single node (set REDIS_CLUSTER to choose)",
    );
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * The Socket.IO adapter subscribes and unsubscribes without handling a rejection, and a
 * subscriber closed while Redis is away rejects its queued (un)subscriptions ("Connection is
 * closed."): unhandled rejections. Each of these calls' promises gets a handler here (the
 * caller still gets the same promise); the subscriber re-subscribes by itself after a
 * reconnect.
 */
function markSubscriptionsHandled(subscriber: RedisClient): void {
  const client = subscriber as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of ["subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe"]) {
    const original = client[method]!.bind(subscriber);
    client[method] = (...args: unknown[]) => {
      const result = original(...args);
      if (result instanceof Promise) result.catch(() => {});
      return result;
    };
  }
}

/** What each connection needs beyond the node options, whatever the mode. */
interface Role {
  name: string;
  /** Queue commands while disconnected (the subscriber, which must not lose a subscription). */
  offlineQueue: boolean;
  /** ioredis's auto-pipelining, and the commands it leaves out. */
  pipelining?: { ignored: string[] };
  /** Sharded pub/sub (SSUBSCRIBE), in cluster mode. */
  sharded?: boolean;
  /** In cluster mode, how often the client reloads the slot map unasked (none: only on MOVED). */
  slotsRefreshMs?: number;
}

/**
 * The three Redis connections of an instance, to a single node or to a Redis Cluster (the
 * mode is chosen once, at start, by {@link RedisConnection.open}):
 * - `command`: room scripts, reads, claims, limits (auto-pipelined) and publishes (written at
 *   once). It fails fast when Redis is away (no offline queue, no resend, a command timeout),
 *   so the caller falls back to memory instead of hanging;
 * - `subscriber`: the adapter's and the service's subscriptions, which it queues and
 *   restores by itself after every reconnect (sharded ones too, in cluster mode);
 * - `historyWriter`: history appends and sequenced messages, on a connection of their own
 *   (named chat:history-writer in CLIENT LIST) so a slow batch never delays a room script,
 *   and history has its own health signal.
 * One client library, ioredis, for all three in both modes (bench/RESULTS.md, "Redis client").
 */
export class RedisConnection {
  readonly command: RedisClient;
  readonly subscriber: RedisClient;
  readonly historyWriter: RedisClient;
  /** Unregisters the cluster clients' slot-map refreshes (see onRedirected, followSlotMap). */
  private readonly unregisterRefreshes: (() => void)[] = [];
  /** The last error of each connection that has not been ready since (for /ready). */
  private readonly lastErrors = new Map<string, string>();

  /** Detects the mode (see {@link detectCluster}) and creates the connections, not yet connected. */
  static async open(cfg: RedisConfig, logger: Logger): Promise<RedisConnection> {
    return new RedisConnection(cfg, logger, await detectCluster(cfg, logger));
  }

  constructor(
    private readonly cfg: RedisConfig,
    private readonly logger: Logger,
    /** True on a Redis Cluster. */
    readonly cluster: boolean,
  ) {
    this.command = this.create({
      name: "command",
      offlineQueue: false,
      // Commands issued in one tick leave in one write, in order (bench/RESULTS.md: fewer
      // syscalls on both sides). Except publishes: a pipeline waits for setImmediate, i.e.
      // behind every other message the event loop has read, and a room split over instances
      // waits for its publish. Written at once, the cross-instance p99 fell by a third for ~3 %
      // more CPU on that path (bench/RESULTS.md, lever 17). Publishes keep their order.
      pipelining: { ignored: ["publish", "spublish"] },
      // The cluster's slot map is looked at every 2 s by this client, whose look is cheap; the
      // subscriber follows its changes (and the history writer's, see followSlotMap), so a
      // moved room's channel is listened to again soon. The subscriber's own look stalls the
      // event loop for milliseconds: it looks every 30 s only, to restart failed subscribers.
      slotsRefreshMs: 2000,
    });
    this.subscriber = this.create({ name: "subscriber", offlineQueue: true, sharded: true, slotsRefreshMs: 30_000 });
    markSubscriptionsHandled(this.subscriber);
    this.historyWriter = this.create({ name: "history-writer", offlineQueue: false, pipelining: { ignored: [] } });
    if (cluster) {
      this.unregisterRefreshes.push(
        followSlotMap([this.command, this.historyWriter] as Cluster[], this.subscriber as Cluster),
      );
      // An operation a node redirected is tried again with fresh slot maps (routing-race.ts).
      for (const client of [this.command, this.historyWriter] as Cluster[]) {
        this.unregisterRefreshes.push(
          onRedirected(
            () => new Promise((resolve, reject) => client.refreshSlotsCache((err) => (err ? reject(err) : resolve()))),
          ),
        );
      }
    }
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
        this.logger.info({ role, cluster: this.cluster }, "redis connection ready");
      });
    }
  }

  private create(role: Role): RedisClient {
    const node: RedisOptions = {
      ...nodeOptions(this.cfg),
      connectionName: `chat:${role.name}`,
      // Fail fast rather than retry: the failover store decides what a failure means.
      ...(role.offlineQueue
        ? { maxRetriesPerRequest: null }
        : { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, commandTimeout: this.cfg.commandTimeoutMs }),
    };
    const common = {
      enableOfflineQueue: role.offlineQueue,
      enableAutoPipelining: role.pipelining !== undefined,
      autoPipeliningIgnoredCommands: role.pipelining?.ignored ?? [],
    };
    if (!this.cluster)
      return new Redis({ ...node, ...common, ...(role.offlineQueue ? { autoResubscribe: true } : {}) });
    const { host, port, tls, ...redisOptions } = node;
    const options: ClusterOptions = {
      ...common,
      lazyConnect: true,
      redisOptions,
      clusterRetryStrategy: retryStrategy,
      slotsRefreshTimeout: this.cfg.connectTimeoutMs,
      shardedSubscribers: role.sharded === true,
      ...(role.slotsRefreshMs ? { slotsRefreshInterval: role.slotsRefreshMs } : {}),
      // With TLS, connect to the names the cluster announces as IPs through the start-up
      // host, as AWS ElastiCache requires (its certificate names the configuration endpoint).
      ...(tls
        ? { dnsLookup: (address, callback) => callback(null, address), redisOptions: { ...redisOptions, tls } }
        : {}),
    };
    return new Cluster([{ host: host!, port: port! }, ...this.cfg.clusterNodes], options);
  }

  /**
   * Connects the three clients, waiting at most `timeoutMs`. Resolves true when Redis
   * answered; false when it did not, in which case the clients keep retrying in the background.
   */
  async connect(timeoutMs: number): Promise<boolean> {
    // A client may already be connecting on its own (the adapter subscribes at construction).
    const ready = (client: RedisClient) =>
      client.status === "ready"
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            client.once("ready", () => resolve());
            if (client.status === "wait") client.connect().catch(() => {});
          });
    const attempt = Promise.all([this.command, this.subscriber, this.historyWriter].map(ready)).then(() => true);
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
   * Why the Redis that answered cannot serve as shared state, or undefined when it can: a
   * Redis Cluster reached as a single node (REDIS_CLUSTER=false) would answer every room's
   * command with MOVED.
   */
  async unusableBecause(): Promise<string | undefined> {
    if (this.cluster) return undefined;
    try {
      const info = await this.command.info("cluster");
      if (/^cluster_enabled:1/m.test(info)) {
        return "redis is a Redis Cluster (cluster mode enabled) but REDIS_CLUSTER=false: set REDIS_CLUSTER=auto or true";
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

  get historyWriterReady(): boolean {
    return this.historyWriter.status === "ready";
  }

  /** Closes the connections; gracefully when connected, otherwise just stop reconnecting. */
  async close(): Promise<void> {
    this.unregisterRefreshes.splice(0).forEach((unregister) => unregister());
    await Promise.all(
      [this.command, this.subscriber, this.historyWriter].map(async (client) => {
        if (client.status === "ready") {
          await client.quit().catch(() => client.disconnect());
        } else {
          client.disconnect();
        }
      }),
    );
  }
}

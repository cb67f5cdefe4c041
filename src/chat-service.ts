import { randomBytes } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { hostname } from "node:os";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-adapter";
import { createShardedAdapter } from "@socket.io/redis-adapter/dist/sharded-adapter.js";
import proxyAddr from "proxy-addr";
import { Server } from "socket.io";
import { AuthError, TokenVerifier, handshakeToken } from "./auth/token-verifier.js";
import type { Config } from "./config/config.js";
import { FailoverHistoryStore } from "./history/failover-history-store.js";
import { MemoryHistoryStore } from "./history/memory-history-store.js";
import { RedisHistoryStore } from "./history/redis-history-store.js";
import { createApp } from "./http/app.js";
import { originGuard } from "./http/origin.js";
import { RateLimits } from "./limits/rate-limits.js";
import type { Logger } from "./logger.js";
import { Metrics } from "./metrics/metrics.js";
import { LocalRegistry } from "./presence/local-registry.js";
import { PresenceService } from "./presence/presence-service.js";
import { RoomHosts } from "./presence/room-hosts.js";
import { adapterParser } from "./redis/adapter-parser.js";
import { bestEffortPublisher } from "./redis/best-effort-publisher.js";
import { localFirst } from "./redis/local-first-adapter.js";
import { RedisConnection } from "./redis/connection.js";
import { RedisKeys } from "./redis/keys.js";
import { ShardedSubscriptions } from "./redis/sharded-subscriptions.js";
import { registerChatHandlers, type ChatServer } from "./socket/chat-handlers.js";
import { createMessageIdGenerator } from "./socket/message-id.js";
import { RoomEntry } from "./socket/room-entry.js";
import { SequencedDelivery } from "./socket/sequenced-delivery.js";
import { chatRoomOf } from "./socket/payloads.js";
import { FailoverRoomStore } from "./store/failover-room-store.js";
import { MemoryRoomStore } from "./store/memory-room-store.js";
import { RedisRoomStore, type SyncFailure } from "./store/redis-room-store.js";

export const SOCKET_PATH = "/api/v1/chat-service/socket.io";

/**
 * One instance of the chat service: HTTP + Socket.IO, Redis (or memory) room state and
 * cluster-wide presence. `start()` once, `stop()` once (it drains; calling it again returns
 * the same promise).
 */
export class ChatService {
  readonly instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  private readonly store: FailoverRoomStore;
  private readonly history: FailoverHistoryStore;
  private readonly limits: RateLimits;
  private readonly hosts: RoomHosts;
  private readonly sequenced: SequencedDelivery;
  private readonly http: HttpServer;
  private readonly io: ChatServer;
  private readonly presence: PresenceService;
  private readonly handlers: ReturnType<typeof registerChatHandlers>;
  readonly metrics = new Metrics();
  private accepting = false;
  private lastSyncFailure: string | undefined;
  private stopping: Promise<void> | undefined;

  /** An instance on the Redis the configuration names, in the mode it detects (see RedisConnection.open). */
  static async create(config: Config, logger: Logger): Promise<ChatService> {
    return new ChatService(config, logger, await RedisConnection.open(config.redis, logger));
  }

  /**
   * Builds the parts in dependency order, each from parts already built: room state, history,
   * limits, the hosts protocol, HTTP and Socket.IO (whose adapter asks the hosts), presence,
   * the chat handlers; then wires the events between them.
   */
  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly redis: RedisConnection,
  ) {
    const keys = new RedisKeys(config.redis.keyPrefix, redis.cluster);
    const registry = new LocalRegistry();

    // Room state: Redis while it answers, this instance's memory copy while it does not.
    const redisStore = new RedisRoomStore(redis.command, keys, config.history.retentionMs, (failed) =>
      this.syncFailed(failed),
    );
    this.store = new FailoverRoomStore(
      redisStore,
      new MemoryRoomStore(),
      {
        instanceId: this.instanceId,
        graceMs: config.presence.graceMs,
        leaseMs: config.presence.leaseMs,
        snapshot: () => registry.snapshot(),
        logger,
      },
      "memory",
    );

    // History: Redis while the room state is shared and its writer is up, memory otherwise.
    this.history = new FailoverHistoryStore(
      new RedisHistoryStore(redis.command, redis.historyWriter, keys, {
        ...config.history,
        timeoutMs: config.redis.commandTimeoutMs,
        logger,
      }),
      new MemoryHistoryStore({ ...config.history, isActive: (roomId) => registry.hasRoom(roomId) }),
      () => this.store.mode,
      logger,
      () => redis.historyWriterReady,
    );

    this.limits = new RateLimits(config.rateLimits, redis.command, keys);
    this.hosts = new RoomHosts({
      instanceId: this.instanceId,
      publisher: redis.command,
      subscriber: redis.subscriber,
      channel: keys.hostsChannel,
      ackTimeoutMs: 1000,
      logger,
      shared: () => this.store.mode === "shared",
      beforeAck: () => this.history.flush(),
    });

    // On a cluster, per-room sharded channels: the adapter's and the one-order line's.
    const subscriptions = new ShardedSubscriptions(redis.subscriber);
    this.sequenced = new SequencedDelivery({
      subscriber: redis.subscriber,
      subscriptions,
      publisher: redis.command,
      keys,
      readSequencedSince: (roomId, afterId) => this.history.sequencedSince(roomId, afterId),
      logger,
    });

    this.http = createServer(
      createApp(
        {
          mode: () => this.store.mode,
          ready: () => this.accepting,
          redis: redis.cluster ? "cluster" : "single",
          instanceId: this.instanceId,
          problems: () => this.problems(),
        },
        { registry: this.metrics.registry, ...(config.metricsToken ? { token: config.metricsToken } : {}) },
        { demoPage: config.demoPage },
      ),
    );
    this.io = new Server(this.http, {
      path: SOCKET_PATH,
      cors: { origin: config.allowedOrigins, credentials: true },
      allowRequest: originGuard(config.allowedOrigins, { sameOrigin: config.demoPage }),
      maxHttpBufferSize: config.limits.maxPayloadBytes,
      adapter: this.adapter(keys, subscriptions),
    });
    this.io.use(this.admission(config));
    this.metrics.watch({
      connectedSockets: () => this.io.engine.clientsCount,
      localUsersAndRooms: () => registry.size,
      redisShared: () => this.store.mode === "shared",
    });

    this.presence = new PresenceService(
      this.store,
      registry,
      { instanceId: this.instanceId, ...config.presence },
      logger,
      // After a write-back, tell the other hosts of our rooms that we host them too (they may
      // have kept a known set that lacks sockets we gained while Redis was away).
      async () => {
        const hosted = await this.store.roomHosts(this.instanceId, this.hosts.hostedRooms());
        for (const [roomId, hosts] of hosted) if (hosts.length > 0) void this.hosts.introduce(roomId, hosts);
      },
    );

    this.handlers = registerChatHandlers(this.io, {
      presence: this.presence,
      hosts: this.hosts,
      entry: new RoomEntry(this.hosts, this.history, (roomId) => this.sequenced.host(roomId)),
      history: this.history,
      limits: this.limits,
      metrics: this.metrics,
      maxMessageLength: config.limits.maxMessageLength,
      joinTimeoutMs: config.rateLimits.joinTimeoutMs,
      typingTimeoutMs: config.typingTimeoutMs,
      nextMessageId: createMessageIdGenerator(randomBytes(3).toString("hex")),
      sequencer: {
        active: () => this.history.canSequence(),
        send: async (message, socketId) => {
          const id = await this.history.sequence(message, socketId);
          this.sequenced.sent(id, socketId);
          return id;
        },
        publishAgain: (message, socketId) => this.sequenced.publishAgain(message, socketId),
      },
      logger,
    });
    this.sequenced.start(this.handlers.deliverSequenced);

    // Events between the parts, now that they all exist.
    this.io.of("/").adapter.on("delete-room", (room: string) => {
      const roomId = chatRoomOf(room);
      if (roomId === undefined) return;
      this.hosts.roomClosed(roomId);
      this.sequenced.release(roomId);
    });
    this.store.onModeChange((mode) => {
      if (mode === "memory") {
        this.metrics.redisErrors.inc({ kind: "failover" });
        this.hosts.reset();
      } else {
        void this.history.writeBack();
      }
    });
    redis.command.on("close", () => this.store.enterMemoryMode("connection closed"));
    // The history writer back (alone, or with the rest): what memory kept meanwhile is written.
    redis.historyWriter.on("ready", () => {
      if (this.store.mode === "shared") void this.history.writeBack();
    });
  }

  /** A write-back's entries Redis refused (none: an empty list), for /ready and the log. */
  private syncFailed(failed: SyncFailure[]): void {
    if (failed.length === 0) {
      this.lastSyncFailure = undefined;
      return;
    }
    this.lastSyncFailure = `${failed.length} user(s) not written back: ${failed[0]!.error}`;
    this.logger.warn({ failed: failed.slice(0, 10) }, "write-back to redis skipped some users");
  }

  /**
   * The Socket.IO Redis adapter: classic pub/sub on a single node; on a cluster, sharded
   * pub/sub (SPUBLISH/SSUBSCRIBE), a channel per room, so a room's broadcasts reach only the
   * node that owns its channel and the instances that host the room (subscribed as rooms are
   * created, released paced as they are deleted: ShardedSubscriptions). Either way,
   * broadcasts to a room no other instance hosts stay here (see localFirst).
   */
  private adapter(keys: RedisKeys, subscriptions: ShardedSubscriptions) {
    const publisher = bestEffortPublisher(this.redis.command, this.logger, () =>
      this.metrics.redisErrors.inc({ kind: "publish" }),
    );
    const redisAdapter = this.redis.cluster
      ? createShardedAdapter(publisher, subscriptions.forAdapter(), { channelPrefix: keys.adapterChannel })
      : createAdapter(publisher, this.redis.subscriber, { key: keys.adapterChannel, parser: adapterParser });
    return localFirst(redisAdapter, (room) => {
      const roomId = chatRoomOf(room);
      return roomId === undefined || this.hosts.needsPublish(roomId);
    });
  }

  /**
   * Handshake checks: connections per IP, then the token when auth is configured. A refusal
   * reaches the client as a `connect_error` with a readable message.
   */
  private admission(config: Config): Parameters<ChatServer["use"]>[0] {
    const verifier = config.auth ? new TokenVerifier(config.auth) : undefined;
    if (verifier?.weakSecret) this.logger.warn("AUTH_JWT_SECRET is shorter than 32 bytes: use a longer secret");
    // The client's address as Express reads it: the nearest X-Forwarded-For entry that a
    // trusted proxy appended, never one the client wrote itself.
    // A hop count trusts that many proxies nearest the service (Express's compileTrust).
    const hops = config.trustProxy;
    const trust =
      hops === false
        ? undefined
        : typeof hops === "number"
          ? (_address: string, i: number) => i < hops
          : proxyAddr.compile(hops);
    return (socket, next) => {
      const ip = trust ? proxyAddr(socket.request, trust) : socket.handshake.address;
      const admit = async () => {
        const { maxConnections } = config.rateLimits;
        if (maxConnections > 0 && this.io.engine.clientsCount > maxConnections) {
          throw new AuthError("server full: too many connections on this instance, retry later");
        }
        if (!(await this.limits.allowConnection(ip))) {
          throw new AuthError("rate limited: too many connections from this address");
        }
        if (verifier) {
          const token = handshakeToken(socket.handshake.auth, socket.handshake.headers.authorization);
          socket.data.token = await verifier.verify(token);
        }
      };
      admit().then(
        () => next(),
        (err: unknown) => {
          const message = err instanceof AuthError ? err.message : "internal error";
          this.logger.info({ ip, reason: message }, "connection refused");
          const refusal = new Error(message) as Error & { data?: unknown };
          refusal.data = {
            code: message.startsWith("rate limited")
              ? "RATE_LIMITED"
              : message.startsWith("server full")
                ? "SERVER_FULL"
                : "UNAUTHORIZED",
          };
          next(refusal);
        },
      );
    };
  }

  /** Connects to Redis (or falls back to memory within the connect timeout) and listens. */
  async start(): Promise<number> {
    const connected = await this.redis.connect(this.config.redis.connectTimeoutMs);
    const unusable = connected ? await this.redis.unusableBecause() : undefined;
    if (unusable) {
      this.store.refuseShared(unusable);
    } else if (connected) {
      await this.store.recover();
    } else {
      this.logger.warn(
        { redis: this.config.redis.url ?? `${this.config.redis.host}:${this.config.redis.port}` },
        "redis unreachable at start: serving from memory; shared mode resumes when redis answers",
      );
    }
    this.hosts.start();
    await this.presence.start();
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.config.port, this.config.host, () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    this.accepting = true;
    const port = this.port;
    this.logger.info({ port, instanceId: this.instanceId, mode: this.store.mode }, "chat service listening");
    return port;
  }

  /** What /ready reports as wrong although the service runs. */
  private problems(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.store.refusal) out.roomState = this.store.refusal;
    else if (this.store.lastRecoveryError) out.roomState = `write-back failed: ${this.store.lastRecoveryError}`;
    if (this.lastSyncFailure) out.presence = this.lastSyncFailure;
    // Why Redis is not used, as its connections last said (unreachable, refused credentials, ...).
    const troubles = this.redis.troubles;
    if (troubles.length > 0) out.redis = troubles.join("; ");
    if (this.history.lastWriteBackError) out.history = `write-back failed: ${this.history.lastWriteBackError}`;
    return out;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get mode(): "shared" | "memory" {
    return this.store.mode;
  }

  /**
   * Drains: stops accepting, hands this instance's users over to the cluster (they start
   * their grace period in Redis and are announced elsewhere unless they reconnect), closes
   * every socket so clients reconnect to another instance, then closes Redis.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.accepting = false;
      this.logger.info({ sockets: this.io.engine.clientsCount }, "draining");
      const handedOver = this.presence.stop(true);
      await new Promise<void>((resolve) => this.io.close(() => resolve()));
      await handedOver.catch((err: unknown) => this.logger.warn({ err }, "presence hand-over failed"));
      this.limits.close();
      this.handlers.close();
      this.history.close();
      await this.history.flush(); // the last window's appends, before closing Redis
      await this.redis.close();
      this.logger.info("stopped");
    })();
    return this.stopping;
  }
}

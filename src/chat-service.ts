import { randomBytes } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { hostname } from "node:os";
import type { AddressInfo } from "node:net";
import { createAdapter } from "@socket.io/redis-adapter";
import { Server } from "socket.io";
import type { Config } from "./config/config.js";
import { createApp } from "./http/app.js";
import { originGuard } from "./http/origin.js";
import type { Logger } from "./logger.js";
import { LocalRegistry } from "./presence/local-registry.js";
import { PresenceService, type PresenceAnnouncer } from "./presence/presence-service.js";
import { bestEffortPublisher } from "./redis/best-effort-publisher.js";
import { RedisConnection } from "./redis/connection.js";
import { RedisKeys } from "./redis/keys.js";
import { registerChatHandlers, type ChatServer } from "./socket/chat-handlers.js";
import { createMessageIdGenerator } from "./socket/message-id.js";
import { socketRoom, userNotice } from "./socket/payloads.js";
import { FailoverRoomStore } from "./store/failover-room-store.js";
import { MemoryRoomStore } from "./store/memory-room-store.js";
import { RedisRoomStore } from "./store/redis-room-store.js";

export const SOCKET_PATH = "/api/v1/chat-service/socket.io";

/**
 * One instance of the chat service: HTTP + Socket.IO, Redis (or memory) room state and
 * cluster-wide presence. `start()` once, `stop()` once (it drains; calling it again returns
 * the same promise).
 */
export class ChatService {
  readonly instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  private readonly redis: RedisConnection;
  private readonly store: FailoverRoomStore;
  private readonly presence: PresenceService;
  private readonly http: HttpServer;
  private readonly io: ChatServer;
  private accepting = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    const keys = new RedisKeys(config.redis.keyPrefix);
    this.redis = new RedisConnection(config.redis, logger);
    const registry = new LocalRegistry();
    this.store = new FailoverRoomStore(
      new RedisRoomStore(this.redis.command, keys),
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
    this.redis.command.on("close", () => this.store.enterMemoryMode("connection closed"));

    this.http = createServer(
      createApp({ mode: () => this.store.mode, ready: () => this.accepting, instanceId: this.instanceId }),
    );
    this.io = new Server(this.http, {
      path: SOCKET_PATH,
      cors: { origin: config.allowedOrigins, credentials: true },
      allowRequest: originGuard(config.allowedOrigins),
      maxHttpBufferSize: config.limits.maxPayloadBytes,
      adapter: createAdapter(
        bestEffortPublisher(this.redis.command, logger, () => {}),
        this.redis.subscriber,
        { key: keys.adapterChannel },
      ),
    });

    const announcer: PresenceAnnouncer = {
      departed: (d) => this.io.to(socketRoom(d.roomId)).emit("system_message", userNotice("disconnect", d.roomId, d)),
      reconnected: (d) => this.io.to(socketRoom(d.roomId)).emit("system_message", userNotice("reconnect", d.roomId, d)),
    };
    this.presence = new PresenceService(
      this.store,
      registry,
      announcer,
      { instanceId: this.instanceId, ...config.presence },
      logger,
    );
    registerChatHandlers(this.io, {
      presence: this.presence,
      maxMessageLength: config.limits.maxMessageLength,
      nextMessageId: createMessageIdGenerator(randomBytes(3).toString("hex")),
      logger,
    });
  }

  /** Connects to Redis (or falls back to memory within the connect timeout) and listens. */
  async start(): Promise<number> {
    const connected = await this.redis.connect(this.config.redis.connectTimeoutMs);
    if (connected) {
      await this.store.recover();
    } else {
      this.logger.warn(
        { redis: this.config.redis.url ?? `${this.config.redis.host}:${this.config.redis.port}` },
        "redis unreachable at start: serving from memory; shared mode resumes when redis answers",
      );
    }
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
      await this.redis.close();
      this.logger.info("stopped");
    })();
    return this.stopping;
  }
}

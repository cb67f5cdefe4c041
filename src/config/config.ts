import { createPublicKey } from "node:crypto";
import { existsSync } from "node:fs";
import { algorithmOf } from "../auth/token-verifier.js";
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: "must be a whole number" })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    );
/** A browser origin: http(s)://host[:port] and nothing more (no path, query or credentials). */
const isOrigin = (v: string): boolean => {
  try {
    const url = new URL(v);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === v.replace(/\/$/, "");
  } catch {
    return false;
  }
};
const origin = z.string().refine(isOrigin, {
  error: (issue) => `"${String(issue.input)}" is not an origin: write it as http(s)://host[:port]`,
});
const origins = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(origin));

/**
 * Which proxies in front of the service are trusted to report the client's address, as
 * Express's "trust proxy" setting reads it: false, true (= the one proxy directly in front),
 * a hop count, or a comma-separated list of addresses, subnets and names such as loopback.
 */
const trustProxy = z.string().transform((v): false | number | string[] => {
  const t = v.trim().toLowerCase();
  if (["false", "0", "no"].includes(t)) return false;
  if (["true", "yes"].includes(t)) return 1;
  if (/^\d+$/.test(t)) return Number(t);
  return v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
});

/**
 * Every setting, read from the environment (and `.env`) in one place. Each entry says its
 * default; `.env.example` explains each one.
 */
const schema = z.object({
  /** HTTP and WebSocket port. */
  PORT: int(0, 65535).default(5286),
  /** Interface to listen on. */
  HOST: z.string().min(1).default("0.0.0.0"),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  /** Browser origins allowed to connect (comma-separated); requests without Origin are always allowed. */
  CORS_ORIGINS: origins.default(["http://localhost:5173"]),
  /** The production front-end origin (e.g. the CloudFront domain), added to the allow-list. */
  FRONTEND_ORIGIN: origin.optional(),

  /** Full Redis URL (redis:// or rediss://); overrides REDIS_HOST/PORT/TLS when set. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { message: "must start with redis:// or rediss://" })
    .optional(),
  REDIS_HOST: z.string().min(1).default("redis"),
  REDIS_PORT: int(1, 65535).default(6379),
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  /** TLS to Redis (AWS ElastiCache in-transit encryption). */
  REDIS_TLS_ENABLED: bool.default(false),
  /**
   * Redis Cluster (ElastiCache Serverless, MemoryDB, cluster mode): `auto` asks the node
   * REDIS_HOST/REDIS_URL names (INFO cluster) at start; `true` or `false` skip the question.
   */
  REDIS_CLUSTER: z.enum(["auto", "true", "false"]).default("auto"),
  /** Cluster mode: more nodes to start from (comma-separated host:port), besides REDIS_HOST:REDIS_PORT. */
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[^,:\s]+:\d+(,[^,:\s]+:\d+)*$/, { message: "must be host:port[,host:port...]" })
    .optional(),
  /** Prefix of every Redis key and channel; lets several deployments share one Redis. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[^{}]*$/, { message: "must not contain { or } (they would change Redis Cluster hash slots)" })
    .default(""),
  /** How long to wait for Redis at start before serving from memory. */
  REDIS_CONNECT_TIMEOUT_MS: int(100, 60_000).default(2000),
  /** A Redis command slower than this counts as Redis lost (memory mode until it answers again). */
  REDIS_COMMAND_TIMEOUT_MS: int(100, 60_000).default(2000),

  /** How long a dropped user stays present before their departure is announced. */
  DISCONNECT_GRACE_MS: int(0, 3_600_000).default(10_000),
  /** Instance lease: a crashed instance's users are treated as dropped at most this long after it died. */
  INSTANCE_LEASE_MS: int(500, 600_000).default(8000),
  /** How often each instance looks for due departures and dead instances. */
  PRESENCE_SWEEP_MS: int(50, 60_000).default(1000),

  /** A `typing: true` not renewed within this time ends with `isTyping: false`. */
  TYPING_TIMEOUT_MS: int(500, 600_000).default(6000),

  /** Longest message content, in characters. */
  MAX_MESSAGE_LENGTH: int(1, 1_000_000).default(5000),
  /** Largest Socket.IO packet, in bytes; a bigger one closes the connection. */
  MAX_PAYLOAD_BYTES: int(1024, 100_000_000).default(262_144),

  /** Messages kept per room. */
  HISTORY_LIMIT: int(0, 100_000).default(200),
  /**
   * Bytes of history kept per room (stored form), whatever the count: the oldest messages go
   * first. Bounds what one room can make Redis hold, and a join's reply (its history is sent
   * in `chat_history` and in the acknowledgement).
   */
  HISTORY_MAX_BYTES: int(16_384, 100_000_000).default(262_144),
  /** How long a room's history outlives the room once nobody is present. */
  HISTORY_RETENTION_MS: int(0, 365 * 24 * 3_600_000).default(86_400_000),
  /**
   * History appends wait up to this long to be written to Redis together (acks wait with
   * them; live delivery does not; a lone message is written at once). Longer windows mean
   * fewer, larger writes: 50 ms against 20 cut CPU per message from 1.40× to 1.30× the floor's
   * (bench/RESULTS.md, lever 18).
   */
  HISTORY_FLUSH_MS: int(0, 10_000).default(50),
  /** How long a clientMessageId is remembered, so a retried send is not delivered twice. */
  DEDUPE_WINDOW_MS: int(1000, 86_400_000).default(300_000),

  /** HS256 secret: when set (or a public key is), every connection needs a valid token. */
  AUTH_JWT_SECRET: z.string().min(1).optional(),
  /** RS256 or ES256 public key (PEM, `\n` escapes allowed), instead of a secret. */
  AUTH_JWT_PUBLIC_KEY: z
    .string()
    .transform((v) => v.replace(/\\n/g, "\n"))
    .refine((v) => v.includes("-----BEGIN PUBLIC KEY-----"), { message: "must be a PEM public key" })
    .superRefine((v, ctx) => {
      try {
        algorithmOf(createPublicKey(v));
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `cannot be used: ${(err as Error).message}` });
      }
    })
    .optional(),
  /** Expected `iss` / `aud` claims, when set. */
  AUTH_JWT_ISSUER: z.string().optional(),
  AUTH_JWT_AUDIENCE: z.string().optional(),
  /** Claim holding the userId (the protocol says `sub`; PeerPrep's user service uses `id`). */
  AUTH_USER_ID_CLAIM: z.string().min(1).default("sub"),
  /** Claim holding the display name; the join's username is used when the token has none. */
  AUTH_USERNAME_CLAIM: z.string().min(1).default("username"),
  /** When set, the claim listing the rooms a token may join; other rooms are refused. */
  AUTH_ROOMS_CLAIM: z.string().min(1).optional(),
  /** Refuse tokens without an `exp` claim (a connection lives no longer than its token). */
  AUTH_REQUIRE_EXP: bool.default(true),

  /** Messages per second per connection and per user (0 = no limit). */
  RATE_MESSAGES_PER_SECOND: int(0, 1_000_000).default(5),
  /** Messages a connection or user may send at once above that rate (a person pasting a few lines). */
  RATE_MESSAGES_BURST: int(0, 1_000_000).default(20),
  /** Joins per minute per user, shared by all instances (0 = no limit). */
  RATE_JOINS_PER_MINUTE: int(0, 1_000_000).default(300),
  /** New connections per minute per client IP, shared by all instances (0 = no limit). */
  RATE_CONNECTIONS_PER_MINUTE: int(0, 1_000_000).default(6000),
  /** Refused events (rate, invalid, unknown) within 10 s after which the connection is closed (0 = never). */
  RATE_ABUSE_DISCONNECT_AFTER: int(0, 1_000_000).default(200),
  /** Most connections this instance holds; more are refused at the handshake (0 = no cap). */
  MAX_CONNECTIONS: int(0, 10_000_000).default(20_000),
  /** A connection that has not joined a room this long after connecting is closed (0 = never). */
  JOIN_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  /** Client IP from X-Forwarded-For, as appended by the trusted proxies (see trustProxy above). */
  TRUST_PROXY: trustProxy.default(false),

  /** When set, GET /metrics requires `Authorization: Bearer <token>`. */
  METRICS_TOKEN: z.string().min(1).optional(),

  /** Serve the demo chat page at / (default: on in development, off otherwise). */
  DEMO_PAGE: bool.optional(),

  /** How long a SIGTERM drain may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

type Env = z.infer<typeof schema>;

export interface AuthConfig {
  secret?: string;
  publicKey?: string;
  issuer?: string;
  audience?: string;
  userIdClaim: string;
  usernameClaim: string;
  roomsClaim?: string;
  requireExp: boolean;
}

export interface RateLimitConfig {
  messagesPerSecond: number;
  messagesBurst: number;
  joinsPerMinute: number;
  connectionsPerMinute: number;
  abuseDisconnectAfter: number;
  maxConnections: number;
  joinTimeoutMs: number;
}

export interface Config {
  port: number;
  host: string;
  env: Env["NODE_ENV"];
  allowedOrigins: string[];
  redis: {
    url?: string;
    host: string;
    port: number;
    username?: string;
    password?: string;
    tls: boolean;
    /** "auto": detected at start. */
    cluster: "auto" | boolean;
    /** Cluster mode: further start-up nodes. */
    clusterNodes: { host: string; port: number }[];
    keyPrefix: string;
    connectTimeoutMs: number;
    commandTimeoutMs: number;
  };
  presence: { graceMs: number; leaseMs: number; sweepMs: number };
  typingTimeoutMs: number;
  limits: { maxMessageLength: number; maxPayloadBytes: number };
  history: { limit: number; maxBytes: number; retentionMs: number; dedupeWindowMs: number; flushMs: number };
  auth?: AuthConfig;
  rateLimits: RateLimitConfig;
  /** Express "trust proxy" value: false, a hop count, or addresses/subnets. */
  trustProxy: false | number | string[];
  metricsToken?: string;
  demoPage: boolean;
  shutdownTimeoutMs: number;
  logLevel: Env["LOG_LEVEL"];
}

/** Raised for a bad setting; the message names the variable. */
export class ConfigError extends Error {}

/** Parses and validates the configuration; throws {@link ConfigError} naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset", as in most .env conventions.
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${problems.join("\n  ")}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    env: e.NODE_ENV,
    allowedOrigins: [...new Set([...e.CORS_ORIGINS, ...(e.FRONTEND_ORIGIN ? [e.FRONTEND_ORIGIN] : [])])].map(
      (o) => new URL(o).origin,
    ),
    redis: {
      ...(e.REDIS_URL ? { url: e.REDIS_URL } : {}),
      host: e.REDIS_HOST,
      port: e.REDIS_PORT,
      ...(e.REDIS_USERNAME ? { username: e.REDIS_USERNAME } : {}),
      ...(e.REDIS_PASSWORD ? { password: e.REDIS_PASSWORD } : {}),
      tls: e.REDIS_TLS_ENABLED,
      cluster: e.REDIS_CLUSTER === "auto" ? "auto" : e.REDIS_CLUSTER === "true",
      clusterNodes: (e.REDIS_CLUSTER_NODES?.split(",") ?? []).map((n) => {
        const at = n.lastIndexOf(":");
        return { host: n.slice(0, at), port: Number(n.slice(at + 1)) };
      }),
      keyPrefix: e.REDIS_KEY_PREFIX,
      connectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    },
    presence: { graceMs: e.DISCONNECT_GRACE_MS, leaseMs: e.INSTANCE_LEASE_MS, sweepMs: e.PRESENCE_SWEEP_MS },
    typingTimeoutMs: e.TYPING_TIMEOUT_MS,
    limits: { maxMessageLength: e.MAX_MESSAGE_LENGTH, maxPayloadBytes: e.MAX_PAYLOAD_BYTES },
    history: {
      limit: e.HISTORY_LIMIT,
      maxBytes: e.HISTORY_MAX_BYTES,
      retentionMs: e.HISTORY_RETENTION_MS,
      dedupeWindowMs: e.DEDUPE_WINDOW_MS,
      flushMs: e.HISTORY_FLUSH_MS,
    },
    ...(e.AUTH_JWT_SECRET || e.AUTH_JWT_PUBLIC_KEY
      ? {
          auth: {
            ...(e.AUTH_JWT_SECRET ? { secret: e.AUTH_JWT_SECRET } : {}),
            ...(e.AUTH_JWT_PUBLIC_KEY ? { publicKey: e.AUTH_JWT_PUBLIC_KEY } : {}),
            ...(e.AUTH_JWT_ISSUER ? { issuer: e.AUTH_JWT_ISSUER } : {}),
            ...(e.AUTH_JWT_AUDIENCE ? { audience: e.AUTH_JWT_AUDIENCE } : {}),
            userIdClaim: e.AUTH_USER_ID_CLAIM,
            usernameClaim: e.AUTH_USERNAME_CLAIM,
            ...(e.AUTH_ROOMS_CLAIM ? { roomsClaim: e.AUTH_ROOMS_CLAIM } : {}),
            requireExp: e.AUTH_REQUIRE_EXP,
          },
        }
      : {}),
    rateLimits: {
      messagesPerSecond: e.RATE_MESSAGES_PER_SECOND,
      messagesBurst: e.RATE_MESSAGES_BURST,
      joinsPerMinute: e.RATE_JOINS_PER_MINUTE,
      connectionsPerMinute: e.RATE_CONNECTIONS_PER_MINUTE,
      abuseDisconnectAfter: e.RATE_ABUSE_DISCONNECT_AFTER,
      maxConnections: e.MAX_CONNECTIONS,
      joinTimeoutMs: e.JOIN_TIMEOUT_MS,
    },
    trustProxy: e.TRUST_PROXY,
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
    demoPage: e.DEMO_PAGE ?? e.NODE_ENV === "development",
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}

/** Loads `.env` from the working directory, if there is one; real environment variables win. */
export function loadDotEnv(path = ".env"): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

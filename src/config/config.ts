import { existsSync } from "node:fs";
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
const origins = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.url({ message: "must be a comma-separated list of origins (scheme://host[:port])" })));

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
  FRONTEND_ORIGIN: z.url({ message: "must be an origin such as https://example.cloudfront.net" }).optional(),

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
  /** Prefix of every Redis key and channel; lets several deployments share one Redis. */
  REDIS_KEY_PREFIX: z.string().default(""),
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

  /** Longest message content, in characters. */
  MAX_MESSAGE_LENGTH: int(1, 1_000_000).default(5000),
  /** Largest Socket.IO packet, in bytes; a bigger one closes the connection. */
  MAX_PAYLOAD_BYTES: int(1024, 100_000_000).default(262_144),

  /** How long a SIGTERM drain may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(10_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

type Env = z.infer<typeof schema>;

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
    keyPrefix: string;
    connectTimeoutMs: number;
    commandTimeoutMs: number;
  };
  presence: { graceMs: number; leaseMs: number; sweepMs: number };
  limits: { maxMessageLength: number; maxPayloadBytes: number };
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
      keyPrefix: e.REDIS_KEY_PREFIX,
      connectTimeoutMs: e.REDIS_CONNECT_TIMEOUT_MS,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    },
    presence: { graceMs: e.DISCONNECT_GRACE_MS, leaseMs: e.INSTANCE_LEASE_MS, sweepMs: e.PRESENCE_SWEEP_MS },
    limits: { maxMessageLength: e.MAX_MESSAGE_LENGTH, maxPayloadBytes: e.MAX_PAYLOAD_BYTES },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  };
}

/** Loads `.env` from the working directory, if there is one; real environment variables win. */
export function loadDotEnv(path = ".env"): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

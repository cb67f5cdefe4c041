import { ChatService } from "../../src/chat-service.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/logger.js";

export const TEST_GRACE_MS = 400;

/** Settings for a fast test instance; `env` overrides any of them. */
export function testEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: "0",
    HOST: "127.0.0.1",
    NODE_ENV: "test",
    REDIS_HOST: "127.0.0.1",
    REDIS_PORT: "1",
    REDIS_CONNECT_TIMEOUT_MS: "1000",
    DISCONNECT_GRACE_MS: String(TEST_GRACE_MS),
    INSTANCE_LEASE_MS: "1500",
    PRESENCE_SWEEP_MS: "100",
    // Tests open many connections from one address and send faster than a person types; the
    // rate-limit tests set their own limits.
    RATE_CONNECTIONS_PER_MINUTE: "100000",
    RATE_MESSAGES_PER_SECOND: "100",
    RATE_MESSAGES_BURST: "1000",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...env,
  };
}

export interface RunningService {
  service: ChatService;
  url: string;
  port: number;
  stop: () => Promise<void>;
}

/** An in-process instance on a free port. */
export async function startService(env: Record<string, string> = {}): Promise<RunningService> {
  const config = loadConfig(testEnv(env));
  const service = await ChatService.create(config, createLogger(config.logLevel));
  const port = await service.start();
  return { service, port, url: `http://127.0.0.1:${port}`, stop: () => service.stop() };
}

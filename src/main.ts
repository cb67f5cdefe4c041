import { ChatService } from "./chat-service.js";
import { ConfigError, loadConfig, loadDotEnv } from "./config/config.js";
import { createLogger } from "./logger.js";

loadDotEnv();
let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger(config.logLevel, config.env === "development" && process.stdout.isTTY);
// Bad input or a failing dependency must never take the process down; log and keep serving.
process.on("unhandledRejection", (reason) => logger.error({ err: reason }, "unhandled rejection"));

const service = await ChatService.create(config, logger);

const shutdown = (signal: string) => {
  logger.info({ signal }, "shutting down");
  const timer = setTimeout(() => {
    logger.warn("shutdown timed out; exiting");
    process.exit(1);
  }, config.shutdownTimeoutMs);
  timer.unref();
  service.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    },
  );
};
process.once("SIGTERM", () => shutdown("SIGTERM"));
process.once("SIGINT", () => shutdown("SIGINT"));

service.start().catch((err: unknown) => {
  logger.fatal({ err }, "failed to start");
  process.exit(1);
});

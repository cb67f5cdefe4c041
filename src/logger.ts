import { pino, type Logger } from "pino";

export type { Logger };

/** Structured JSON logs; never log message content. */
export function createLogger(level: string, pretty = false): Logger {
  return pino({
    level,
    base: { service: "chat-service" },
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true } } } : {}),
  });
}

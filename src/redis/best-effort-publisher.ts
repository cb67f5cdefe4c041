import type { Redis } from "ioredis";
import type { Logger } from "../logger.js";

/**
 * Wraps the adapter's publishing client so that a failed publish (Redis away) is logged once
 * per outage instead of surfacing as an unhandled rejection. Local sockets are served by the
 * adapter regardless; only the other instances miss the message.
 */
export function bestEffortPublisher(client: Redis, logger: Logger, onFailure: () => void): Redis {
  let failing = false;
  client.on("ready", () => {
    failing = false;
  });
  const publish = (...args: Parameters<Redis["publish"]>) =>
    client.publish(...args).catch((err: Error) => {
      onFailure();
      if (!failing) logger.warn({ err: err.message }, "redis publish failed: other instances miss broadcasts");
      failing = true;
      return 0;
    });
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "publish") return publish;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

import type { Logger } from "../logger.js";
import type { RedisClient } from "./connection.js";

/**
 * Wraps the adapter's publishing client so that a failed publish (Redis away) is logged once
 * per outage instead of surfacing as an unhandled rejection. Local sockets are served by the
 * adapter regardless; only the other instances miss the message.
 */
export function bestEffortPublisher<C extends RedisClient>(client: C, logger: Logger, onFailure: () => void): C {
  let failing = false;
  client.on("ready", () => {
    failing = false;
  });
  const bestEffort = (sent: Promise<unknown>) =>
    sent.catch((err: Error) => {
      onFailure();
      if (!failing) logger.warn({ err: err.message }, "redis publish failed: other instances miss broadcasts");
      failing = true;
      return 0;
    });
  // Classic publishes on a single node, sharded ones (SPUBLISH) on a cluster.
  const publish = (channel: string, message: string | Buffer) => bestEffort(client.publish(channel, message));
  const spublish = (channel: string, message: string | Buffer) => bestEffort(client.spublish(channel, message));
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "publish") return publish;
      if (prop === "spublish") return spublish;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

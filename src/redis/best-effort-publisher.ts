import type { Logger } from "../logger.js";
import type { RedisClient } from "./connection.js";

/**
 * Client states in which ioredis refuses a command at once when it has no offline queue.
 * Not "connect" (a standalone client still writes PUBLISH, flagged as allowed while loading,
 * before its ready check) nor "wait" (the command starts the connection).
 */
const REFUSING = new Set(["connecting", "reconnecting", "disconnecting", "close", "end"]);

/**
 * Wraps the adapter's publishing client so that a failed publish (Redis away) is logged once
 * per outage instead of surfacing as an unhandled rejection. Local sockets are served by the
 * adapter regardless; only the other instances miss the message.
 *
 * While the client is between connections a publish is not attempted at all: the client has
 * no offline queue, so it would only be refused, and a refused command costs an Error with
 * its stack per broadcast (in memory mode every room publishes, its hosts being unknown).
 * That was ~50 µs per broadcast, a tenth of a core at 2,000 messages/s (bench/RESULTS.md).
 */
export function bestEffortPublisher<C extends RedisClient>(client: C, logger: Logger, onFailure: () => void): C {
  let failing = false;
  client.on("ready", () => {
    failing = false;
  });
  const failed = (reason: string) => {
    onFailure();
    if (!failing) logger.warn({ err: reason }, "redis publish failed: other instances miss broadcasts");
    failing = true;
    return 0;
  };
  const bestEffort = (send: () => Promise<unknown>): Promise<unknown> =>
    REFUSING.has(client.status)
      ? Promise.resolve(failed(`redis connection is ${client.status}`))
      : send().catch((err: Error) => failed(err.message));
  // Classic publishes on a single node, sharded ones (SPUBLISH) on a cluster.
  const publish = (channel: string, message: string | Buffer) => bestEffort(() => client.publish(channel, message));
  const spublish = (channel: string, message: string | Buffer) => bestEffort(() => client.spublish(channel, message));
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "publish") return publish;
      if (prop === "spublish") return spublish;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

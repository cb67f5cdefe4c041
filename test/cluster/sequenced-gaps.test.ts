import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../helpers/cluster.js";
import { eventually, joined, record, sleep, type Client } from "../helpers/clients.js";
import type { RedisServer } from "../helpers/redis-server.js";

/**
 * Pub/sub is at most once: a subscriber that loses its connection misses what is published
 * until it has subscribed again. A room split over two instances gets its messages through
 * that channel, each naming the one stored before it; the instance that missed some reads
 * them back from the history before it delivers the next, so its members get every message,
 * once, in order. (On a Redis Cluster the same holds when a slot moves under a sharded
 * subscription: test/cluster/redis-cluster-events.test.ts.)
 */
let cluster: Cluster<RedisServer>;
const clients: Client[] = [];

beforeAll(async () => {
  cluster = await Cluster.startOnSingleNode(2);
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster.stop();
});

describe("messages lost in transit", () => {
  it("a subscriber connection cut while a split room chats: every message reaches the other side, once, in order", async () => {
    const room = "gaps-1";
    const alice = await joined(cluster.instances[0]!.url, "alice", room);
    const bob = await joined(cluster.instances[1]!.url, "bob", room);
    clients.push(alice, bob);
    const atBob = record<{ content: string; id: string }>(bob, "receive_message");
    const sent: string[] = [];
    const send = async () => {
      const content = `m${sent.length}`;
      const ack = (await alice.emitWithAck("send_message", { message: { userId: "alice", content } })) as {
        ok: boolean;
      };
      expect(ack.ok).toBe(true);
      sent.push(content);
    };
    await send();
    await eventually(() => atBob.length === 1, 5000, "the first message crosses");

    // Cut every subscriber connection (both instances reconnect and subscribe again) while
    // alice chats on; then a few more once all is back.
    const redis = cluster.redis.client();
    try {
      const chatting = (async () => {
        for (let i = 0; i < 30; i++) {
          await send();
          await sleep(20);
        }
      })();
      await sleep(100);
      const killed = await redis.call("CLIENT", "KILL", "TYPE", "pubsub");
      expect(Number(killed)).toBeGreaterThan(0);
      await chatting;
    } finally {
      redis.disconnect();
    }
    // The next message shows bob's instance the gap (sent again until the subscription is back).
    await eventually(
      async () => {
        if (atBob.length === sent.length) return true;
        await send();
        await sleep(100);
        return atBob.length === sent.length;
      },
      10_000,
      "every message at bob",
    );
    expect(atBob.map((m) => m.content)).toEqual(sent);
    const ids = atBob.map((m) => m.id);
    expect(ids).toEqual([...ids].sort());
  }, 60_000);
});

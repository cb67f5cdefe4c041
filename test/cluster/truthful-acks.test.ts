import { afterEach, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import type { RedisServer } from "../helpers/redis-server.js";
import { Cluster } from "../helpers/cluster.js";
import { connect, disconnected, eventually, joined, nextEvent, record, type Client } from "../helpers/clients.js";

/**
 * An acknowledgement tells the truth: `{ok: true}` without `stored: false` means the message
 * is in the room's shared history, through a Redis outage and a crash; `duplicate: true`
 * only for a message whose first copy is stored.
 */
let cluster: Cluster<RedisServer> | undefined;
let redis: Redis | undefined;
const clients: Client[] = [];

async function startCluster(n: number, env: Record<string, string> = {}) {
  cluster = await Cluster.startOnSingleNode(n, env);
  redis = cluster.redis.client();
  redis.on("error", () => {});
  return cluster;
}
async function on(url: string, userId: string, roomId: string): Promise<Client> {
  const c = await joined(url, userId, roomId);
  clients.push(c);
  return c;
}
const health = async (url: string) => (await fetch(`${url}/health`)).json() as Promise<{ mode: string }>;
const say = (c: Client, userId: string, content: string, clientMessageId?: string) =>
  c.emitWithAck("send_message", {
    message: { userId, content, ...(clientMessageId === undefined ? {} : { clientMessageId }) },
  });

/** Joins as a new user and resolves with the contents of the chat_history received. */
async function historyOf(url: string, roomId: string): Promise<string[]> {
  const c = await connect(url);
  clients.push(c);
  const history = nextEvent(c, "chat_history");
  await c.emitWithAck("join_room", { userId: `reader-${Math.random()}`, username: "Reader", roomId });
  return (await history).messages.map((m: { content: string }) => m.content);
}

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  redis?.disconnect();
  await cluster?.stop();
  cluster = undefined;
});

describe("truthful acknowledgements", () => {
  it("what memory mode acknowledged is written back to the shared history, claims included", async () => {
    const c = await startCluster(2);
    const [a, b] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const room = "writeback-1";
    const alice = await on(a.url, "alice", room);
    expect((await say(alice, "alice", "before", "cm-0")).ok).toBe(true);

    await c.redis.stop("SIGKILL");
    await eventually(async () => (await health(a.url)).mode === "memory", 5000, "memory mode on a");
    const acked: string[] = [];
    for (let i = 1; i <= 30; i++) {
      const ack = await say(alice, "alice", `during ${i}`, `cm-${i}`);
      expect(ack).toMatchObject({ ok: true });
      if (ack.stored !== false) acked.push(`during ${i}`);
    }
    expect(acked.length).toBe(30);

    await c.redis.restart(); // empty: it keeps nothing on disk
    await eventually(async () => (await health(a.url)).mode === "shared", 10_000, "shared mode again on a");
    await a.waitForLog((l) => l.msg === "history written back to redis", 10_000, "history write-back log");
    await eventually(async () => (await health(b.url)).mode === "shared", 10_000, "shared mode again on b");

    // A newcomer on the other instance sees every acknowledged message, in order.
    const seen = await historyOf(b.url, room);
    expect(seen).toEqual(acked);
    // A retry on the other instance is a duplicate, delivered to nobody.
    const bob = await on(b.url, "bob", room);
    const received = record(bob, "receive_message");
    const alice2 = await on(b.url, "alice", room);
    const retry = await say(alice2, "alice", "during 7", "cm-7");
    expect(retry).toMatchObject({ ok: true, duplicate: true });
    const barrier = nextEvent(bob, "receive_message");
    expect((await say(alice2, "alice", "after")).ok).toBe(true);
    await barrier;
    expect(received.map((m) => m.content)).toEqual(["after"]);
  });

  it("a message whose instance died between its claim and its store is not a duplicate of itself", async () => {
    // A long window holds the second message in its instance: killed then, it never reaches Redis.
    const c = await startCluster(1, { HISTORY_FLUSH_MS: "3000", REDIS_COMMAND_TIMEOUT_MS: "500" });
    const a = c.instances[0]!;
    const room = "claimed-1";
    const alice = await on(a.url, "alice", room);
    expect((await say(alice, "alice", "stored at once")).ok).toBe(true);
    alice.emit("send_message", { message: { userId: "alice", content: "lost", clientMessageId: "retry-me" } });
    await eventually(
      async () => (await redis!.keys("dedupe:*")).length === 1,
      5000,
      "the claim of the held message in Redis",
    );
    await a.kill("SIGKILL");
    expect(await redis!.zcard(`room:${room}:history`)).toBe(1);

    const b = await c.add({ HISTORY_FLUSH_MS: "1500", REDIS_COMMAND_TIMEOUT_MS: "500" });
    const bob = await on(b.url, "bob", room);
    const alice2 = await on(b.url, "alice", room);
    const got = nextEvent(bob, "receive_message", () => true, 10_000);
    const retry = await say(alice2, "alice", "lost", "retry-me");
    expect(retry).toMatchObject({ ok: true });
    expect(retry.duplicate).toBeUndefined();
    expect((await got).content).toBe("lost");
    expect(await historyOf(b.url, room)).toEqual(["stored at once", "lost"]);
    // And now that it is stored, a further retry is the duplicate.
    expect(await say(alice2, "alice", "lost", "retry-me")).toMatchObject({ ok: true, duplicate: true, id: retry.id });
  });
});

describe("the history writer alone", () => {
  it("lost: messages are kept in memory and acknowledged, then written to Redis when it is back", async () => {
    const c = await startCluster(1);
    const a = c.instances[0]!;
    const room = "writer-1";
    const alice = await on(a.url, "alice", room);
    expect((await say(alice, "alice", "before")).ok).toBe(true);
    // Cut the writer's connection, and keep it out: no new connection is accepted meanwhile.
    const clients = String(await redis!.client("LIST"));
    const writer = /id=(\d+) .*name=chat:history-writer/.exec(clients)?.[1];
    expect(writer, "the history writer's connection in CLIENT LIST").toBeDefined();
    const connected = clients.trim().split("\n").length;
    await redis!.config("SET", "maxclients", String(connected - 1));
    try {
      await redis!.client("KILL", "ID", writer!);
      await eventually(
        async () => {
          const ready = (await (await fetch(`${a.url}/ready`)).json()) as { problems?: { redis?: string } };
          return /history/.test(ready.problems?.redis ?? "");
        },
        5000,
        "/ready naming the history writer",
      );
      const during = await say(alice, "alice", "while the writer is down");
      expect(during).toMatchObject({ ok: true });
      expect(during.stored).toBeUndefined();
    } finally {
      await redis!.config("SET", "maxclients", "10000");
    }
    await eventually(
      async () => (await redis!.zcard(`room:${room}:history`)) === 2,
      10_000,
      "the kept message written to Redis",
    );
    expect(await historyOf(a.url, room)).toEqual(["before", "while the writer is down"]);
  });
});

describe("refused events", () => {
  it("a connection that keeps sending refused events is closed, and its refusals are not all logged", async () => {
    const c = await startCluster(1, { RATE_ABUSE_DISCONNECT_AFTER: "50" });
    const a = c.instances[0]!;
    const attacker = await connect(a.url);
    clients.push(attacker);
    const gone = disconnected(attacker);
    for (let i = 0; i < 200 && attacker.connected; i++) {
      attacker.emit(i % 2 ? "no_such_event" : "join_room", { nonsense: i });
    }
    expect(await gone).toBe("io server disconnect");
    await a.waitForLog((l) => String(l.msg).startsWith("closing a connection that keeps sending refused"));
    const refusalLines = a.logs.filter((l) => String(l.msg).startsWith("event refused")).length;
    expect(refusalLines).toBeLessThanOrEqual(5);
    // Others are served as before.
    const fine = await on(a.url, "fine", "refusals-1");
    expect(fine.connected).toBe(true);
  });
});

import { afterEach, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import type { RedisServer } from "../helpers/redis-server.js";
import { Cluster, CLUSTER_GRACE_MS, CLUSTER_LEASE_MS } from "../helpers/cluster.js";
import { TcpProxy } from "../helpers/tcp-proxy.js";
import {
  connect,
  disconnected,
  eventually,
  join,
  joined,
  nextEvent,
  record,
  sleep,
  systemEvent,
  type Client,
} from "../helpers/clients.js";

let cluster: Cluster<RedisServer> | undefined;
let redis: Redis | undefined;
const clients: Client[] = [];

async function startCluster(n: number, env: Record<string, string> = {}) {
  cluster = await Cluster.startOnSingleNode(n, env);
  redis = cluster.redis.client();
  redis.on("error", () => {});
  return cluster;
}
async function on(url: string, userId: string, roomId: string, options = {}): Promise<Client> {
  const c = await joined(url, userId, roomId, options);
  clients.push(c);
  return c;
}
const health = async (url: string) => (await fetch(`${url}/health`)).json() as Promise<{ mode: string }>;

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  redis?.disconnect();
  await cluster?.stop();
  cluster = undefined;
});

/** Detection (lease + a sweep) plus the grace period, with slack for a loaded machine. */
const CRASH_BOUND_MS = CLUSTER_LEASE_MS + CLUSTER_GRACE_MS + 3000;
/**
 * How long a test waits for a crash's announcement: the bound plus room for a busy two-core
 * machine running other test files (a 5.3 s wait timed out once in CI there).
 */
const CRASH_WAIT_MS = CRASH_BOUND_MS + 6000;

describe("instance failures", () => {
  it("a killed instance leaves no ghosts: its users are announced once by the survivors", async () => {
    const c = await startCluster(2);
    const [a, b] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const alice = await on(b.url, "alice", "crash-1");
    const arrived = nextEvent(alice, "system_message", systemEvent("connect", "bob"));
    await on(a.url, "bob", "crash-1");
    await arrived;
    // A room that lived only on the dead instance must disappear too.
    await on(a.url, "solo", "crash-only-a");
    const notices = record(alice, "system_message");

    const killedAt = Date.now();
    await a.kill("SIGKILL");
    await nextEvent(alice, "system_message", systemEvent("disconnect", "bob"), CRASH_WAIT_MS);
    const took = Date.now() - killedAt;
    expect(took).toBeGreaterThanOrEqual(CLUSTER_GRACE_MS);
    expect(took).toBeLessThan(CRASH_WAIT_MS);
    await eventually(async () => (await redis!.exists("room:crash-only-a:users")) === 0, CRASH_WAIT_MS, "room gone");
    await sleep(CLUSTER_GRACE_MS);
    expect(notices.filter((n) => n.eventType === "disconnect")).toHaveLength(1);
    expect(await redis!.smembers("presence:instances")).toHaveLength(1);
  });

  it("a user of a killed instance who comes back elsewhere within the grace period is not announced", async () => {
    const c = await startCluster(2);
    const [a, b] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const alice = await on(b.url, "alice", "crash-2");
    const bob = await on(a.url, "bob", "crash-2");
    await sleep(100);
    const notices = record(alice, "system_message");
    await a.kill("SIGKILL");
    await disconnected(bob);
    // Bob's client reconnects to the surviving instance at once.
    await on(b.url, "bob", "crash-2");
    await sleep(CRASH_BOUND_MS);
    expect(notices).toEqual([]);
    const value = JSON.parse((await redis!.hget("room:crash-2:users", "bob"))!);
    expect(value).toMatchObject({ isDisconnectConfirm: false });
    expect(Object.values(value.instances)).toEqual([1]);
  });

  it("a restarted single instance settles what its previous life left in Redis", async () => {
    const c = await startCluster(1);
    const a = c.instances[0]!;
    await on(a.url, "alice", "restart-1");
    await on(a.url, "bob", "restart-1");
    await a.kill("SIGKILL");
    clients.splice(0).forEach((x) => x.close());
    await a.restart();
    // Alice comes back; Bob does not.
    const alice = await connect(a.url);
    clients.push(alice);
    const notices = record(alice, "system_message");
    const bobLeft = nextEvent(alice, "system_message", systemEvent("disconnect", "bob"), CRASH_WAIT_MS);
    const existing = await join(alice, "alice", "restart-1");
    expect(existing.users.map((u: { userId: string }) => u.userId)).toEqual(["bob"]);
    await bobLeft;
    await sleep(CLUSTER_GRACE_MS);
    expect(notices.filter((n) => n.eventType !== "existing_users").map((n) => `${n.eventType}:${n.userId}`)).toEqual([
      "disconnect:bob",
    ]);
    expect(JSON.parse((await redis!.hget("room:restart-1:users", "alice"))!)).toMatchObject({
      isDisconnectConfirm: false,
    });
  });

  it("SIGTERM drains: clients are sent away to reconnect, nobody is announced for it, leavers are announced by the rest", async () => {
    const c = await startCluster(2);
    const [a, b] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const alice = await on(b.url, "alice", "drain-1");
    const bob = await on(a.url, "bob", "drain-1");
    const carol = await on(a.url, "carol", "drain-1");
    await sleep(100);
    const notices = record(alice, "system_message");
    const bobGone = disconnected(bob);
    const carolGone = disconnected(carol);
    const t0 = Date.now();
    const code = await a.kill("SIGTERM");
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000);
    // "transport close" is the reason a Socket.IO client reconnects by itself after.
    expect(await bobGone).toBe("transport close");
    expect(await carolGone).toBe("transport close");
    await on(b.url, "bob", "drain-1");
    await eventually(
      () => notices.some((n) => n.eventType === "disconnect" && n.userId === "carol"),
      CRASH_WAIT_MS,
      "carol announced",
    );
    await sleep(CLUSTER_GRACE_MS);
    expect(notices.map((n) => `${n.eventType}:${n.userId}`)).toEqual(["disconnect:carol"]);
    expect(await redis!.smembers("presence:instances")).toHaveLength(1);
  });
});

describe("Redis failures", () => {
  it("keeps serving from memory while Redis is down, then writes back and resumes pub/sub", async () => {
    const c = await startCluster(2);
    const [a, b] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const alice = await on(a.url, "alice", "outage-1");
    const arrived = nextEvent(alice, "system_message", systemEvent("connect", "bob"));
    const bob = await on(a.url, "bob", "outage-1");
    await arrived;
    const carol = await on(b.url, "carol", "outage-1");

    await c.redis.stop("SIGKILL");
    await eventually(async () => (await health(a.url)).mode === "memory", 5000, "memory mode");
    await a.waitForLog((l) => String(l.msg).includes("serving rooms from memory"));

    // Same-instance chat and presence keep working.
    const got = nextEvent(bob, "receive_message");
    alice.emit("send_message", { message: { userId: "alice", content: "during the outage" } });
    expect((await got).content).toBe("during the outage");
    // The room is also on b, so each broadcast would be published: while Redis is away that
    // is counted, and told once for the outage; delivery here does not wait for it.
    for (const n of [1, 2, 3]) {
      const next = nextEvent(bob, "receive_message");
      alice.emit("send_message", { message: { userId: "alice", content: `outage ${n}` } });
      expect((await next).content).toBe(`outage ${n}`);
    }
    const publishFailed = (l: Record<string, unknown>) => String(l.msg).startsWith("redis publish failed");
    await a.waitForLog(publishFailed);
    expect(a.logs.filter(publishFailed)).toHaveLength(1);
    // Not even tried while the client is between connections (a refused command costs more).
    expect(a.logs.find(publishFailed)?.err).toMatch(/^redis connection is (connecting|reconnecting|close)$/);
    const scrape = await (await fetch(`${a.url}/metrics`)).text();
    expect(Number(/^chat_redis_errors_total\{kind="publish"\} (\d+)$/m.exec(scrape)?.[1])).toBeGreaterThanOrEqual(4);
    const dave = await on(a.url, "dave", "outage-1");
    const existing = await join(dave, "dave", "outage-1");
    expect(existing.users.map((u: { userId: string }) => u.userId)).toEqual(expect.arrayContaining(["alice", "bob"]));

    // Redis comes back empty (it keeps nothing on disk).
    await c.redis.restart();
    await eventually(async () => (await health(a.url)).mode === "shared", 10_000, "shared mode again (a)");
    await eventually(async () => (await health(b.url)).mode === "shared", 10_000, "shared mode again (b)");
    await eventually(async () => (await redis!.hlen("room:outage-1:users")) === 4, 10_000, "state written back");

    // Pub/sub works again in both directions.
    await eventually(
      async () => {
        const toCarol = nextEvent(carol, "receive_message", () => true, 300).then(
          () => true,
          () => false,
        );
        alice.emit("send_message", { message: { userId: "alice", content: "after" } });
        return toCarol;
      },
      10_000,
      "a → b delivery",
    );
    const toAlice = nextEvent(alice, "receive_message");
    carol.emit("send_message", { message: { userId: "carol", content: "b → a" } });
    expect((await toAlice).content).toBe("b → a");
  });

  it("starts in memory mode when Redis is down, and joins the cluster when it comes up", async () => {
    const c = await startCluster(1);
    const b = c.instances[0]!;
    await c.redis.stop();
    const a = await c.add();
    expect((await health(a.url)).mode).toBe("memory");
    const alice = await on(a.url, "alice", "late-1");
    await c.redis.restart();
    await eventually(async () => (await health(a.url)).mode === "shared", 10_000, "a shared");
    await eventually(async () => (await health(b.url)).mode === "shared", 10_000, "b shared");
    const arrived = nextEvent(alice, "system_message", systemEvent("connect", "bob"), 5000);
    const bob = await connect(b.url);
    clients.push(bob);
    const existing = await join(bob, "bob", "late-1");
    expect(existing.users).toEqual([{ userId: "alice", username: "ALICE" }]);
    await arrived;
    const toBob = nextEvent(bob, "receive_message");
    alice.emit("send_message", { message: { userId: "alice", content: "hello from a" } });
    expect((await toBob).content).toBe("hello from a");
  });

  it("connects with a Redis URL and password", async () => {
    const c = await startCluster(1);
    const admin = c.redis.client();
    await admin.config("SET", "requirepass", "s3cret");
    admin.disconnect();
    const a = await c.add({ REDIS_URL: `redis://:s3cret@127.0.0.1:${c.redis.port}`, REDIS_PORT: "1" });
    expect((await health(a.url)).mode).toBe("shared");
    const b = await c.add({ REDIS_HOST: "127.0.0.1", REDIS_PASSWORD: "s3cret" });
    expect((await health(b.url)).mode).toBe("shared");
    const wrong = await c.add({ REDIS_PASSWORD: "wrong" });
    expect((await health(wrong.url)).mode).toBe("memory");
    // Not silently: /ready says what Redis answered.
    const ready = (await (await fetch(`${wrong.url}/ready`)).json()) as { problems?: { redis?: string } };
    expect(ready.problems?.redis).toMatch(/WRONGPASS|invalid username-password|NOAUTH/i);
  });

  it("a frozen Redis delays nothing: the message is delivered at once, its failed store logged", async () => {
    const c = await startCluster(1, { REDIS_COMMAND_TIMEOUT_MS: "400" });
    const a = c.instances[0]!;
    const alice = await on(a.url, "alice", "frozen-1");
    const bob = await on(a.url, "bob", "frozen-1");
    c.redis.freeze();
    try {
      const t0 = Date.now();
      const got = nextEvent(bob, "receive_message");
      const acked = alice.emitWithAck("send_message", { message: { userId: "alice", content: "live anyway" } });
      expect((await got).content).toBe("live anyway");
      expect(Date.now() - t0).toBeLessThan(300);
      // Ten more, right behind it: one batch, one failed write.
      const more = Array.from({ length: 10 }, (_, i) =>
        alice.emitWithAck("send_message", { message: { userId: "alice", content: `also ${i}` } }),
      );
      expect(await acked).toMatchObject({ ok: true, stored: false });
      for (const ack of await Promise.all(more)) expect(ack).toMatchObject({ ok: true, stored: false });
      // Logged once per failed write, not once per message.
      await a.waitForLog((l) => l.msg === "message not stored");
      const unstored = a.logs.filter((l) => l.msg === "message not stored").length;
      expect(unstored).toBeGreaterThanOrEqual(1);
      expect(unstored).toBeLessThanOrEqual(3);
      await eventually(async () => (await health(a.url)).mode === "memory", 5000, "memory mode");
    } finally {
      c.redis.thaw();
    }
    await eventually(async () => (await health(a.url)).mode === "shared", 10_000, "shared again");
    const after = nextEvent(bob, "receive_message");
    expect(await alice.emitWithAck("send_message", { message: { userId: "alice", content: "thawed" } })).toMatchObject({
      ok: true,
    });
    expect((await after).content).toBe("thawed");
  });

  it("a split room's message held by a frozen Redis reaches the other instance once, not again on the thaw", async () => {
    const c = await startCluster(2, { REDIS_COMMAND_TIMEOUT_MS: "400" });
    const [a, b] = c.instances as [(typeof c.instances)[0], (typeof c.instances)[0]];
    const alice = await on(a.url, "alice", "frozen-split-1");
    const bob = await on(b.url, "bob", "frozen-split-1");
    const atBob = record<{ content: string }>(bob, "receive_message");
    // The room is split: its messages take the one-order path (a script that stores and publishes).
    const first = nextEvent(bob, "receive_message");
    await alice.emitWithAck("send_message", { message: { userId: "alice", content: "before" } });
    await first;
    c.redis.freeze();
    try {
      // The script waits in the frozen server's socket; the sender gives up on it and delivers
      // the message its other way.
      expect(
        await alice.timeout(5000).emitWithAck("send_message", { message: { userId: "alice", content: "held" } }),
      ).toMatchObject({ ok: true });
    } finally {
      c.redis.thaw();
    }
    // Once Redis answers again, the held script runs: it must not publish the message again.
    await eventually(
      async () => (await health(a.url)).mode === "shared" && (await health(b.url)).mode === "shared",
      10_000,
      "shared again",
    );
    await eventually(
      async () => {
        const before = atBob.length;
        await alice.emitWithAck("send_message", { message: { userId: "alice", content: "after" } });
        return eventually(() => atBob.length > before, 1000, "a message crosses").then(
          () => true,
          () => false,
        );
      },
      15_000,
      "messages crossing again after the thaw",
    );
    expect(atBob.filter((m) => m.content === "held").length).toBeLessThanOrEqual(1);
  });

  it("an instance cut off from Redis alone rejoins the cluster: its users get the others' messages", async () => {
    const c = await startCluster(1);
    const a = c.instances[0]!;
    const proxy = await TcpProxy.start(c.redis.port);
    try {
      const b = await c.add({ REDIS_PORT: String(proxy.port) });
      // Alice's room lives on A alone, so A does not publish its messages.
      const alice = await on(a.url, "alice", "partition-1");
      proxy.cut();
      await eventually(async () => (await health(b.url)).mode === "memory", 5000, "b in memory mode");
      // Bob joins the room on B while B cannot tell anyone.
      const bob = await on(b.url, "bob", "partition-1");
      proxy.heal();
      await eventually(async () => (await health(b.url)).mode === "shared", 10_000, "b shared again");
      await eventually(
        async () => (await redis!.hexists("room:partition-1:users", "bob")) === 1,
        5000,
        "bob written back",
      );
      await eventually(
        async () => {
          const got = nextEvent(bob, "receive_message", () => true, 300).then(
            () => true,
            () => false,
          );
          alice.emit("send_message", { message: { userId: "alice", content: "are you there?" } });
          return got;
        },
        5000,
        "a message from A reaches bob on B",
      );
    } finally {
      await proxy.stop();
    }
  });
});

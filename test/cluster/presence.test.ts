import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster as RedisClusterClient, Redis } from "ioredis";
import { graceIndexSize } from "../helpers/test-redis.js";
import { Cluster, CLUSTER_GRACE_MS } from "../helpers/cluster.js";
import { monitor } from "../helpers/monitor.js";
import {
  connect,
  eventually,
  join,
  joined,
  nextEvent,
  record,
  sleep,
  systemEvent,
  type Client,
} from "../helpers/clients.js";

let cluster: Cluster;
let redis: Redis | RedisClusterClient;
let urls: string[];
const clients: Client[] = [];
let seq = 0;
const newRoom = () => `cluster-room-${++seq}`;

async function on(instance: number, userId: string, roomId: string): Promise<Client> {
  const c = await joined(urls[instance]!, userId, roomId);
  clients.push(c);
  return c;
}

async function stored(roomId: string, userId: string) {
  const raw = await redis.hget(cluster.redis.keys.room(roomId), userId);
  return raw ? JSON.parse(raw) : null;
}

beforeAll(async () => {
  cluster = await Cluster.start(3);
  urls = cluster.instances.map((p) => p.url);
  redis = cluster.redis.client();
});
afterEach(() => clients.splice(0).forEach((c) => c.close()));
afterAll(async () => {
  redis.disconnect();
  await cluster.stop();
});

describe("several instances, one Redis", () => {
  it("relays messages and notices between instances", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const arrived = nextEvent(alice, "system_message", systemEvent("connect", "bob"));
    const bob = await on(1, "bob", room);
    await arrived;
    const carol = await on(2, "carol", room);

    const toBob = nextEvent(bob, "receive_message");
    const toCarol = nextEvent(carol, "receive_message");
    alice.emit("send_message", { message: { userId: "alice", content: "across instances" } });
    expect((await toBob).content).toBe("across instances");
    expect((await toCarol).content).toBe("across instances");

    const toAlice = nextEvent(alice, "receive_message");
    carol.emit("send_message", { message: { senderId: "carol", text: "back" } });
    expect(await toAlice).toMatchObject({ senderId: "carol", text: "back" });

    const leftForAlice = nextEvent(alice, "system_message", systemEvent("disconnect", "bob"), CLUSTER_GRACE_MS * 6);
    const leftForCarol = nextEvent(carol, "system_message", systemEvent("disconnect", "bob"), CLUSTER_GRACE_MS * 6);
    bob.disconnect();
    await Promise.all([leftForAlice, leftForCarol]);
  });

  it("a drop on one instance and a rejoin on another within the grace period announce nothing", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const arrived = nextEvent(alice, "system_message", systemEvent("connect", "bob"));
    const bob = await on(1, "bob", room);
    await arrived;
    const notices = record(alice, "system_message");
    bob.disconnect();
    await eventually(async () => (await stored(room, "bob"))?.graceUntil !== undefined, 2000, "grace started");
    const bobAgain = await connect(urls[2]!);
    clients.push(bobAgain);
    const existing = await join(bobAgain, "bob", room);
    expect(existing.users).toEqual([{ userId: "alice", username: "ALICE" }]);
    await sleep(CLUSTER_GRACE_MS * 2);
    expect(notices).toEqual([]);
    const value = await stored(room, "bob");
    expect(value).toMatchObject({ isDisconnectConfirm: false });
    expect(value.graceUntil).toBeUndefined();
    expect(Object.values(value.instances)).toEqual([1]);
  });

  it("tabs of one user on different instances are one presence", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const notices = record(alice, "system_message");
    const tab1 = await on(1, "bob", room);
    const tab2 = await on(2, "bob", room);
    await eventually(() => notices.length >= 1);
    tab1.disconnect();
    await sleep(CLUSTER_GRACE_MS * 2);
    expect(notices.map((n) => n.eventType)).toEqual(["connect"]);
    expect(await stored(room, "bob")).toMatchObject({ isDisconnectConfirm: false });
    tab2.disconnect();
    await nextEvent(alice, "system_message", systemEvent("disconnect", "bob"), CLUSTER_GRACE_MS * 6);
  });

  it("announces each departure exactly once to every member, on every instance", async () => {
    const room = newRoom();
    const members = [await on(0, "m0", room), await on(1, "m1", room), await on(2, "m2", room)];
    const leaver = await on(1, "leaver", room);
    await sleep(100);
    const seen = members.map((m) => record(m, "system_message"));
    leaver.disconnect();
    await Promise.all(
      members.map((m) => nextEvent(m, "system_message", systemEvent("disconnect", "leaver"), CLUSTER_GRACE_MS * 6)),
    );
    await sleep(CLUSTER_GRACE_MS);
    for (const s of seen) expect(s.filter((n) => n.eventType === "disconnect")).toHaveLength(1);
  });

  it("a departure nobody else can hear is not published; one heard elsewhere is", async () => {
    const watch = await monitor(...(await cluster.redis.masters()));
    /** Departure notices about `room` published to Redis (classic or sharded). */
    const published = (room: string) =>
      watch.commands.filter(
        (c) =>
          /^s?publish$/i.test(c.args[0]!) &&
          c.args.some((a) => a.includes(room)) &&
          c.args.some((a) => a.includes("left the chat")),
      );
    try {
      const alone = await on(0, "dave", "departure-alone");
      alone.disconnect();
      await eventually(
        async () => (await redis.exists(cluster.redis.keys.room("departure-alone"))) === 0,
        CLUSTER_GRACE_MS * 6,
        "dave's departure confirmed",
      );
      // Confirmed by the same instance afterwards, so published after dave's would have been.
      const erin = await on(1, "erin", "departure-heard");
      const frank = await on(0, "frank", "departure-heard");
      const heard = nextEvent(erin, "system_message", systemEvent("disconnect", "frank"), CLUSTER_GRACE_MS * 6);
      frank.disconnect();
      await heard;
      await eventually(() => published("departure-heard").length === 1, 5000, "frank's departure published");
      expect(published("departure-alone")).toEqual([]);
    } finally {
      watch.stop();
    }
  });

  it("leave_session is announced at once on every instance", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const carol = await on(2, "carol", room);
    const bob = await on(1, "bob", room);
    const t0 = Date.now();
    const both = Promise.all(
      [alice, carol].map((c) => nextEvent(c, "system_message", systemEvent("disconnect", "bob"))),
    );
    bob.emit("leave_session");
    await both;
    expect(Date.now() - t0).toBeLessThan(CLUSTER_GRACE_MS);
  });

  it("deletes the room once everybody has gone, wherever they were", async () => {
    const room = newRoom();
    const a = await on(0, "a", room);
    const b = await on(1, "b", room);
    a.disconnect();
    b.emit("leave_session");
    await eventually(
      async () => (await redis.exists(cluster.redis.keys.room(room))) === 0,
      CLUSTER_GRACE_MS * 6,
      "room deleted",
    );
    // Stale entries (a user back within the grace period) are dropped by the sweep when due.
    await eventually(
      async () => (await graceIndexSize(cluster.redis, redis)) === 0,
      CLUSTER_GRACE_MS * 6,
      "grace index empty",
    );
  });

  it("a client reconnecting to another instance catches up on exactly what it missed", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const bob = await on(1, "bob", room);
    const seen = nextEvent(bob, "receive_message");
    await alice.emitWithAck("send_message", { message: { userId: "alice", content: "seen" } });
    const last = (await seen).id;
    bob.disconnect();
    await alice.emitWithAck("send_message", { message: { userId: "alice", content: "missed 1" } });
    await alice.emitWithAck("send_message", { message: { userId: "alice", content: "missed 2" } });
    const bobAgain = await connect(urls[2]!);
    clients.push(bobAgain);
    const history = nextEvent(bobAgain, "chat_history");
    await bobAgain.emitWithAck("join_room", { userId: "bob", username: "BOB", roomId: room, lastMessageId: last });
    expect((await history).messages.map((m: { content: string }) => m.content)).toEqual(["missed 1", "missed 2"]);
  });

  it("a retried send on another instance is not delivered twice", async () => {
    const room = newRoom();
    const bob = await on(0, "bob", room);
    const got = record(bob, "receive_message");
    const first = await on(1, "alice", room);
    const sent = await first.emitWithAck("send_message", {
      message: { userId: "alice", content: "exactly once", clientMessageId: "retry-1" },
    });
    first.disconnect();
    const second = await on(2, "alice", room);
    const retry = await second.emitWithAck("send_message", {
      message: { userId: "alice", content: "exactly once", clientMessageId: "retry-1" },
    });
    expect(retry).toMatchObject({ ok: true, id: sent.id, duplicate: true });
    await sleep(300);
    expect(got.map((m) => m.content)).toEqual(["exactly once"]);
  });

  it("a conversation across instances is stored in the order it was held", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const carol = await on(2, "carol", room);
    for (let i = 0; i < 10; i++) {
      const [who, socket] = i % 2 === 0 ? ["alice", alice] : ["carol", carol];
      await socket.emitWithAck("send_message", { message: { userId: who, content: `turn ${i}` } });
    }
    const late = await connect(urls[1]!);
    clients.push(late);
    const history = nextEvent(late, "chat_history");
    await late.emitWithAck("join_room", { userId: "late", username: "LATE", roomId: room });
    expect((await history).messages.map((m: { content: string }) => m.content)).toEqual(
      Array.from({ length: 10 }, (_, i) => `turn ${i}`),
    );
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Cluster, Redis } from "ioredis";
import { MemoryRoomStore } from "../../src/store/memory-room-store.js";
import { RedisRoomStore, type SyncFailure } from "../../src/store/redis-room-store.js";
import type { RoomStore } from "../../src/store/room-store.js";
import { RedisKeys } from "../../src/redis/keys.js";
import { RedisCluster } from "../helpers/redis-cluster.js";
import { RedisServer } from "../helpers/redis-server.js";

const GRACE = 200;
const A = "inst-a";
const B = "inst-b";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls confirmDue until something is confirmed (or the time is up). */
async function confirmWithin(store: RoomStore, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const due = await store.confirmDue(A, 100);
    if (due.length > 0 || Date.now() > deadline) return due;
    await sleep(20);
  }
}

let redisServer: RedisServer;
let single: Redis;
let redisCluster: RedisCluster;
let cluster: Cluster;

beforeAll(async () => {
  [redisServer, redisCluster] = await Promise.all([RedisServer.start(), RedisCluster.start(3)]);
  single = redisServer.client();
  cluster = redisCluster.client();
}, 60_000);
afterAll(async () => {
  single?.disconnect();
  cluster?.disconnect();
  await Promise.all([redisServer?.stop(), redisCluster?.stop()]);
});

/** A backend: its store, and for Redis, the client and key layout to look at what it stored. */
interface Backend {
  make: () => RoomStore;
  redis?: () => Redis | Cluster;
  keys: RedisKeys;
  flush: () => Promise<unknown>;
}
const backends: [string, Backend][] = [
  ["memory", { make: () => new MemoryRoomStore(), keys: new RedisKeys(), flush: async () => {} }],
  [
    "redis",
    {
      make: () => new RedisRoomStore(single, new RedisKeys(), 60_000),
      redis: () => single,
      keys: new RedisKeys(),
      flush: () => single.flushall(),
    },
  ],
  [
    "redis cluster",
    {
      make: () => new RedisRoomStore(cluster, new RedisKeys("", true), 60_000),
      redis: () => cluster,
      keys: new RedisKeys("", true),
      flush: () => redisCluster.flush(),
    },
  ],
];

describe.each(backends)("RoomStore contract (%s)", (name, { make, redis: client, keys, flush }) => {
  let store: RoomStore;
  let redis: Redis | Cluster;
  beforeEach(async () => {
    await flush();
    store = make();
    if (client) redis = client();
  });

  const join = (userId: string, connections = 1, instanceId = A, roomId = "r1") =>
    store.join({ roomId, userId, username: userId.toUpperCase(), instanceId, connections });

  it("announces a new user as connect and lists the others present", async () => {
    expect(await join("alice")).toMatchObject({ kind: "connect", users: [] });
    expect(await join("bob")).toMatchObject({ kind: "connect", users: [{ userId: "alice", username: "ALICE" }] });
  });

  it("treats a second tab and a rejoin in grace as the same presence", async () => {
    await join("alice");
    expect((await join("alice", 2)).kind).toBe("rejoin");
    expect(
      await store.drop({ roomId: "r1", userId: "alice", instanceId: A, connections: 1, graceMs: GRACE }),
    ).toBeNull();
    const remaining = await store.drop({
      roomId: "r1",
      userId: "alice",
      instanceId: A,
      connections: 0,
      graceMs: GRACE,
    });
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(GRACE);
    expect((await join("alice", 1, B)).kind).toBe("rejoin");
    await sleep(GRACE + 50);
    expect(await store.confirmDue(A, 10)).toEqual([]);
    expect((await store.roomUsers("r1"))[0]).toMatchObject({
      userId: "alice",
      isDisconnectConfirm: false,
      connections: 1,
    });
  });

  it("confirms a departure once after the grace period, then a return is a reconnect", async () => {
    await join("alice");
    await join("bob");
    await store.drop({ roomId: "r1", userId: "bob", instanceId: A, connections: 0, graceMs: GRACE });
    expect(await store.confirmDue(A, 10)).toEqual([]);
    expect(await confirmWithin(store, GRACE * 5)).toMatchObject([{ roomId: "r1", userId: "bob", username: "BOB" }]);
    expect(await store.confirmDue(A, 10)).toEqual([]);
    const users = await store.roomUsers("r1");
    expect(users.find((u) => u.userId === "bob")).toMatchObject({ isDisconnectConfirm: true });
    expect(await join("bob")).toMatchObject({ kind: "reconnect", users: [{ userId: "alice", username: "ALICE" }] });
  });

  it("says whether another instance holds a socket in the room of a confirmed departure", async () => {
    await join("alice", 1, B);
    await join("bob");
    await join("carol", 1, A, "r2");
    await store.drop({ roomId: "r1", userId: "bob", instanceId: A, connections: 0, graceMs: GRACE });
    await store.drop({ roomId: "r2", userId: "carol", instanceId: A, connections: 0, graceMs: GRACE });
    const confirmed = [...(await confirmWithin(store, GRACE * 5))];
    if (confirmed.length < 2) confirmed.push(...(await confirmWithin(store, GRACE * 5)));
    const elsewhere = Object.fromEntries(confirmed.map((d) => [d.roomId, d.hostedElsewhere]));
    // The shared store knows (alice's instance B hosts r1; nobody is left in r2); memory does not.
    expect(elsewhere).toEqual(name === "memory" ? { r1: undefined, r2: undefined } : { r1: true, r2: false });
  });

  it("confirms an intentional leave at once, unless another socket remains", async () => {
    await join("alice");
    await join("bob", 2);
    expect(await store.leave({ roomId: "r1", userId: "bob", instanceId: A, connections: 1 })).toBeNull();
    expect(await store.leave({ roomId: "r1", userId: "bob", instanceId: A, connections: 0 })).toEqual({
      roomId: "r1",
      userId: "bob",
      username: "BOB",
    });
    expect(await store.leave({ roomId: "r1", userId: "bob", instanceId: A, connections: 0 })).toBeNull();
  });

  it("deletes the room once nobody is present", async () => {
    await join("alice");
    await join("bob");
    await store.leave({ roomId: "r1", userId: "alice", instanceId: A, connections: 0 });
    expect(await store.roomUsers("r1")).toHaveLength(2);
    await store.leave({ roomId: "r1", userId: "bob", instanceId: A, connections: 0 });
    expect(await store.roomUsers("r1")).toEqual([]);
    if (client) expect(await redis.exists(keys.room("r1"))).toBe(0);
  });

  it("keeps a user present while another instance holds a socket", async () => {
    await join("alice", 1, A);
    await join("alice", 1, B);
    expect(
      await store.drop({ roomId: "r1", userId: "alice", instanceId: A, connections: 0, graceMs: GRACE }),
    ).toBeNull();
    expect((await store.roomUsers("r1"))[0]).toMatchObject({ connections: 1, isDisconnectConfirm: false });
  });

  it("sync writes an instance's view back and reports users to announce again", async () => {
    await join("alice", 1, A);
    await join("bob", 1, A);
    await join("carol", 1, A);
    // bob is confirmed gone elsewhere while A still holds him; carol is no longer held by A.
    await store.drop({ roomId: "r1", userId: "bob", instanceId: A, connections: 0, graceMs: 0 });
    await confirmWithin(store, 500);
    const reconnected = await store.sync(
      A,
      [
        { roomId: "r1", userId: "alice", username: "ALICE", connections: 2 },
        { roomId: "r1", userId: "bob", username: "BOB", connections: 1 },
      ],
      GRACE,
    );
    expect(reconnected).toEqual([{ roomId: "r1", userId: "bob", username: "BOB" }]);
    const users = Object.fromEntries((await store.roomUsers("r1")).map((u) => [u.userId, u]));
    expect(users.alice).toMatchObject({ connections: 2, isDisconnectConfirm: false });
    expect(users.bob).toMatchObject({ connections: 1, isDisconnectConfirm: false });
    expect(users.carol).toMatchObject({ connections: 0, isDisconnectConfirm: false });
    expect(users.carol?.graceUntil).toBeDefined();
  });

  it("deregister starts the grace period of the instance's users", async () => {
    await join("alice", 1, A);
    await join("bob", 1, B);
    await store.deregister(A, GRACE);
    expect(await confirmWithin(store, GRACE * 5)).toMatchObject([{ roomId: "r1", userId: "alice", username: "ALICE" }]);
  });

  if (name !== "memory") {
    it("reaps an instance whose lease expired, and only that one", async () => {
      expect(await store.heartbeat(A, 100)).toBe(true);
      expect(await store.heartbeat(A, 100)).toBe(false);
      expect(await store.heartbeat(B, 10_000)).toBe(true);
      await join("alice", 1, A);
      await join("bob", 1, B);
      expect(await store.reapDeadInstances(B, GRACE)).toEqual([]);
      await sleep(150);
      expect(await store.reapDeadInstances(B, GRACE)).toEqual([A]);
      expect(await store.reapDeadInstances(B, GRACE)).toEqual([]);
      expect(await confirmWithin(store, GRACE * 5)).toMatchObject([
        { roomId: "r1", userId: "alice", username: "ALICE" },
      ]);
      expect(await redis.exists(keys.instanceRooms(A))).toBe(0);
      expect(await store.heartbeat(A, 100)).toBe(true);
    });

    it("keeps a room in the instance's index while a join there races the departure of its last other socket", async () => {
      // Bob joins on A while Alice, A's only other socket in the room, leaves. The leave's
      // script may answer "A holds nobody here" before Bob's join script runs; the index
      // must still hold the room afterwards, or a reaper of A would never find Bob.
      await store.heartbeat(A, 100);
      await join("alice", 1, A);
      await Promise.all([
        join("bob", 1, A),
        store.leave({ roomId: "r1", userId: "alice", instanceId: A, connections: 0 }),
      ]);
      expect(await redis.smembers(keys.instanceRooms(A))).toEqual(["r1"]);
      await sleep(150); // A's lease runs out: A is dead
      expect(await store.reapDeadInstances(B, GRACE)).toEqual([A]);
      expect(await confirmWithin(store, GRACE * 5)).toMatchObject([{ roomId: "r1", userId: "bob" }]);
    });

    it("tells a joiner which other live instances hold sockets in the room", async () => {
      await store.heartbeat(A, 10_000);
      await store.heartbeat(B, 10_000);
      await join("dave", 1, "dead-instance"); // no lease: never named
      expect((await join("alice", 1, A)).remoteHosts).toEqual([]);
      expect((await join("bob", 1, B)).remoteHosts).toEqual([A]);
      expect((await join("bob", 2, B)).remoteHosts).toEqual([A]);
      await store.drop({ roomId: "r1", userId: "alice", instanceId: A, connections: 0, graceMs: GRACE });
      expect((await join("carol", 1, B)).remoteHosts).toEqual([]);
      const redisStore = store as RedisRoomStore;
      expect(await redisStore.roomHosts(A, ["r1", "nowhere"])).toEqual(
        new Map([
          ["r1", [B]],
          ["nowhere", []],
        ]),
      );
    });

    it("stores the documented value shape", async () => {
      await join("alice");
      const key = name === "redis" ? "room:r1:users" : "room:{r1}:users";
      expect(keys.room("r1")).toBe(key);
      const raw = await redis.hget(key, "alice");
      expect(JSON.parse(raw!)).toMatchObject({ username: "ALICE", isDisconnectConfirm: false });
      expect(await redis.type(key)).toBe("hash");
    });
  }
});

describe("Redis write-back", () => {
  beforeEach(async () => {
    await single.flushall();
  });

  it("writes every entry it can: one that Redis refuses is reported and skipped, not fatal", async () => {
    const redis = single;
    const reported: SyncFailure[][] = [];
    const store = new RedisRoomStore(redis, new RedisKeys(), 60_000, (failed) => reported.push(failed));
    await redis.set("room:broken:users", "a string, not a hash");
    const snapshot = [
      { roomId: "broken", userId: "u1", username: "U1", connections: 1 },
      { roomId: "fine", userId: "u2", username: "U2 \u00e9\u{1f600}", connections: 1 },
    ];
    await store.sync(A, snapshot, GRACE);
    expect(reported).toEqual([[{ roomId: "broken", userId: "u1", error: expect.stringContaining("WRONGTYPE") }]]);
    expect((await store.roomUsers("fine")).map((u) => [u.userId, u.username])).toEqual([["u2", "U2 \u00e9\u{1f600}"]]);
  });
});

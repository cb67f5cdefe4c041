import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { pino } from "pino";
import { FailoverRoomStore } from "../../src/store/failover-room-store.js";
import { MemoryRoomStore } from "../../src/store/memory-room-store.js";
import { RedisRoomStore } from "../../src/store/redis-room-store.js";
import type { LocalPresence } from "../../src/store/room-store.js";
import { RedisKeys } from "../../src/redis/keys.js";
import { RedisServer } from "../helpers/redis-server.js";

/**
 * The write-back after an outage and the changes that arrive while it runs: what Redis
 * holds afterwards is what happened last. A change made once the write-back has begun reaches
 * Redis after it, however the write-back's own commands are spread over round trips.
 */
const INSTANCE = "inst-a";
const GRACE = 60_000;
let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = server.client();
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});
beforeEach(async () => {
  await redis.flushall();
});

/** What Redis records of a room's users. */
const storedUsers = (roomId: string) => new RedisRoomStore(redis, new RedisKeys(), 60_000).roomUsers(roomId);

/** A failover store of this instance over the private Redis, starting in `mode`. */
function failoverStore(mode: "shared" | "memory", snapshot: () => LocalPresence[] = () => []): FailoverRoomStore {
  return new FailoverRoomStore(
    new RedisRoomStore(redis, new RedisKeys(), 60_000),
    new MemoryRoomStore(),
    { instanceId: INSTANCE, graceMs: GRACE, leaseMs: 10_000, snapshot, logger: pino({ level: "silent" }) },
    mode,
  );
}

/**
 * A store in memory mode, as after an outage, whose write-back finds `users` and, the moment
 * it has taken them, runs `meanwhile` (a change that happens just as Redis comes back).
 * Resolves, once the write-back is done, with what that change resolved to.
 */
async function recoverWith(
  users: LocalPresence[],
  meanwhile: (store: FailoverRoomStore) => Promise<unknown>,
): Promise<unknown> {
  let change: Promise<unknown> | undefined;
  const store = failoverStore("memory", () => {
    queueMicrotask(() => (change = meanwhile(store)));
    return users;
  });
  await store.recover();
  expect(store.mode).toBe("shared");
  return change;
}

const present = (roomId: string, userId: string, connections: number): LocalPresence => ({
  roomId,
  userId,
  username: userId.toUpperCase(),
  connections,
});

describe("write-back after an outage", () => {
  it("a user who leaves as the write-back starts is not written back as present", async () => {
    const left = await recoverWith([present("r1", "alice", 1), present("r1", "bob", 1)], (store) =>
      store.leave({ roomId: "r1", userId: "alice", instanceId: INSTANCE, connections: 0 }),
    );
    expect(left).toMatchObject({ roomId: "r1", userId: "alice" }); // announced
    const users = await storedUsers("r1");
    expect(users.find((u) => u.userId === "alice")).toMatchObject({ connections: 0, isDisconnectConfirm: true });
    expect(users.find((u) => u.userId === "bob")).toMatchObject({ connections: 1, isDisconnectConfirm: false });
  });

  it("a leave during the write-back of a lapsed lease (Redis up all along) lands after it too", async () => {
    const store = failoverStore("shared");
    const writeBack = store.sync(INSTANCE, [present("r1", "alice", 1)], GRACE);
    const left = store.leave({ roomId: "r1", userId: "alice", instanceId: INSTANCE, connections: 0 });
    await writeBack;
    expect(await left).toMatchObject({ roomId: "r1", userId: "alice" });
    // Nobody is left: the room is gone (not alice written back as present).
    expect(await storedUsers("r1")).toEqual([]);
  });

  it("a user who joins as the write-back starts stays recorded, and indexed for a reaper", async () => {
    await recoverWith([present("r1", "alice", 1)], (store) =>
      store.join({ roomId: "r2", userId: "bob", username: "BOB", instanceId: INSTANCE, connections: 1 }),
    );
    expect(await storedUsers("r2")).toMatchObject([{ userId: "bob", connections: 1 }]);
    expect((await redis.smembers(new RedisKeys().instanceRooms(INSTANCE))).sort()).toEqual(["r1", "r2"]);
  });
});

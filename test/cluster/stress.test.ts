/**
 * Randomized presence stress: three instances, 25 rooms of two (a stable observer and an actor
 * who drops, rejoins on a random instance, switches tabs, opens extra tabs and leaves), for a
 * bounded time. Seeded: a failure prints its seed; replay with STRESS_SEED=<seed>.
 * STRESS_DURATION_MS changes the length (default 12 s).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster as RedisClusterClient, Redis } from "ioredis";
import { graceIndexSize } from "../helpers/test-redis.js";
import { Cluster } from "../helpers/cluster.js";
import { connect, eventually, join, record, sleep, type Client } from "../helpers/clients.js";

const SEED = Number(process.env.STRESS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const DURATION_MS = Number(process.env.STRESS_DURATION_MS ?? 12_000);
const ROOMS = 25;
const GRACE_MS = 1000;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Actor {
  userId: string;
  roomId: string;
  tabs: Client[];
  departures: number;
  returns: number;
  sent: string[];
  log: string[];
}

let cluster: Cluster;
let redis: Redis | RedisClusterClient;
let urls: string[];
const everyClient: Client[] = [];

beforeAll(async () => {
  cluster = await Cluster.start(3, { DISCONNECT_GRACE_MS: String(GRACE_MS), LOG_LEVEL: "warn" });
  urls = cluster.instances.map((p) => p.url);
  redis = cluster.redis.client();
});
afterAll(async () => {
  everyClient.forEach((c) => c.close());
  redis?.disconnect();
  await cluster?.stop();
});

describe(`presence stress (seed ${SEED})`, () => {
  it("keeps every invariant", { timeout: DURATION_MS + 90_000 }, async () => {
    const random = prng(SEED);
    const between = (lo: number, hi: number) => lo + random() * (hi - lo);
    const anyInstance = () => urls[Math.floor(random() * urls.length)]!;

    const openTab = async (userId: string, roomId: string): Promise<Client> => {
      const c = await connect(anyInstance());
      everyClient.push(c);
      await join(c, userId, roomId);
      return c;
    };

    // Observers first, each on a random instance, staying for the whole run.
    const observers = await Promise.all(
      Array.from({ length: ROOMS }, async (_, i) => {
        const c = await openTab(`obs-${i}`, `stress-${i}`);
        return { client: c, notices: record(c, "system_message"), messages: record(c, "receive_message") };
      }),
    );
    const actors: Actor[] = Array.from({ length: ROOMS }, (_, i) => ({
      userId: `act-${i}`,
      roomId: `stress-${i}`,
      tabs: [],
      departures: 0,
      returns: 0,
      sent: [],
      log: [],
    }));
    for (const a of actors) a.tabs.push(await openTab(a.userId, a.roomId));

    const closeAll = (a: Actor) => {
      a.tabs.splice(0).forEach((t) => t.disconnect());
    };
    const episodes: [weight: number, name: string, run: (a: Actor) => Promise<void>][] = [
      [
        30,
        "blip",
        async (a) => {
          closeAll(a);
          await sleep(between(0, GRACE_MS * 0.25));
          a.tabs.push(await openTab(a.userId, a.roomId));
        },
      ],
      [
        25,
        "switch tab",
        async (a) => {
          a.tabs.push(await openTab(a.userId, a.roomId));
          await sleep(between(0, 200));
          a.tabs.shift()!.disconnect();
        },
      ],
      [
        10,
        "extra tab",
        async (a) => {
          if (a.tabs.length < 2) a.tabs.push(await openTab(a.userId, a.roomId));
        },
      ],
      [
        20,
        "gone",
        async (a) => {
          closeAll(a);
          a.departures++;
          await sleep(GRACE_MS * 2.5 + between(0, GRACE_MS));
          a.tabs.push(await openTab(a.userId, a.roomId));
          a.returns++;
        },
      ],
      [
        15,
        "leave",
        async (a) => {
          for (const t of a.tabs.splice(0)) {
            t.emit("leave_session");
            await sleep(between(0, 50));
          }
          a.departures++;
          await sleep(between(200, GRACE_MS));
          a.tabs.push(await openTab(a.userId, a.roomId));
          a.returns++;
        },
      ],
    ];
    const totalWeight = episodes.reduce((n, [w]) => n + w, 0);
    const pick = () => {
      let r = random() * totalWeight;
      for (const e of episodes) if ((r -= e[0]) < 0) return e;
      return episodes[0]!;
    };

    // Every actor runs its episodes concurrently until the deadline.
    const deadline = Date.now() + DURATION_MS;
    await Promise.all(
      actors.map(async (a) => {
        while (Date.now() < deadline) {
          const [, name, run] = pick();
          a.log.push(name);
          await run(a);
          const content = `${a.userId}#${a.sent.length}`;
          const ack = await a.tabs[0]!.emitWithAck("send_message", { message: { userId: a.userId, content } });
          expect(ack.ok).toBe(true);
          a.sent.push(content);
          await sleep(between(50, 300));
        }
      }),
    );

    // Settle: nothing is pending once a grace period and a few sweeps have passed.
    await sleep(GRACE_MS * 2);
    for (const [i, a] of actors.entries()) {
      const obs = observers[i]!;
      const about = (type: string) => obs.notices.filter((n) => n.eventType === type && n.userId === a.userId).length;
      const context = `seed ${SEED}, ${a.userId}: ${a.log.join(", ")}`;
      expect(about("connect"), context).toBe(1);
      expect(about("disconnect"), context).toBe(a.departures);
      expect(about("reconnect"), context).toBe(a.returns);
      expect(obs.notices.filter((n) => n.userId === `obs-${i}`).length, context).toBe(0);
      // Every message reached the observer exactly once.
      expect(obs.messages.map((m) => m.content).sort(), context).toEqual([...a.sent].sort());

      const users = Object.fromEntries(
        Object.entries(await redis.hgetall(cluster.redis.keys.room(a.roomId))).map(([k, v]) => [k, JSON.parse(v)]),
      );
      const connections = (u: { instances: Record<string, number> }) =>
        Object.values(u.instances).reduce((x, y) => x + y, 0);
      expect(Object.keys(users).sort(), context).toEqual([`obs-${i}`, a.userId].sort());
      expect(users[a.userId], context).toMatchObject({ isDisconnectConfirm: false });
      expect(users[a.userId].graceUntil, context).toBeUndefined();
      expect(connections(users[a.userId]), context).toBe(a.tabs.length);
      expect(connections(users[`obs-${i}`]), context).toBe(1);
    }
    // Stale entries (users back within the grace period) are dropped by the sweep when due.
    await eventually(
      async () => (await graceIndexSize(cluster.redis, redis)) === 0,
      GRACE_MS * 10,
      "grace index empty",
    );

    // Everybody goes (half leave, half drop): every room's state disappears.
    for (const [i, a] of actors.entries()) {
      if (i % 2 === 0) a.tabs.forEach((t) => t.emit("leave_session"));
      else a.tabs.forEach((t) => t.disconnect());
      observers[i]!.client.disconnect();
    }
    await eventually(
      async () => (await cluster.redis.keysMatching("room:*:users")).length === 0,
      GRACE_MS * 10,
      "every room deleted",
    );
    // Histories outlive their rooms for the retention time, then expire by themselves.
    for (const key of await cluster.redis.keysMatching("room:*:history"))
      expect(await redis.pttl(key)).toBeGreaterThan(0);
    await eventually(
      async () => (await graceIndexSize(cluster.redis, redis)) === 0,
      GRACE_MS * 10,
      "grace index empty",
    );
    for (const id of await redis.smembers(cluster.redis.keys.instances)) {
      expect(await redis.scard(cluster.redis.keys.instanceRooms(id))).toBe(0);
    }
  });
});

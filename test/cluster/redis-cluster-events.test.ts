import { afterEach, describe, expect, it } from "vitest";
import { connect, eventually, join, joined, nextEvent, record, sleep, type Client } from "../helpers/clients.js";
import { ServiceProcess } from "../helpers/process.js";
import { RedisCluster } from "../helpers/redis-cluster.js";
import { storedHistory } from "../helpers/test-redis.js";

/**
 * Redis Cluster events survived while a room chats across two instances: a master killed
 * and its replica promoted, and the room's slot migrated to another master (MOVED/ASK
 * followed by the client). No message acknowledged as stored is missing from the history,
 * none reaches the other side twice, nobody is announced gone; during a migration every
 * message crosses, and after a failover every message crosses again.
 */
let redisCluster: RedisCluster | undefined;
const services: ServiceProcess[] = [];
const clients: Client[] = [];

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(services.splice(0).map((s) => s.kill("SIGKILL")));
  await redisCluster?.stop();
  redisCluster = undefined;
});

/** Two instances on the cluster, and alice on the first and bob on the second in `room`. */
async function chat(room: string) {
  const env = { REDIS_PORT: String(redisCluster!.port), DISCONNECT_GRACE_MS: "3000", INSTANCE_LEASE_MS: "3000" };
  services.push(...(await Promise.all([ServiceProcess.start(env), ServiceProcess.start(env)])));
  const alice = await joined(services[0]!.url, "alice", room);
  const bob = await joined(services[1]!.url, "bob", room);
  clients.push(alice, bob);
  const atBob = record<{ content: string; id: string }>(bob, "receive_message");
  const seenByAlice = record(alice, "system_message");
  const seenByBob = record(bob, "system_message");
  let n = 0;
  const acked: { content: string; ack: { ok: boolean; stored?: boolean; id?: string } }[] = [];
  /** Alice sends one message and waits for its ack. */
  const send = async () => {
    const content = `m${n++}`;
    const ack = (await alice
      .timeout(10_000)
      .emitWithAck("send_message", { message: { userId: "alice", content } })) as {
      ok: boolean;
      stored?: boolean;
      id?: string;
    };
    acked.push({ content, ack });
  };
  // Both instances host the room, with no notices pending, before anything happens.
  await send();
  await eventually(() => atBob.length === 1, 5000, "the first message crosses");
  return { alice, bob, atBob, acked, send, departures: () => [...seenByAlice, ...seenByBob] };
}

/** What the room's history holds, as a third user joining gets it. */
async function historyOf(room: string): Promise<string[]> {
  const reader = await connect(services[0]!.url);
  try {
    const history = nextEvent<{ messages: { content: string }[] }>(reader, "chat_history");
    await join(reader, "reader", room);
    return (await history).messages.map((m) => m.content);
  } finally {
    reader.close();
  }
}

const departures = (notices: unknown[]) =>
  notices.filter((m) => (m as { eventType?: string }).eventType === "disconnect");

describe("Redis Cluster events", () => {
  it("a master killed and its replica promoted: no acknowledged message lost, no false departure", async () => {
    redisCluster = await RedisCluster.start(3, 1);
    const room = "failover-1";
    const { atBob, acked, send, departures: notices } = await chat(room);
    const owner = await redisCluster.ownerOf(await redisCluster.slotOf(redisCluster.keys.room(room)));
    for (let i = 0; i < 10; i++) await send();
    await owner.stop("SIGKILL");
    // Chat on through the failover (about a second with a 1 s node timeout) and after it.
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      await send();
      await sleep(50);
    }
    await redisCluster.waitUntilOk(redisCluster.nodes.filter((n) => n.running));
    expect(acked.every((a) => a.ack.ok)).toBe(true);
    // Pub/sub is at most once: what was published while the room's node (or a subscriber's)
    // was down reaches the other instance only through the history. Once the subscriptions
    // have moved to the promoted replica (a message crosses again), nothing is lost.
    await eventually(
      async () => {
        const before = atBob.length;
        await send();
        return eventually(() => atBob.length > before, 1000, "a message crosses").then(
          () => true,
          () => false,
        );
      },
      20_000,
      "messages crossing again after the failover",
    );
    const after = acked.length;
    for (let i = 0; i < 10; i++) await send();
    expect(acked.every((a) => a.ack.ok)).toBe(true);
    const atBobContents = () => atBob.map((m) => m.content);
    await eventually(
      () => acked.slice(after).every((a) => atBobContents().includes(a.content)),
      10_000,
      "every message after the failover at bob",
    );
    // Bob never gets a message twice, and every message acknowledged as stored is in the
    // history (those sent during the failover included).
    expect(new Set(atBobContents()).size).toBe(atBob.length);
    await eventually(
      async () => {
        const stored = new Set(await historyOf(room));
        return acked.every((a) => a.ack.stored === false || stored.has(a.content));
      },
      15_000,
      "every acknowledged message in the history",
    );
    expect(departures(notices())).toEqual([]);
  }, 90_000);

  it("the room's slot migrated while it chats: MOVED/ASK followed, nothing lost or doubled", async () => {
    redisCluster = await RedisCluster.start(3);
    const room = "migrating-1";
    const { atBob, acked, send, departures: notices } = await chat(room);
    const slot = await redisCluster.slotOf(redisCluster.keys.room(room));
    const from = await redisCluster.ownerOf(slot);
    const to = redisCluster.nodes.find((n) => n !== from)!;
    for (let i = 0; i < 5; i++) await send();
    // Alice chats on while the keys move two at a time, as `redis-cli --cluster reshard` moves
    // them: commands meet the room half moved (ASK, and TRYAGAIN for a script whose keys are
    // split, retried by the client until the move goes on).
    let migrating = true;
    const chatting = (async () => {
      while (migrating) {
        await send();
        await sleep(10);
      }
    })();
    await redisCluster.migrateSlot(slot, to, async () => void (await sleep(30)));
    migrating = false;
    await chatting;
    expect(await redisCluster.ownerOf(slot)).toBe(to);
    for (let i = 0; i < 5; i++) await send();
    expect(acked.every((a) => a.ack.ok && a.ack.stored !== false)).toBe(true);
    await eventually(() => atBob.length === acked.length, 10_000, "every message at bob");
    expect(atBob.map((m) => m.content)).toEqual(acked.map((a) => a.content));
    const stored = await historyOf(room);
    expect(stored).toEqual(acked.map((a) => a.content));
    expect(departures(notices())).toEqual([]);
    // A moved slot is not an outage: neither instance left shared mode for it.
    expect(services.flatMap((s) => s.logs).filter((l) => String(l.msg).startsWith("redis unavailable"))).toEqual([]);
  }, 90_000);

  it("rooms of one instance chat while one's slot migrates: their history writes, pipelined per node, all land", async () => {
    redisCluster = await RedisCluster.start(3);
    const env = { REDIS_PORT: String(redisCluster.port) };
    services.push(await ServiceProcess.start(env));
    // The migrating room and three rooms on the same node: the instance's history writes to
    // that node go as one pipeline, in which only the migrating room's call is redirected.
    const moving = "local-migrating";
    const slot = await redisCluster.slotOf(redisCluster.keys.room(moving));
    const from = await redisCluster.ownerOf(slot);
    const rooms = [moving];
    for (let i = 0; rooms.length < 4; i++) {
      const candidate = `local-neighbour-${i}`;
      const other = await redisCluster.slotOf(redisCluster.keys.room(candidate));
      if (other !== slot && (await redisCluster.ownerOf(other)) === from) rooms.push(candidate);
    }
    const senders = await Promise.all(rooms.map((room, i) => joined(services[0]!.url, `user${i}`, room)));
    clients.push(...senders);
    const acked = rooms.map(() => [] as { content: string; ack: { ok: boolean; stored?: boolean } }[]);
    let migrating = true;
    const chatting = senders.map(async (sender, i) => {
      for (let n = 0; migrating || n < 3; n++) {
        const content = `m${n}`;
        const ack = (await sender
          .timeout(10_000)
          .emitWithAck("send_message", { message: { userId: `user${i}`, content } })) as {
          ok: boolean;
          stored?: boolean;
        };
        acked[i]!.push({ content, ack });
      }
    });
    const to = redisCluster.nodes.find((n) => n !== from)!;
    await redisCluster.migrateSlot(slot, to, async () => void (await sleep(30)));
    migrating = false;
    await Promise.all(chatting);
    for (const [i, room] of rooms.entries()) {
      expect(acked[i]!.every((a) => a.ack.ok && a.ack.stored !== false)).toBe(true);
      expect(await historyOf(room)).toEqual(acked[i]!.map((a) => a.content));
    }
    // Each room's byte count is its members': no write left a room half written when it met
    // the room's keys split between two nodes.
    const redis = redisCluster.client();
    try {
      for (const room of rooms) {
        const { bytes, count } = await storedHistory(redis, redisCluster.keys, room);
        expect(count).toBe(bytes);
      }
    } finally {
      redis.disconnect();
    }
  }, 90_000);
});

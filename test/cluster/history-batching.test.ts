import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster as RedisClusterClient, Redis } from "ioredis";
import { Cluster } from "../helpers/cluster.js";
import { connect, joined, nextEvent, type Client } from "../helpers/clients.js";

/**
 * History appends are written at most once per HISTORY_FLUSH_MS. With a long window here, a
 * message sent right after another is held in its instance for up to two seconds: these
 * tests show that a joiner's history never misses it, wherever the joiner lands.
 */
const WINDOW_MS = 2000;

let cluster: Cluster;
let redis: Redis | RedisClusterClient;
const clients: Client[] = [];
let seq = 0;
const newRoom = () => `batching-${++seq}`;

async function on(instance: number, userId: string, roomId: string): Promise<Client> {
  const c = await joined(cluster.instances[instance]!.url, userId, roomId);
  clients.push(c);
  return c;
}

/** Joins on `instance` and resolves with the contents of the chat_history it receives. */
async function historyOf(instance: number, userId: string, roomId: string): Promise<string[]> {
  const c = await connect(cluster.instances[instance]!.url);
  clients.push(c);
  const history = nextEvent(c, "chat_history");
  await c.emitWithAck("join_room", { userId, username: userId, roomId });
  return (await history).messages.map((m: { content: string }) => m.content);
}

const say = (c: Client, userId: string, content: string) =>
  c.emitWithAck("send_message", { message: { userId, content } });

/** Sends one message that is stored at once (its ack waits for that), then one held by the window. */
async function sendHeld(c: Client, userId: string): Promise<{ heldAck: Promise<{ id: string }> }> {
  await say(c, userId, "stored");
  return { heldAck: say(c, userId, "held") };
}

const stored = async (roomId: string) =>
  (await redis.zrange(cluster.redis.keys.history(roomId), 0, -1)).map(
    (m) => JSON.parse(m.slice(m.indexOf("\n") + 1)).content,
  );

beforeAll(async () => {
  cluster = await Cluster.start(2, { HISTORY_FLUSH_MS: String(WINDOW_MS) });
  redis = cluster.redis.client();
});
afterEach(() => clients.splice(0).forEach((c) => c.close()));
afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

describe("batched history writes", () => {
  it("store a lone message at once and the ones right after it with the next write", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const t0 = Date.now();
    await say(alice, "alice", "lone");
    expect(Date.now() - t0).toBeLessThan(WINDOW_MS / 2);
    const t1 = Date.now();
    await say(alice, "alice", "next");
    expect(Date.now() - t1).toBeGreaterThan(WINDOW_MS / 2);
    expect(await stored(room)).toEqual(["lone", "next"]);
  });

  it("a socket joining the sender's instance gets a message still held there", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const { heldAck } = await sendHeld(alice, "alice");
    expect(await stored(room)).toEqual(["stored"]); // the second message is held
    expect(await historyOf(0, "bob", room)).toEqual(["stored", "held"]);
    await heldAck;
  });

  it("a room hosted by two instances is not batched: its messages are stored before they are delivered", async () => {
    // Such a room's messages go through Redis in one order (lua/history_sequence.lua): by the
    // time anybody has one, it is in the history, so a joiner anywhere gets it.
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const bob = await on(1, "bob", room); // the room is now hosted by both instances
    const relayed = nextEvent(bob, "receive_message", (m: { content: string }) => m.content === "held");
    const { heldAck } = await sendHeld(alice, "alice");
    await relayed;
    expect(await stored(room)).toEqual(["stored", "held"]);
    expect(await historyOf(1, "carol", room)).toEqual(["stored", "held"]);
    await heldAck;
  });

  it("a socket joining another instance gets a message the sender's instance still holds", async () => {
    // The room is hosted by instance 0 alone when the message is sent: it is batched there.
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const { heldAck } = await sendHeld(alice, "alice");
    expect(await stored(room)).toEqual(["stored"]);
    expect(await historyOf(1, "carol", room)).toEqual(["stored", "held"]);
    await heldAck;
  });

  it("a draining instance writes what it holds before it closes Redis", async () => {
    const room = newRoom();
    const alice = await on(0, "alice", room);
    const { heldAck } = await sendHeld(alice, "alice");
    const acked = heldAck.then(
      (ack) => ack,
      () => undefined, // the socket may close before the ack
    );
    expect(await cluster.instances[0]!.kill("SIGTERM")).toBe(0);
    await acked;
    expect(await stored(room)).toEqual(["stored", "held"]);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster, Redis } from "ioredis";
import { startTestRedis, type TestRedis } from "../helpers/test-redis.js";
import { startService, type RunningService } from "../helpers/service.js";
import { connect, eventually, joined, nextEvent, record, sleep, type Client } from "../helpers/clients.js";

const LIMIT = 5;
let redisServer: TestRedis;
let redis: Redis | Cluster;
let svc: RunningService;
const clients: Client[] = [];
let seq = 0;
const newRoom = () => `history-${++seq}`;

async function client(userId: string, roomId: string): Promise<Client> {
  const c = await joined(svc.url, userId, roomId);
  clients.push(c);
  return c;
}
const say = (c: Client, userId: string, content: string, extra: Record<string, unknown> = {}) =>
  c.emitWithAck("send_message", { message: { userId, content, ...extra } });

/** Joins and resolves with the chat_history event and the join acknowledgement. */
async function joinWithHistory(userId: string, roomId: string, lastMessageId?: string) {
  const c = await connect(svc.url);
  clients.push(c);
  const history = nextEvent(c, "chat_history");
  const ack = await c.emitWithAck("join_room", {
    userId,
    username: userId,
    roomId,
    ...(lastMessageId ? { lastMessageId } : {}),
  });
  return { client: c, history: await history, ack };
}

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  svc = await startService({ REDIS_PORT: String(redisServer.port), HISTORY_LIMIT: String(LIMIT) });
});
afterEach(() => clients.splice(0).forEach((c) => c.close()));
afterAll(async () => {
  await svc.stop();
  redis.disconnect();
  await redisServer.stop();
});

describe("message ids and acknowledgements", () => {
  it("gives every message a unique id, ordered within the room, and a server timestamp", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const ack = await say(alice, "alice", `m${i}`, { timestamp: 1000 + i });
      expect(ack).toMatchObject({ ok: true, id: expect.any(String), timestamp: expect.any(Number) });
      ids.push(ack.id);
    }
    expect(new Set(ids).size).toBe(20);
    expect([...ids].sort()).toEqual(ids);
    const stored = await joinWithHistory("bob", room);
    expect(stored.history.messages.at(-1)).toMatchObject({ content: "m19", timestamp: 1019 });
    expect(stored.history.messages.at(-1).serverTimestamp).toBeGreaterThan(1_700_000_000_000);
  });

  it("acknowledges once the message is stored", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const ack = await say(alice, "alice", "stored before the ack");
    const members = await redis.zrange(redisServer.keys.history(room), 0, -1);
    expect(members.some((m) => m.startsWith(`${ack.id}\n`))).toBe(true);
  });
});

describe("chat_history", () => {
  it("sends the newest messages, oldest first, on every join and in the acknowledgement", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    for (let i = 0; i < LIMIT + 3; i++) await say(alice, "alice", `m${i}`);
    const { history, ack } = await joinWithHistory("bob", room);
    const expected = Array.from({ length: LIMIT }, (_, i) => `m${i + 3}`);
    expect(history.roomId).toBe(room);
    expect(history.messages.map((m: { content: string }) => m.content)).toEqual(expected);
    expect(ack.messages.map((m: { content: string }) => m.content)).toEqual(expected);
    expect(history.messages[0]).toMatchObject({ userId: "alice", senderId: "alice", text: "m3" });
  });

  it("keeps the stored set bounded: trimmed back to the newest once past the limit and a slack", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const slack = 16; // max(16, LIMIT / 8)
    for (let i = 0; i < LIMIT + slack + 1; i++) await say(alice, "alice", `m${i}`);
    // The append that took the set past LIMIT + slack trimmed it back to the newest LIMIT.
    const stored = await redis.zrange(redisServer.keys.history(room), 0, -1);
    expect(stored).toHaveLength(LIMIT);
    expect(stored.at(-1)).toContain(`"content":"m${LIMIT + slack}"`);
    await say(alice, "alice", "one more");
    expect(await redis.zcard(redisServer.keys.history(room))).toBe(LIMIT + 1);
  });

  it("sends only what came after lastMessageId, so a reconnect catches up exactly", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const seen = record(bob, "receive_message");
    await say(alice, "alice", "before");
    await eventually(() => seen.length === 1);
    const lastSeen = seen[0].id;
    bob.close();
    await say(alice, "alice", "missed 1");
    await say(alice, "alice", "missed 2");
    const back = await joinWithHistory("bob", room, lastSeen);
    expect(back.history.messages.map((m: { content: string }) => m.content)).toEqual(["missed 1", "missed 2"]);
    const upToDate = await joinWithHistory("carol", room, back.history.messages[1].id);
    expect(upToDate.history.messages).toEqual([]);
  });

  it("keeps the conversation of an empty room for a later join", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    await say(alice, "alice", "anyone?");
    alice.emit("leave_session");
    await eventually(async () => (await redis.exists(redisServer.keys.room(room))) === 0);
    const { history } = await joinWithHistory("alice", room);
    expect(history.messages.map((m: { content: string }) => m.content)).toEqual(["anyone?"]);
  });
});

describe("idempotent sends", () => {
  it("a retry with the same clientMessageId is not delivered or stored twice, and gets the first id", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const got = record(bob, "receive_message");
    const first = await say(alice, "alice", "once", { clientMessageId: "c-1" });
    const retry = await say(alice, "alice", "once", { clientMessageId: "c-1" });
    expect(retry).toMatchObject({ ok: true, id: first.id, duplicate: true });
    const other = await say(alice, "alice", "twice", { clientMessageId: "c-2" });
    expect(other.id).not.toBe(first.id);
    await eventually(() => got.length === 2);
    await sleep(100);
    expect(got.map((m) => m.content)).toEqual(["once", "twice"]);
    expect(got[0].clientMessageId).toBe("c-1");
    expect(await redis.zcard(redisServer.keys.history(room))).toBe(2);
  });

  it("keeps a sender's order when plain and idempotent sends are mixed", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const got = record(bob, "receive_message");
    for (let i = 0; i < 30; i++) {
      alice.emit("send_message", {
        message: { userId: "alice", content: `${i}`, ...(i % 3 === 0 ? { clientMessageId: `k${i}` } : {}) },
      });
    }
    await eventually(() => got.length === 30);
    expect(got.map((m) => m.content)).toEqual(Array.from({ length: 30 }, (_, i) => `${i}`));
  });
});

describe("order", () => {
  it("all members see a room's messages in the history's order", async () => {
    const room = newRoom();
    const senders = [await client("s1", room), await client("s2", room)];
    const watchers = [await client("w1", room), await client("w2", room)];
    const seen = watchers.map((w) => record(w, "receive_message"));
    for (let i = 0; i < 40; i++) {
      for (const [n, s] of senders.entries())
        s.emit("send_message", { message: { userId: `s${n + 1}`, content: `${n}:${i}` } });
    }
    await eventually(() => seen.every((s) => s.length === 80));
    const orders = seen.map((s) => s.map((m) => m.id));
    expect(orders[0]).toEqual(orders[1]);
    expect([...orders[0]!].sort()).toEqual(orders[0]);
  });
});

describe("a room whose history cannot be written", () => {
  it("fails only its own messages' store, not the other rooms written with them", async () => {
    // A long window, so the two sends below go to Redis in one write.
    const windowed = await startService({
      REDIS_PORT: String(redisServer.port),
      HISTORY_LIMIT: String(LIMIT),
      HISTORY_FLUSH_MS: "400",
    });
    try {
      const broken = newRoom();
      const fine = newRoom();
      await redis.set(redisServer.keys.history(broken), "not a sorted set");
      const alice = await joined(windowed.url, "alice", broken);
      const bob = await joined(windowed.url, "bob", fine);
      clients.push(alice, bob);
      await say(bob, "bob", "opens the window"); // a lone message is written at once
      const [lost, kept] = await Promise.all([say(alice, "alice", "lost"), say(bob, "bob", "kept")]);
      expect(lost).toMatchObject({ ok: true, stored: false });
      expect(kept).toMatchObject({ ok: true, id: expect.any(String) });
      expect(kept.stored).toBeUndefined();
      const stored = await redis.zrange(redisServer.keys.history(fine), 0, -1);
      expect(stored.some((m) => m.startsWith(`${kept.id}\n`))).toBe(true);
      expect(await redis.get(redisServer.keys.history(broken))).toBe("not a sorted set");
    } finally {
      await windowed.stop();
    }
  });
});

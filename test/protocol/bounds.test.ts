import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster, Redis } from "ioredis";
import { startTestRedis, storedHistory, type TestRedis } from "../helpers/test-redis.js";
import { startService, type RunningService } from "../helpers/service.js";
import { connect, disconnected, eventually, join, joined, nextEvent, record, type Client } from "../helpers/clients.js";

/**
 * What a client can make the service store or say is bounded and truthful: catch-ups say
 * when they are incomplete, every key of an empty room expires, history is bounded in
 * bytes, ids built from several client-chosen parts never collide, and a superseded join
 * announces nothing.
 */
const LIMIT = 10;
const MAX_BYTES = 16_384;
const RETENTION_MS = 60_000;
let redisServer: TestRedis;
let redis: Redis | Cluster;
let svc: RunningService;
const clients: Client[] = [];
let seq = 0;
const newRoom = () => `bounds-${++seq}`;

async function client(userId: string, roomId: string): Promise<Client> {
  const c = await joined(svc.url, userId, roomId);
  clients.push(c);
  return c;
}
const say = (c: Client, userId: string, content: string, extra: Record<string, unknown> = {}) =>
  c.emitWithAck("send_message", { message: { userId, content, ...extra } });

/** Joins with `lastMessageId` and resolves with the chat_history event and the acknowledgement. */
async function catchUp(roomId: string, lastMessageId?: string) {
  const c = await connect(svc.url);
  clients.push(c);
  const history = nextEvent(c, "chat_history");
  const ack = await c.emitWithAck("join_room", {
    userId: `reader-${++seq}`,
    username: "Reader",
    roomId,
    ...(lastMessageId === undefined ? {} : { lastMessageId }),
  });
  return { history: await history, ack };
}

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  svc = await startService({
    REDIS_PORT: String(redisServer.port),
    HISTORY_LIMIT: String(LIMIT),
    HISTORY_MAX_BYTES: String(MAX_BYTES),
    HISTORY_RETENTION_MS: String(RETENTION_MS),
    MAX_MESSAGE_LENGTH: "5000",
  });
});
afterEach(() => clients.splice(0).forEach((c) => c.close()));
afterAll(async () => {
  await svc.stop();
  redis.disconnect();
  await redisServer.stop();
});

describe("catch-up", () => {
  it("says whether it is complete, and sends the newest retained messages when it is not", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const ids: string[] = [];
    for (let i = 0; i < LIMIT + 5; i++) ids.push((await say(alice, "alice", `m${i}`)).id);
    const newest = ids.slice(-LIMIT);
    const other = newRoom();
    const elsewhere = await client("bob", other);
    const otherId = (await say(elsewhere, "bob", "in another room")).id as string;

    const plain = await catchUp(room);
    expect(plain.history.complete).toBe(true);
    expect(plain.ack.complete).toBe(true);
    expect(plain.history.messages.map((m: { id: string }) => m.id)).toEqual(newest);

    const exact = await catchUp(room, ids[ids.length - 3]);
    expect(exact.history).toMatchObject({ roomId: room, complete: true });
    expect(exact.history.messages.map((m: { id: string }) => m.id)).toEqual(ids.slice(-2));
    expect(exact.ack).toMatchObject({ ok: true, complete: true, messages: exact.history.messages });

    // Trimmed, unknown, malformed, another room's: each is a gap the client must hear of.
    for (const lastMessageId of [ids[0]!, `${ids[ids.length - 1]!.slice(0, -1)}~`, "not-an-id", otherId]) {
      const gap = await catchUp(room, lastMessageId);
      expect(gap.history.complete, lastMessageId).toBe(false);
      expect(gap.ack.complete, lastMessageId).toBe(false);
      expect(gap.history.messages.map((m: { id: string }) => m.id)).toEqual(newest);
    }
  });
});

describe("retention", () => {
  it("every key of an empty room expires, whatever order the writes arrive in", async () => {
    // Join, send and leave at once, many times: the history write often lands after the
    // departure that should have given it its expiry. In half the rooms a first message is
    // stored before, so the late write meets a history that has its expiry already.
    const rooms: string[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const room = newRoom();
        rooms.push(room);
        const c = await connect(svc.url);
        await join(c, "spammer", room);
        if (i % 2 === 1) await c.emitWithAck("send_message", { message: { userId: "spammer", content: "first" } });
        c.emit("send_message", { message: { userId: "spammer", content: "x".repeat(100), clientMessageId: room } });
        c.emit("leave_session");
        await disconnected(c);
      }),
    );
    await eventually(
      async () =>
        (await Promise.all(rooms.map((r) => redis.exists(redisServer.keys.history(r))))).every((n) => n === 1),
      5000,
      "every room's history stored",
    );
    const keys = await redisServer.keysMatching("*");
    expect(keys.filter((k) => k.endsWith(":history")).length).toBeGreaterThanOrEqual(rooms.length);
    const lasting = [];
    for (const key of keys) {
      if (!rooms.some((r) => key.includes(r))) continue;
      // History lives the retention time, a claim the dedupe window (300 s by default).
      const ttl = await redis.pttl(key);
      if (ttl < 0 || ttl > Math.max(RETENTION_MS, 300_000)) lasting.push(`${key} (${ttl})`);
      if (key.includes(":history") && ttl > RETENTION_MS) lasting.push(`${key} (${ttl})`);
    }
    expect(lasting).toEqual([]);
  });
});

describe("history bounds", () => {
  it("keeps a room's history within its byte bound, and a join's reply with it", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    // Escaped characters cost six bytes each in JSON ("\"" two, "\\" two): 5,000 of them per message.
    for (let i = 0; i < LIMIT; i++) expect((await say(alice, "alice", '"\\'.repeat(2500))).ok).toBe(true);
    const { members, bytes, count } = await storedHistory(redis, redisServer.keys, room);
    expect(bytes).toBeLessThanOrEqual(MAX_BYTES);
    expect(members.length).toBeGreaterThan(0);
    expect(count).toBe(bytes);
    const { history } = await catchUp(room);
    expect(history.messages.length).toBe(members.length);
  });

  it("counts a garbled byte count again from the stored messages", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    expect((await say(alice, "alice", "first")).ok).toBe(true);
    await redis.set(redisServer.keys.historyBytes(room), "not a number");
    expect((await say(alice, "alice", "second")).ok).toBe(true);
    const { members, bytes, count } = await storedHistory(redis, redisServer.keys, room);
    expect(members.length).toBe(2);
    expect(count).toBe(bytes);
  });

  it("an edit or a delete counts a garbled byte count again too", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const first = await say(alice, "alice", "first");
    const second = await say(alice, "alice", "second");
    await redis.set(redisServer.keys.historyBytes(room), "not a number");
    expect(await alice.emitWithAck("edit_message", { id: first.id, content: "first, fixed" })).toMatchObject({
      ok: true,
    });
    const afterEdit = await storedHistory(redis, redisServer.keys, room);
    expect(afterEdit.count).toBe(afterEdit.bytes);
    await redis.set(redisServer.keys.historyBytes(room), "garbled again");
    expect(await alice.emitWithAck("delete_message", { id: second.id })).toMatchObject({ ok: true });
    const afterDelete = await storedHistory(redis, redisServer.keys, room);
    expect(afterDelete.members.length).toBe(2);
    expect(afterDelete.count).toBe(afterDelete.bytes);
  });
});

describe("identifiers", () => {
  it("claims of different rooms and users never collide, whatever characters their ids hold", async () => {
    const first = await client("b:c", "dd");
    const second = await client("c", "dd:b");
    const a = await say(first, "b:c", "one", { clientMessageId: "same" });
    const b = await say(second, "c", "two", { clientMessageId: "same" });
    expect(a).toMatchObject({ ok: true });
    expect(b).toMatchObject({ ok: true });
    expect(a.duplicate).toBeUndefined();
    expect(b.duplicate).toBeUndefined();
    expect(b.id).not.toBe(a.id);
  });

  it("refuses identifiers and names that break storage or deceive a reader, and content with lone surrogates", async () => {
    const c = await connect(svc.url);
    clients.push(c);
    const bad = [
      { userId: "x", username: "x\ud800", roomId: "r" }, // lone surrogate
      { userId: "\udc00y", username: "y", roomId: "r" },
      { userId: "𝒜".repeat(33), username: "z", roomId: "r" }, // 33 four-byte characters: 132 bytes
      { userId: "z", username: "\u202eevil", roomId: "r" }, // right-to-left override
      { userId: "z", username: "a\u2066b", roomId: "r" }, // isolate
      { userId: "z", username: "a\u0085b", roomId: "r" }, // C1 control
      { userId: "z", username: "z", roomId: "r", lastMessageId: "\u009b" },
    ];
    for (const payload of bad) {
      const ack = await c.emitWithAck("join_room", payload);
      expect(ack, JSON.stringify(payload)).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
    }
    // 32 four-byte characters (128 bytes) are fine.
    expect((await c.emitWithAck("join_room", { userId: "𝒜".repeat(32), username: "ok", roomId: newRoom() })).ok).toBe(
      true,
    );
    const refused = await say(c, "𝒜".repeat(32), "half a pair \ud83d");
    expect(refused).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
    expect((await say(c, "𝒜".repeat(32), "line one\nline two\ttabbed 😀")).ok).toBe(true);
  });
});

describe("joins", () => {
  it("a join superseded by the next one on the same socket announces nothing in the abandoned room", async () => {
    const r1 = newRoom();
    const r2 = newRoom();
    const member = await client("member", r1);
    const speaker = await client("speaker", r1);
    const notices = record(member, "system_message");
    const hopper = await connect(svc.url);
    clients.push(hopper);
    const first = hopper.emitWithAck("join_room", { userId: "hopper", username: "Hopper", roomId: r1 });
    const second = hopper.emitWithAck("join_room", { userId: "hopper", username: "Hopper", roomId: r2 });
    expect(await first).toMatchObject({ ok: false, error: { code: "NOT_JOINED" } });
    expect(await second).toMatchObject({ ok: true, roomId: r2 });
    // Anything announced in r1 for the hopper would reach the member before this message.
    const barrier = nextEvent(member, "receive_message");
    await say(speaker, "speaker", "barrier");
    await barrier;
    expect(notices.filter((n) => n.userId === "hopper")).toEqual([]);
  });
});

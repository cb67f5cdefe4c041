import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cluster, Redis } from "ioredis";
import { monitor } from "../helpers/monitor.js";
import { startTestRedis, type TestRedis } from "../helpers/test-redis.js";
import { startService, TEST_GRACE_MS, type RunningService } from "../helpers/service.js";
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

let redisServer: TestRedis;
let redis: Redis | Cluster;
let svc: RunningService;
const clients: Client[] = [];
let roomSeq = 0;
const newRoom = () => `room-${++roomSeq}`;

async function client(userId?: string, roomId?: string): Promise<Client> {
  const c = userId && roomId ? await joined(svc.url, userId, roomId) : await connect(svc.url);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  svc = await startService({ REDIS_PORT: String(redisServer.port) });
  expect(svc.service.mode).toBe("shared");
});
afterEach(() => {
  clients.splice(0).forEach((c) => c.close());
});
afterAll(async () => {
  await svc.stop();
  redis.disconnect();
  await redisServer.stop();
});

describe("join_room", () => {
  it("sends existing_users to the joiner and connect to the others", async () => {
    const room = newRoom();
    const alice = await connect(svc.url);
    clients.push(alice);
    const first = await join(alice, "alice", room, "Alice");
    expect(first).toMatchObject({
      eventType: "existing_users",
      event: "existing_users",
      userId: "alice",
      username: "Alice",
      users: [],
    });

    const notice = nextEvent(alice, "system_message", systemEvent("connect"));
    const bob = await connect(svc.url);
    clients.push(bob);
    const existing = await join(bob, "bob", room, "Bob");
    expect(existing.users).toEqual([{ userId: "alice", username: "Alice" }]);
    expect(await notice).toMatchObject({
      eventType: "connect",
      event: "connect",
      userId: "bob",
      username: "Bob",
      text: "Bob has entered the chat.",
    });
  });

  it("answers the acknowledgement with the users present", async () => {
    const room = newRoom();
    await client("alice", room);
    const bob = await client();
    const ack = await bob.emitWithAck("join_room", { userId: "bob", username: "Bob", roomId: room });
    expect(ack).toEqual({
      ok: true,
      roomId: room,
      userId: "bob",
      users: [{ userId: "alice", username: "ALICE" }],
      messages: [],
      complete: true,
    });
  });

  it("stores the room in Redis as documented", async () => {
    const room = newRoom();
    await client("alice", room);
    const value = JSON.parse((await redis.hget(redisServer.keys.room(room), "alice"))!);
    expect(value).toMatchObject({ username: "ALICE", isDisconnectConfirm: false });
  });

  it("joining another room leaves the old one, announced at once", async () => {
    const [r1, r2] = [newRoom(), newRoom()];
    const alice = await client("alice", r1);
    const bob = await client("bob", r1);
    const left = nextEvent(bob, "system_message", systemEvent("disconnect", "alice"));
    await join(alice, "alice", r2);
    expect(await left).toMatchObject({ userId: "alice" });
    const got = record(alice, "receive_message");
    await bob.emitWithAck("send_message", { message: { userId: "bob", username: "BOB", content: "r1 only" } });
    const carol = await client("carol", r2);
    const fromCarol = nextEvent(alice, "receive_message");
    await carol.emitWithAck("send_message", { message: { userId: "carol", username: "CAROL", content: "hi r2" } });
    expect((await fromCarol).content).toBe("hi r2");
    expect(got.map((m) => m.content)).toEqual(["hi r2"]);
  });
});

describe("send_message", () => {
  it("relays to the room's other sockets with a server id, never to the sender", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const carol = await client("carol", room);
    const echo = record(alice, "receive_message");
    const timestamp = 1_700_000_000_000;
    const toBob = nextEvent(bob, "receive_message");
    const toCarol = nextEvent(carol, "receive_message");
    const ack = await alice.emitWithAck("send_message", {
      message: { userId: "alice", username: "ALICE", content: "Hello!", timestamp },
    });
    const got = await toBob;
    expect(got).toMatchObject({
      userId: "alice",
      username: "ALICE",
      content: "Hello!",
      timestamp,
      senderId: "alice",
      text: "Hello!",
    });
    expect(typeof got.id).toBe("string");
    expect(ack).toMatchObject({ ok: true, id: got.id });
    expect((await toCarol).id).toBe(got.id);
    await sleep(50);
    expect(echo).toEqual([]);
  });

  it("accepts the deployed web client's {senderId, text} shape", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const got = nextEvent(bob, "receive_message");
    const before = Date.now();
    alice.emit("send_message", { message: { senderId: "alice", text: "from the web client" } });
    const m = await got;
    expect(m).toMatchObject({ senderId: "alice", text: "from the web client", userId: "alice", username: "ALICE" });
    expect(m.timestamp).toBeGreaterThanOrEqual(before);
  });

  it("refuses impersonation, and nobody receives it", async () => {
    const room = newRoom();
    const mallory = await client("mallory", room);
    const bob = await client("bob", room);
    const got = record(bob, "receive_message");
    const ack = await mallory.emitWithAck("send_message", {
      message: { userId: "bob", username: "BOB", content: "x" },
    });
    expect(ack).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const err = nextEvent(mallory, "chat_error");
    mallory.emit("send_message", { message: { senderId: "bob", text: "x" } });
    expect(await err).toMatchObject({ code: "FORBIDDEN", event: "send_message" });
    await mallory.emitWithAck("send_message", { message: { userId: "mallory", content: "fine" } });
    await eventually(() => got.length === 1);
    expect(got.map((m) => m.content)).toEqual(["fine"]);
  });

  it("reads and writes no room state on the message path", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const received = record(bob, "receive_message");
    const watch = await monitor(...(await redisServer.masters()));
    const commands = () => watch.commands.map((c) => c.args);
    // Sent by a client, not run inside a script.
    const direct = () => watch.commands.filter((c) => !c.source.startsWith("lua")).map((c) => c.args);
    await sleep(50);
    for (let i = 0; i < 50; i++) alice.emit("send_message", { message: { userId: "alice", content: `m${i}` } });
    await eventually(() => received.length === 50);
    // History appends: script calls naming the room's history key (one per flush, for every room).
    const appends = () =>
      direct().filter((c) => /^eval(sha)?$/i.test(c[0]!) && c.includes(redisServer.keys.history(room))).length;
    await eventually(async () => (await redis.zcard(redisServer.keys.history(room))) === 50, 5000, "history stored");
    await sleep(50);
    watch.stop();
    // The history append names the users key only to ask whether anybody is in the room (an
    // empty room's history gets its expiry there); nothing else touches room state.
    const touching = commands().filter(
      (c) => c.some((arg) => arg === redisServer.keys.room(room)) && !/^(eval(sha)?|exists)$/i.test(c[0]!),
    );
    expect(touching).toEqual([]);
    expect(direct().filter((c) => /^(hget|hgetall|hvals)$/i.test(c[0]!))).toEqual([]);
    // What the messages do cost: one history append each, and no publish at all while no
    // other instance hosts the room.
    expect(commands().filter((c) => /^publish$/i.test(c[0]!) && c[1]!.includes(`room:${room}`))).toEqual([]);
    // Appends are batched over a short window: at most one write per message.
    expect(appends()).toBeGreaterThanOrEqual(1);
    expect(appends()).toBeLessThanOrEqual(50);
  });
});

describe("departures", () => {
  it("announces a dropped user once, after the grace period", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const notices = record(alice, "system_message");
    const start = Date.now();
    bob.disconnect();
    const left = await nextEvent(alice, "system_message", systemEvent("disconnect", "bob"), TEST_GRACE_MS * 10);
    expect(Date.now() - start).toBeGreaterThanOrEqual(TEST_GRACE_MS - 50);
    expect(left).toMatchObject({ event: "disconnect", username: "BOB", text: "BOB has left the chat." });
    await sleep(TEST_GRACE_MS);
    expect(notices.filter((n) => n.eventType === "disconnect")).toHaveLength(1);
    expect(JSON.parse((await redis.hget(redisServer.keys.room(room), "bob"))!)).toMatchObject({
      isDisconnectConfirm: true,
    });
  });

  it("announces nothing for a rejoin within the grace period", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bobArrived = nextEvent(alice, "system_message", systemEvent("connect", "bob"));
    const bob = await client("bob", room);
    await bobArrived;
    const notices = record(alice, "system_message");
    bob.disconnect();
    await sleep(TEST_GRACE_MS / 4);
    const bob2 = await connect(svc.url);
    clients.push(bob2);
    const existing = await join(bob2, "bob", room);
    expect(existing.users).toEqual([{ userId: "alice", username: "ALICE" }]);
    await sleep(TEST_GRACE_MS * 2);
    expect(notices).toEqual([]);
    expect(JSON.parse((await redis.hget(redisServer.keys.room(room), "bob"))!)).toMatchObject({
      isDisconnectConfirm: false,
    });
  });

  it("lists a user in their grace period as present to a new joiner", async () => {
    const room = newRoom();
    await client("alice", room);
    const bob = await client("bob", room);
    bob.disconnect();
    const carol = await connect(svc.url);
    clients.push(carol);
    const existing = await join(carol, "carol", room);
    expect(existing.users.map((u: { userId: string }) => u.userId).sort()).toEqual(["alice", "bob"]);
  });

  it("announces a user back after a confirmed departure as reconnect", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    bob.disconnect();
    await nextEvent(alice, "system_message", systemEvent("disconnect", "bob"), TEST_GRACE_MS * 10);
    const back = nextEvent(alice, "system_message", systemEvent("reconnect", "bob"));
    await client("bob", room);
    expect(await back).toMatchObject({ eventType: "reconnect", username: "BOB" });
  });

  it("treats two tabs of one user as one presence", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const notices = record(alice, "system_message");
    const tab1 = await client("bob", room);
    const tab2 = await client("bob", room);
    expect(notices.filter((n) => n.eventType === "connect")).toHaveLength(1);
    tab1.disconnect();
    await sleep(TEST_GRACE_MS * 2);
    expect(notices.filter((n) => n.eventType === "disconnect")).toEqual([]);
    tab2.disconnect();
    await nextEvent(alice, "system_message", systemEvent("disconnect", "bob"), TEST_GRACE_MS * 10);
  });

  it("leave_session is announced at once and disconnects the socket", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const start = Date.now();
    const left = nextEvent(alice, "system_message", systemEvent("disconnect", "bob"));
    const gone = disconnected(bob);
    bob.emit("leave_session");
    await left;
    expect(Date.now() - start).toBeLessThan(TEST_GRACE_MS);
    expect(await gone).toBe("io server disconnect");
  });

  it("deletes the room's state once nobody is present", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    bob.emit("leave_session");
    await nextEvent(alice, "system_message", systemEvent("disconnect", "bob"));
    expect(await redis.exists(redisServer.keys.room(room))).toBe(1);
    alice.disconnect();
    await eventually(
      async () => (await redis.exists(redisServer.keys.room(room))) === 0,
      TEST_GRACE_MS * 10,
      "room deleted",
    );
  });

  it("keeps the history of an empty room for the retention time only", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    await alice.emitWithAck("send_message", { message: { userId: "alice", content: "kept" } });
    expect(await redis.pttl(redisServer.keys.history(room))).toBe(-1);
    alice.emit("leave_session");
    await eventually(async () => (await redis.pttl(redisServer.keys.history(room))) > 0, 5000, "history expiry set");
    expect(await redis.pttl(redisServer.keys.history(room))).toBeLessThanOrEqual(24 * 3_600_000);
    await client("alice", room);
    expect(await redis.pttl(redisServer.keys.history(room))).toBe(-1);
  });
});

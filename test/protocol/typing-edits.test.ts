import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestRedis, type TestRedis } from "../helpers/test-redis.js";
import { startService, type RunningService } from "../helpers/service.js";
import { connect, joined, nextEvent, record, type Client } from "../helpers/clients.js";

/** Typing indicators, edits and deletes (PROTOCOL.md "Typing", "Edits and deletes"), in both store modes. */
const TYPING_TIMEOUT_MS = 600;

describe.each([
  ["shared", true],
  ["memory", false],
])("typing, edits and deletes (%s mode)", (_mode, withRedis) => {
  let redisServer: TestRedis | undefined;
  let svc: RunningService;
  const clients: Client[] = [];
  let seq = 0;
  const newRoom = () => `typing-${withRedis ? "r" : "m"}-${++seq}`;

  async function client(userId: string, roomId: string): Promise<Client> {
    const c = await joined(svc.url, userId, roomId);
    clients.push(c);
    return c;
  }
  const say = (c: Client, userId: string, content: string) =>
    c.emitWithAck("send_message", { message: { userId, content } });

  beforeAll(async () => {
    redisServer = withRedis ? await startTestRedis() : undefined;
    svc = await startService({
      ...(redisServer ? { REDIS_PORT: String(redisServer.port) } : {}),
      TYPING_TIMEOUT_MS: String(TYPING_TIMEOUT_MS),
    });
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => {
    await svc.stop();
    await redisServer?.stop();
  });

  it("relays typing to the others, never to the typist, and ends it on a message", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const own = record(alice, "user_typing");
    const started = nextEvent(bob, "user_typing");
    expect(await alice.emitWithAck("typing", { isTyping: true })).toEqual({ ok: true });
    expect(await started).toEqual({ roomId: room, userId: "alice", username: "ALICE", isTyping: true });
    const ended = nextEvent(bob, "user_typing");
    const message = nextEvent(bob, "receive_message");
    await say(alice, "alice", "done typing");
    expect(await ended).toMatchObject({ userId: "alice", isTyping: false });
    await message;
    expect(own).toEqual([]);
  });

  it("ends a typing that is not renewed, and throttles renewals", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const seen = record(bob, "user_typing");
    const t0 = Date.now();
    // Five renewals in one burst, well within the throttle window.
    for (let i = 0; i < 4; i++) alice.emit("typing", { isTyping: true });
    await alice.emitWithAck("typing", { isTyping: true });
    const ended = await nextEvent(bob, "user_typing", (t) => t.isTyping === false, TYPING_TIMEOUT_MS * 10);
    expect(ended.userId).toBe("alice");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(TYPING_TIMEOUT_MS - 50);
    // Renewals within the throttle are not relayed again (the five came much faster than it).
    expect(seen[0]?.isTyping).toBe(true);
    expect(seen[seen.length - 1]?.isTyping).toBe(false);
    expect(seen.filter((t) => t.isTyping).length).toBeLessThan(5);
  });

  it("a typist switching on and off as fast as it can does not flood the room", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const seen = record(bob, "user_typing");
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) {
      alice.emit("typing", { isTyping: true });
      alice.emit("typing", { isTyping: false });
    }
    expect(await alice.emitWithAck("typing", { isTyping: false })).toEqual({ ok: true });
    const elapsed = Date.now() - t0;
    await bob.emitWithAck("typing", { isTyping: false }); // what was relayed to bob has reached it
    // The first starts are relayed (a budget of ten), each with its end; then one per throttle
    // period (a third of the timeout) while the switching lasts; the rest are not.
    expect(seen.slice(0, 2).map((t) => t.isTyping)).toEqual([true, false]);
    const budget = 10 + Math.ceil(elapsed / (TYPING_TIMEOUT_MS / 3)) + 1;
    expect(seen.filter((t) => t.isTyping).length).toBeLessThanOrEqual(budget);
    expect(seen.filter((t) => !t.isTyping).length).toBe(seen.filter((t) => t.isTyping).length);
    // Not refused: an honest client is never told off for typing.
    expect(await alice.emitWithAck("typing", { isTyping: true })).toEqual({ ok: true });
  });

  it("ends typing when the typist leaves, and refuses typing before a join or with a bad payload", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const started = nextEvent(bob, "user_typing");
    alice.emit("typing", { isTyping: true });
    await started;
    const ended = nextEvent(bob, "user_typing");
    alice.emit("leave_session");
    expect(await ended).toMatchObject({ userId: "alice", isTyping: false });

    const stranger = await connect(svc.url);
    clients.push(stranger);
    expect(await stranger.emitWithAck("typing", { isTyping: true })).toMatchObject({
      ok: false,
      error: { code: "NOT_JOINED" },
    });
    expect(await bob.emitWithAck("typing", { isTyping: "yes" })).toMatchObject({
      ok: false,
      error: { code: "INVALID_PAYLOAD" },
    });
  });

  it("ends typing at the typist's confirmed departure, after its notice, not at the drop", async () => {
    // An instance of its own whose typing timeout cannot end it first, however slow the machine,
    // and whose departures no other instance's sweep confirms (keys of its own): the departure
    // is confirmed where the typist was, as when that instance is not late.
    const slowTyping = await startService({
      ...(redisServer ? { REDIS_PORT: String(redisServer.port), REDIS_KEY_PREFIX: "slow-typing:" } : {}),
      TYPING_TIMEOUT_MS: "20000",
    });
    const room = newRoom();
    const alice = await joined(slowTyping.url, "alice", room);
    const bob = await joined(slowTyping.url, "bob", room);
    clients.push(alice, bob);
    const started = nextEvent(bob, "user_typing");
    alice.emit("typing", { isTyping: true });
    await started;
    const events: string[] = [];
    bob.on("system_message", (m) => events.push(`${m.eventType}:${m.userId}`));
    bob.on("user_typing", (t) => events.push(`typing ${t.isTyping}:${t.userId}`));
    const ended = nextEvent(bob, "user_typing", (t) => t.isTyping === false, 5000);
    alice.disconnect();
    await ended;
    expect(events).toEqual(["disconnect:alice", "typing false:alice"]);
    await slowTyping.stop();
  });

  it("edits and deletes by the author only; the others are told; history returns the current versions", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const bob = await client("bob", room);
    const first = await say(alice, "alice", "first");
    const second = await say(alice, "alice", "second");
    const third = await say(alice, "alice", "third");

    const updated = nextEvent(bob, "message_updated");
    const edit = await alice.emitWithAck("edit_message", { id: first.id, content: "first, fixed" });
    expect(edit).toMatchObject({ ok: true, id: first.id, editedAt: expect.any(Number) });
    expect(await updated).toEqual({
      id: first.id,
      roomId: room,
      userId: "alice",
      username: "ALICE",
      content: "first, fixed",
      text: "first, fixed",
      editedAt: edit.editedAt,
    });
    const deleted = nextEvent(bob, "message_deleted");
    const del = await alice.emitWithAck("delete_message", { id: second.id });
    expect(del).toMatchObject({ ok: true, id: second.id, deletedAt: expect.any(Number) });
    expect(await deleted).toEqual({ id: second.id, roomId: room, deletedAt: del.deletedAt });

    // Refusals: not the author, unknown id, a deleted message, bad input.
    const refusal = async (c: Client, event: string, payload: unknown) =>
      ((await c.emitWithAck(event, payload)) as { error?: { code: string } }).error?.code;
    expect(await refusal(bob, "edit_message", { id: third.id, content: "hijacked" })).toBe("FORBIDDEN");
    expect(await refusal(bob, "delete_message", { id: third.id })).toBe("FORBIDDEN");
    expect(await refusal(alice, "edit_message", { id: "no-such-id", content: "x" })).toBe("NOT_FOUND");
    expect(await refusal(alice, "edit_message", { id: second.id, content: "back" })).toBe("NOT_FOUND");
    expect(await refusal(alice, "edit_message", { id: third.id, content: "" })).toBe("INVALID_PAYLOAD");
    expect(await refusal(alice, "edit_message", { id: third.id })).toBe("INVALID_PAYLOAD");

    // A new joiner sees the current versions.
    const reader = await connect(svc.url);
    clients.push(reader);
    const history = nextEvent(reader, "chat_history");
    await reader.emitWithAck("join_room", { userId: "carol", username: "Carol", roomId: room });
    const messages = (await history).messages;
    expect(messages).toEqual([
      expect.objectContaining({ id: first.id, content: "first, fixed", text: "first, fixed", editedAt: edit.editedAt }),
      { id: second.id, roomId: room, deleted: true, deletedAt: del.deletedAt },
      expect.objectContaining({ id: third.id, content: "third" }),
    ]);
    expect(messages[2].editedAt).toBeUndefined();
  });

  it("a catch-up returns changes made after lastMessageId to older messages", async () => {
    const room = newRoom();
    const alice = await client("alice", room);
    const a = await say(alice, "alice", "a");
    const b = await say(alice, "alice", "b");
    const c = await say(alice, "alice", "c");
    // A client that saw up to c, then a was edited and b deleted, and d was sent.
    await alice.emitWithAck("edit_message", { id: a.id, content: "a2" });
    await alice.emitWithAck("delete_message", { id: b.id });
    const d = await say(alice, "alice", "d");
    const back = await connect(svc.url);
    clients.push(back);
    const history = nextEvent(back, "chat_history");
    const ack = await back.emitWithAck("join_room", {
      userId: "bob",
      username: "Bob",
      roomId: room,
      lastMessageId: c.id,
    });
    const got = await history;
    expect(got.complete).toBe(true);
    expect(
      got.messages.map((m: { id: string; content?: string; deleted?: boolean }) => [m.id, m.content ?? "deleted"]),
    ).toEqual([
      [a.id, "a2"],
      [b.id, "deleted"],
      [d.id, "d"],
    ]);
    expect(ack.messages).toEqual(got.messages);
  });
});

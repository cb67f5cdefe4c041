import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cluster, Redis } from "ioredis";
import { startTestRedis, type TestRedis } from "../helpers/test-redis.js";
import { startService, type RunningService } from "../helpers/service.js";
import { connect, disconnected, eventually, joined, nextEvent, record, type Client } from "../helpers/clients.js";

const MAX = 1000;
const ROOM = "interview-1";

let redisServer: TestRedis;
let redis: Redis | Cluster;
let svc: RunningService;
let mallory: Client;
let stranger: Client;
let bob: Client;
let bobMessages: any[];
let bobNotices: any[];

/** Everything the service stores, to prove a refused event changed nothing. */
async function storedState(): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const key of (await redisServer.keysMatching("room:*:users")).sort()) out[key] = await redis.hgetall(key);
  return out;
}

beforeAll(async () => {
  redisServer = await startTestRedis();
  redis = redisServer.client();
  svc = await startService({ REDIS_PORT: String(redisServer.port), MAX_MESSAGE_LENGTH: String(MAX) });
  bob = await joined(svc.url, "bob", ROOM);
  const arrived = nextEvent(bob, "system_message", (m) => m.userId === "mallory");
  mallory = await joined(svc.url, "mallory", ROOM);
  await arrived;
  stranger = await connect(svc.url);
  bobMessages = record(bob, "receive_message");
  bobNotices = record(bob, "system_message");
});
afterAll(async () => {
  [mallory, stranger, bob].forEach((c) => c.close());
  await svc.stop();
  redis.disconnect();
  await redisServer.stop();
});

const deep = (depth: number): unknown => (depth === 0 ? "x" : { a: deep(depth - 1) });
const own = (json: string): unknown => JSON.parse(json);
const msg = (message: unknown) => ({ message });

type Case = [name: string, from: "mallory" | "stranger", event: string, args: unknown[], code: string];

const cases: Case[] = [
  ["join_room without payload", "mallory", "join_room", [], "INVALID_PAYLOAD"],
  ["join_room null", "mallory", "join_room", [null], "INVALID_PAYLOAD"],
  ["join_room number", "mallory", "join_room", [42], "INVALID_PAYLOAD"],
  ["join_room string", "mallory", "join_room", ["room"], "INVALID_PAYLOAD"],
  ["join_room array", "mallory", "join_room", [["alice", "A", "r"]], "INVALID_PAYLOAD"],
  ["join_room empty object", "mallory", "join_room", [{}], "INVALID_PAYLOAD"],
  ["join_room missing roomId", "mallory", "join_room", [{ userId: "m", username: "M" }], "INVALID_PAYLOAD"],
  ["join_room numeric userId", "mallory", "join_room", [{ userId: 7, username: "M", roomId: ROOM }], "INVALID_PAYLOAD"],
  [
    "join_room null username",
    "mallory",
    "join_room",
    [{ userId: "m", username: null, roomId: ROOM }],
    "INVALID_PAYLOAD",
  ],
  ["join_room empty roomId", "mallory", "join_room", [{ userId: "m", username: "M", roomId: "" }], "INVALID_PAYLOAD"],
  [
    "join_room huge userId",
    "mallory",
    "join_room",
    [{ userId: "u".repeat(10_000), username: "M", roomId: ROOM }],
    "INVALID_PAYLOAD",
  ],
  [
    "join_room operator object",
    "mallory",
    "join_room",
    [{ userId: "m", username: "M", roomId: { $gt: "" } }],
    "INVALID_PAYLOAD",
  ],
  [
    "join_room __proto__",
    "mallory",
    "join_room",
    [own('{"__proto__":{"userId":"m","username":"M","roomId":"x"}}')],
    "INVALID_PAYLOAD",
  ],
  [
    "join_room control chars",
    "mallory",
    "join_room",
    [{ userId: "m", username: "M", roomId: "a\nb" }],
    "INVALID_PAYLOAD",
  ],
  ["join_room deeply nested", "mallory", "join_room", [deep(500)], "INVALID_PAYLOAD"],
  [
    "join_room userId array",
    "mallory",
    "join_room",
    [{ userId: ["bob"], username: "M", roomId: ROOM }],
    "INVALID_PAYLOAD",
  ],
  ["send_message without payload", "mallory", "send_message", [], "INVALID_PAYLOAD"],
  ["send_message null", "mallory", "send_message", [null], "INVALID_PAYLOAD"],
  ["send_message message null", "mallory", "send_message", [msg(null)], "INVALID_PAYLOAD"],
  ["send_message message string", "mallory", "send_message", [msg("hi")], "INVALID_PAYLOAD"],
  ["send_message message array", "mallory", "send_message", [msg(["hi"])], "INVALID_PAYLOAD"],
  ["send_message no content", "mallory", "send_message", [msg({ userId: "mallory" })], "INVALID_PAYLOAD"],
  [
    "send_message numeric content",
    "mallory",
    "send_message",
    [msg({ userId: "mallory", content: 42 })],
    "INVALID_PAYLOAD",
  ],
  [
    "send_message empty content",
    "mallory",
    "send_message",
    [msg({ userId: "mallory", content: "   " })],
    "INVALID_PAYLOAD",
  ],
  [
    "send_message content too long",
    "mallory",
    "send_message",
    [msg({ userId: "mallory", content: "x".repeat(MAX + 1) })],
    "MESSAGE_TOO_LONG",
  ],
  [
    "send_message huge content",
    "mallory",
    "send_message",
    [msg({ userId: "mallory", content: "x".repeat(200_000) })],
    "MESSAGE_TOO_LONG",
  ],
  ["send_message no sender", "mallory", "send_message", [msg({ content: "x" })], "INVALID_PAYLOAD"],
  ["send_message as another user", "mallory", "send_message", [msg({ userId: "bob", content: "x" })], "FORBIDDEN"],
  [
    "send_message web shape as another user",
    "mallory",
    "send_message",
    [msg({ senderId: "bob", text: "x" })],
    "FORBIDDEN",
  ],
  [
    "send_message conflicting ids",
    "mallory",
    "send_message",
    [msg({ userId: "mallory", senderId: "bob", content: "x" })],
    "FORBIDDEN",
  ],
  [
    "send_message object content",
    "mallory",
    "send_message",
    [msg({ userId: "mallory", content: { toString: "x" } })],
    "INVALID_PAYLOAD",
  ],
  [
    "send_message string timestamp",
    "mallory",
    "send_message",
    [msg({ userId: "mallory", content: "x", timestamp: "now" })],
    "INVALID_PAYLOAD",
  ],
  [
    "send_message __proto__ content",
    "mallory",
    "send_message",
    [own('{"message":{"userId":"mallory","__proto__":{"content":"x"}}}')],
    "INVALID_PAYLOAD",
  ],
  ["send_message deeply nested", "mallory", "send_message", [msg(deep(500))], "INVALID_PAYLOAD"],
  [
    "send_message before joining",
    "stranger",
    "send_message",
    [msg({ userId: "stranger", content: "x" })],
    "NOT_JOINED",
  ],
  ["unknown event", "mallory", "hack_the_planet", [{ x: 1 }], "UNKNOWN_EVENT"],
  ["unknown event constructor", "mallory", "constructor", [], "UNKNOWN_EVENT"],
  ["unknown event __proto__", "mallory", "__proto__", [{}], "UNKNOWN_EVENT"],
  [
    "server event sent by a client",
    "stranger",
    "receive_message",
    [{ userId: "bob", content: "fake" }],
    "UNKNOWN_EVENT",
  ],
];

describe("malformed input is refused and changes nothing", () => {
  it.each(cases)("%s", async (_name, from, event, args, code) => {
    const socket = from === "mallory" ? mallory : stranger;
    const before = await storedState();
    const seenBefore = [bobMessages.length, bobNotices.length];

    // Once with an acknowledgement callback, once without (answered by chat_error).
    const ack = await socket.timeout(5000).emitWithAck(event, ...args);
    expect(ack).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
    const error = nextEvent(socket, "chat_error");
    socket.emit(event, ...args);
    expect(await error).toMatchObject({ code, event: event.slice(0, 64) });

    // The service still serves: mallory is still in the room and her real messages get through.
    const probe = `probe after ${_name}`;
    await mallory.emitWithAck("send_message", msg({ userId: "mallory", content: probe }));
    await eventually(() => bobMessages.some((m) => m.content === probe));
    expect(bobMessages.slice(seenBefore[0]).map((m) => m.content)).toEqual([probe]);
    expect(bobNotices.length).toBe(seenBefore[1]);
    expect(await storedState()).toEqual(before);
  });

  it("closes a connection whose packet exceeds the buffer limit, and keeps serving", async () => {
    const big = await joined(svc.url, "mallory", ROOM);
    const gone = disconnected(big);
    big.emit("send_message", msg({ userId: "mallory", content: "x".repeat(400_000) }));
    expect(await gone).toBe("transport close");
    const probe = "still here";
    await mallory.emitWithAck("send_message", msg({ userId: "mallory", content: probe }));
    await eventually(() => bobMessages.some((m) => m.content === probe));
    expect(bobMessages.some((m) => m.content.length > MAX)).toBe(false);
  });
});

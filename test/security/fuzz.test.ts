/**
 * Property-based fuzzing of a running instance: random and adversarial event names and
 * payloads (JSON values, binary, __proto__ keys, near-valid shapes). FUZZ_RUNS sets the count
 * (default 3000 here; `npm run fuzz` runs a long one), FUZZ_SEED replays a failure.
 *
 * Token auth pins the fuzzer to one user and one room (with its username in the token), so
 * any join it gets accepted is a rejoin that changes nothing; any message it gets accepted is
 * its own and must reach the observer exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { SignJWT } from "jose";
import type { Redis } from "ioredis";
import { RedisServer } from "../helpers/redis-server.js";
import { startService, type RunningService } from "../helpers/service.js";
import { connect, eventually, join, record, type Client } from "../helpers/clients.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const SECRET = "fuzzing-secret-of-enough-length";
const ROOM = "fuzz-room";
/** Names a Socket.IO client refuses to emit (reserved by the library itself). */
const RESERVED = new Set(["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]);

let redisServer: RedisServer;
let redis: Redis;
let svc: RunningService;
let fuzzer: Client;
let observer: Client;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

const token = (sub: string) =>
  new SignJWT({ rooms: [ROOM], username: sub.toUpperCase() })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(SECRET));

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  redisServer = await RedisServer.start();
  redis = redisServer.client();
  svc = await startService({
    REDIS_PORT: String(redisServer.port),
    AUTH_JWT_SECRET: SECRET,
    AUTH_ROOMS_CLAIM: "rooms",
    RATE_MESSAGES_PER_SECOND: "0",
    RATE_JOINS_PER_MINUTE: "0",
    RATE_ABUSE_DISCONNECT_AFTER: "0",
    MAX_MESSAGE_LENGTH: "200",
  });
  observer = await connect(svc.url, { auth: { token: await token("observer") } });
  await join(observer, "observer", ROOM);
  fuzzer = await connect(svc.url, { auth: { token: await token("fuzzer") } });
  await join(fuzzer, "fuzzer", ROOM);
});
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  fuzzer?.close();
  observer?.close();
  await svc?.stop();
  redis?.disconnect();
  await redisServer?.stop();
});

const text = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.constantFrom("", "fuzzer", "observer", ROOM, "__proto__", "constructor", "x".repeat(300), "\u0000", "a\nb", "💥"),
  // What breaks storage or deceives a reader: lone surrogates, C1 controls, bidi overrides,
  // identifiers long in bytes but not in characters.
  fc.constantFrom("x\ud800", "\udc00", "a\u0085b", "\u202eevil", "a\u2066b", "𝒜".repeat(40)),
  fc.string({ unit: "binary", maxLength: 12 }),
);
const key = fc.oneof(text, fc.constantFrom("__proto__", "constructor", "prototype", "toString"));
const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.jsonValue({ maxDepth: 2 }),
    text,
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.constant(null),
    fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
    fc.array(tie("any"), { maxLength: 3 }),
    fc.dictionary(key, tie("any"), { maxKeys: 4 }),
  ),
})).any;
const field = fc.oneof(text, value);
const joinLike = fc.record({ userId: field, username: field, roomId: field }, { requiredKeys: [] });
const messageLike = fc.record(
  {
    message: fc.oneof(
      value,
      fc.record(
        { userId: field, senderId: field, username: field, content: field, text: field, timestamp: field },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: [] },
);
// Near-valid payloads: right shape, adversarial values, so some are accepted and some not.
const who = fc.constantFrom("fuzzer", "observer", "FUZZER", "fuzzer ", "");
const nearValidMessage = fc.oneof(
  fc.record({
    message: fc.record(
      { userId: who, content: text, timestamp: fc.oneof(fc.nat(), field) },
      { requiredKeys: ["userId", "content"] },
    ),
  }),
  fc.record({ message: fc.record({ senderId: who, text }) }),
);
const nearValidJoin = fc.record({ userId: who, username: text, roomId: fc.constantFrom(ROOM, "elsewhere", "") });
const nearValidChange = fc.oneof(
  fc.record({ isTyping: fc.oneof(fc.boolean(), field) }, { requiredKeys: [] }),
  fc.record({ id: fc.oneof(text, field), content: fc.oneof(text, field) }, { requiredKeys: [] }),
);
const eventName = fc
  .oneof(
    fc.constantFrom("join_room", "send_message", "typing", "edit_message", "delete_message"),
    fc.constantFrom("__proto__", "constructor", "toString", "receive_message", "system_message", "chat_error"),
    fc.string({ maxLength: 30 }),
  )
  .filter((name) => !RESERVED.has(name));
const payloads = fc.oneof(
  fc.array(fc.oneof(value, joinLike, messageLike), { maxLength: 3 }),
  fc.tuple(fc.oneof(nearValidMessage, nearValidJoin, nearValidChange)),
);

const storedRoom = async () => {
  const all = await redis.hgetall(`room:${ROOM}:users`);
  return Object.fromEntries(
    Object.entries(all).map(([k, v]) => {
      const { graceUntil: _g, ...rest } = JSON.parse(v);
      return [k, rest];
    }),
  );
};

describe("fuzzing a running instance", () => {
  it(`survives ${RUNS} random events with no delivery, state change or leak`, { timeout: 600_000 }, async () => {
    const before = await storedRoom();
    const delivered = record(observer, "receive_message");
    const notices = record(observer, "system_message");
    let accepted = 0;

    const property = fc.asyncProperty(eventName, payloads, async (event, args) => {
      const ack = await fuzzer.timeout(5000).emitWithAck(event, ...args);
      expect(typeof ack?.ok).toBe("boolean");
      if (ack.ok) {
        expect(["join_room", "send_message", "typing"]).toContain(event);
        if (event === "send_message") accepted++;
      } else {
        expect(typeof ack.error.code).toBe("string");
        expect(typeof ack.error.message).toBe("string");
      }
    });

    const gc = (globalThis as { gc?: () => void }).gc;
    const heap = () => {
      gc?.();
      return process.memoryUsage().heapUsed;
    };
    // A warm-up round, then the measured one: the heap must come back to its baseline.
    const warmUp = Math.max(100, Math.floor(RUNS / 5));
    await fc.assert(property, { numRuns: warmUp, ...(SEED === undefined ? {} : { seed: SEED }) });
    const baseline = heap();
    await fc.assert(property, { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED + 1 }) });

    await eventually(() => delivered.length >= accepted, 5000, "accepted messages delivered");
    expect(accepted).toBeGreaterThan(0);
    expect(delivered.length).toBe(accepted);
    expect(delivered.every((m) => m.userId === "fuzzer")).toBe(true);
    expect(notices).toEqual([]);
    expect(await storedRoom()).toEqual(before);
    expect(fuzzer.connected).toBe(true);
    expect((await fetch(`${svc.url}/health`)).status).toBe(200);
    expect(unhandled).toEqual([]);
    expect(gc, "vitest runs with --expose-gc").toBeDefined();
    expect(heap() - baseline).toBeLessThan(8 * 1024 * 1024);
    console.log(
      `fuzz: ${RUNS + warmUp} events, ${accepted} accepted messages, heap +${((heap() - baseline) / 1024).toFixed(0)} KiB`,
    );
  });
});

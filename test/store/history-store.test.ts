import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { RedisHistoryStore } from "../../src/history/redis-history-store.js";
import { RedisKeys } from "../../src/redis/keys.js";
import type { ChatMessage } from "../../src/socket/events.js";
import { RedisServer } from "../helpers/redis-server.js";
import { storedHistory } from "../helpers/test-redis.js";

/**
 * The history's byte count stays the true total of its members whatever the appends bring:
 * a message written again (a write-back of what a lost reply had stored already), the same
 * message twice in one write. The append script raises the count before it adds the members,
 * so what it counted for a member already there must be taken back.
 */
const keys = new RedisKeys();
let server: RedisServer;
let redis: Redis;
let writer: Redis;
let store: RedisHistoryStore;
let seq = 0;

function message(roomId: string, content: string): ChatMessage {
  const now = Date.now();
  const id = `${now.toString(36).padStart(9, "0")}-${(seq++).toString(36).padStart(4, "0")}-test`;
  const sender = { userId: "alice", senderId: "alice", username: "Alice" };
  return { id, roomId, ...sender, content, text: content, timestamp: now, serverTimestamp: now };
}

/** Appends `messages` in one write; resolves once Redis has answered for each. */
async function appendTogether(messages: ChatMessage[]): Promise<void> {
  const stored = messages.map(
    (m) => new Promise<void>((resolve, reject) => store.append(m, (err) => (err ? reject(err) : resolve()))),
  );
  await store.flush();
  await Promise.all(stored);
}

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.port);
  writer = new Redis(server.port);
  store = new RedisHistoryStore(redis, writer, keys, {
    limit: 50,
    maxBytes: 1_000_000,
    retentionMs: 60_000,
    dedupeWindowMs: 60_000,
    flushMs: 0,
    timeoutMs: 5000,
  });
});
afterAll(async () => {
  redis.disconnect();
  writer.disconnect();
  await server.stop();
});

describe("the history's byte count", () => {
  it("counts a message written again once", async () => {
    const first = message("again", "first");
    await appendTogether([first]);
    await appendTogether([first, message("again", "second")]);
    const { count, members, bytes } = await storedHistory(redis, keys, "again");
    expect(members).toHaveLength(2);
    expect(count).toBe(bytes);
  });

  it("counts a message twice in one write once, in a new history and in one that exists", async () => {
    const twice = message("twice", "twice");
    await appendTogether([twice, twice]);
    expect(await storedHistory(redis, keys, "twice")).toMatchObject({ members: [expect.any(String)] });
    const again = message("twice", "again");
    await appendTogether([again, again]);
    const { count, members, bytes } = await storedHistory(redis, keys, "twice");
    expect(members).toHaveLength(2);
    expect(count).toBe(bytes);
  });
});

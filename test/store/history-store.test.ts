import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { pino } from "pino";
import { FailoverHistoryStore } from "../../src/history/failover-history-store.js";
import { MemoryHistoryStore } from "../../src/history/memory-history-store.js";
import { RedisHistoryStore } from "../../src/history/redis-history-store.js";
import type { StoreMode } from "../../src/store/failover-room-store.js";
import { RedisKeys } from "../../src/redis/keys.js";
import type { ChatMessage } from "../../src/socket/events.js";
import { RedisServer } from "../helpers/redis-server.js";
import { storedHistory } from "../helpers/test-redis.js";

/**
 * What the history store keeps in Redis, used directly on a private Redis.
 *
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

describe("the return from memory mode", () => {
  // The room state is written back first, and the history's write-back starts once that is
  // done; in between the mode already reads "shared". A read or a claim made then must still
  // see what memory mode accepted.
  const BOUNDS = { limit: 50, maxBytes: 1_000_000, retentionMs: 60_000, dedupeWindowMs: 60_000 };

  function failover() {
    let mode: StoreMode = "memory";
    const memory = new MemoryHistoryStore({ ...BOUNDS, isActive: () => true });
    const history = new FailoverHistoryStore(store, memory, () => mode, pino({ level: "silent" }));
    return { history, memory, backInShared: () => (mode = "shared") };
  }

  const appended = (history: FailoverHistoryStore, m: ChatMessage) =>
    new Promise<void>((resolve, reject) => history.append(m, (err) => (err ? reject(err) : resolve())));

  it("a read before the history's write-back has begun gets memory mode's messages", async () => {
    const { history, memory, backInShared } = failover();
    const kept = message("outage-read", "sent while Redis was away");
    await appended(history, kept);
    backInShared();
    const page = await history.since("outage-read");
    expect(page.messages.map((m) => m.id)).toEqual([kept.id]);
    expect((await storedHistory(redis, keys, "outage-read")).members).toHaveLength(1);
    expect(memory.unsynced().messages.size).toBe(0);
    memory.close();
  });

  it("an edit before the history's write-back has begun finds memory mode's message", async () => {
    const { history, memory, backInShared } = failover();
    const kept = message("outage-edit", "sent while Redis was away");
    await appended(history, kept);
    backInShared();
    const at = Date.now();
    const change = {
      roomId: "outage-edit",
      id: kept.id,
      userId: "alice",
      content: "fixed",
      at,
      revision: `${kept.id}-r`,
    };
    expect(await history.change(change)).toMatchObject({ ok: true, entry: { id: kept.id, content: "fixed" } });
    memory.close();
  });

  it("a retry claimed before the history's write-back has begun is still a duplicate", async () => {
    const { history, memory, backInShared } = failover();
    const kept = message("outage-claim", "sent while Redis was away");
    expect(await history.claimClientMessageId("outage-claim", "alice", "c-1", kept.id)).toBeNull();
    await appended(history, kept);
    backInShared();
    expect(await history.claimClientMessageId("outage-claim", "alice", "c-1", "another-id")).toBe(kept.id);
    memory.close();
  });
});

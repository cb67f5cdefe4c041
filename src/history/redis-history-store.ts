import type { Redis } from "ioredis";
import type { RedisClientType } from "redis";
import type { RedisKeys } from "../redis/keys.js";
import type { ChatMessage } from "../socket/events.js";
import type { HistoryStore } from "./history-store.js";

/** The first byte after every UTF-8 character: "(<id>\n\xff" excludes exactly the members of <id>. */
const AFTER_ALL = Buffer.from([0xff]);

/**
 * History in Redis, shared by every instance: a sorted set per room whose members are
 * "<id>\n<JSON of the rest>" (all scores 0, so ordered by id), trimmed to the newest `limit`. The room
 * scripts keep it while anybody is present and let it expire after the room empties.
 */
export class RedisHistoryStore implements HistoryStore {
  /** Appends waiting for the current batch. */
  private pending: { key: string; member: string; done: (err?: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  /** The last batch sent; once it has settled, so have all before it (one connection, in order). */
  private lastWrite: Promise<void> = Promise.resolve();
  /** Appends per room since its last trim; a room is trimmed back once past limit + slack. */
  private readonly sinceTrim = new Map<string, number>();

  /**
   * `redis` serves reads and dedupe claims; `writer`, a connection of its own, the appends
   * (see RedisConnection). A batch not answered within `timeoutMs` fails its appends.
   */
  constructor(
    private readonly redis: Redis,
    private readonly writer: RedisClientType,
    private readonly keys: RedisKeys,
    private readonly options: { limit: number; dedupeWindowMs: number; flushMs: number; timeoutMs: number },
  ) {}

  /**
   * Queues the message for the next write, off the delivery path (which has already
   * happened). Writes are at most one per `flushMs`: a lone message goes out at once, a busy
   * instance sends one write per window for all its messages, which is what makes history
   * cheap under load (fewer, larger writes cost both sides less per message; bench/RESULTS.md).
   * Callbacks, not promises: this runs once per message.
   */
  append(message: ChatMessage, done: (err?: Error) => void): void {
    if (this.options.limit === 0) return done(); // history off
    // Stored without what the member's id prefix and the key already say (id, roomId) and
    // without the web-client aliases (senderId, text), which repeat userId and content.
    const { id: _id, roomId: _roomId, senderId: _senderId, text: _text, ...stored } = message;
    this.pending.push({
      key: this.keys.history(message.roomId),
      member: `${message.id}\n${JSON.stringify(stored)}`,
      done,
    });
    if (this.timer === undefined) {
      const wait = Math.max(0, this.lastFlush + this.options.flushMs - Date.now());
      this.timer = setTimeout(() => void this.flush(), wait);
    }
  }

  /**
   * Sends the queued appends now; resolves once Redis has answered them and every earlier
   * batch (never rejects: failures go to the appends' callbacks). Awaited before anything
   * that must reach Redis after them (a history read, a hosts `ack`, shutdown): one plain
   * ZADD per room, written together, and a trim for rooms that grew past the limit plus a
   * slack. No script: Lua's per-call overhead in Redis cost more than the ZADDs
   * (bench/RESULTS.md).
   */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.length === 0) return this.lastWrite;
    this.pending = [];
    this.lastFlush = Date.now();
    const byKey = new Map<string, { score: number; value: string }[]>();
    for (const p of batch) {
      const members = byKey.get(p.key);
      if (members) members.push({ score: 0, value: p.member });
      else byKey.set(p.key, [{ score: 0, value: p.member }]);
    }
    const slack = Math.max(16, Math.floor(this.options.limit / 8));
    const writes: Promise<unknown>[] = [];
    for (const [key, members] of byKey) {
      writes.push(this.writer.zAdd(key, members));
      const count = (this.sinceTrim.get(key) ?? 0) + members.length;
      if (count > slack) {
        this.sinceTrim.delete(key);
        writes.push(this.writer.zRemRangeByRank(key, 0, -(this.options.limit + 1)));
      } else {
        this.sinceTrim.set(key, count);
      }
    }
    if (this.sinceTrim.size > 100_000) this.sinceTrim.clear(); // bounded; rooms trim a bit later
    this.lastWrite = new Promise<void>((resolve) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        batch.forEach((p) => p.done(err));
        resolve();
      };
      const timer = setTimeout(
        () => settle(new Error(`history write not answered within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      Promise.all(writes).then(
        () => settle(),
        (err: Error) => settle(err),
      );
    });
    return this.lastWrite;
  }

  async since(roomId: string, afterId?: string): Promise<ChatMessage[]> {
    // Queued and unanswered appends first: a socket that joins just after a message was sent
    // here gets it from this read.
    await this.flush();
    const key = this.keys.history(roomId);
    const members =
      afterId === undefined
        ? await this.redis.zrange(key, -this.options.limit, -1)
        : await this.redis.zrangeBuffer(key, Buffer.concat([Buffer.from(`(${afterId}\n`), AFTER_ALL]), "+", "BYLEX");
    const out: ChatMessage[] = [];
    // The set may hold a few more than `limit` until its next trim: keep the newest.
    for (const member of members.slice(-this.options.limit)) {
      const text = member.toString();
      const newline = text.indexOf("\n");
      try {
        const m = JSON.parse(text.slice(newline + 1)) as Omit<ChatMessage, "id" | "roomId" | "senderId" | "text">;
        out.push({ id: text.slice(0, newline), roomId, ...m, senderId: m.userId, text: m.content });
      } catch {
        // an unreadable entry is skipped, not fatal
      }
    }
    return out;
  }

  async claimClientMessageId(
    roomId: string,
    userId: string,
    clientMessageId: string,
    messageId: string,
  ): Promise<string | null> {
    const key = this.keys.dedupe(roomId, userId, clientMessageId);
    const previous = await this.redis.set(key, messageId, "PX", this.options.dedupeWindowMs, "NX", "GET");
    return previous;
  }
}

import type { Redis } from "ioredis";
import type { RedisClientType } from "redis";
import type { RedisKeys } from "../redis/keys.js";
import { WriterScript } from "../redis/writer-script.js";
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
  /**
   * The current batch: by history key, the members and their appends' callbacks. Only what
   * the write needs is kept: a batch lives until Redis answers, long enough for the young
   * generation's collector to promote whatever it holds (bench/RESULTS.md, lever 13).
   */
  private pending = new Map<string, { members: string[]; done: ((err?: Error) => void)[] }>();
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  /** The last batch sent; once it has settled, so have all before it (one connection, in order). */
  private lastWrite: Promise<void> = Promise.resolve();
  private readonly appendScript = new WriterScript("history_append.lua");

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
    // A literal of known shape: cheaper to build and to stringify than a rest copy.
    const stored = {
      userId: message.userId,
      username: message.username,
      content: message.content,
      timestamp: message.timestamp,
      serverTimestamp: message.serverTimestamp,
      clientMessageId: message.clientMessageId, // left out by JSON when undefined
    };
    const key = this.keys.history(message.roomId);
    const member = `${message.id}\n${JSON.stringify(stored)}`;
    const room = this.pending.get(key);
    if (room) {
      room.members.push(member);
      room.done.push(done);
    } else {
      this.pending.set(key, { members: [member], done: [done] });
    }
    if (this.timer === undefined) {
      const wait = Math.max(0, this.lastFlush + this.options.flushMs - Date.now());
      this.timer = setTimeout(() => void this.flush(), wait);
    }
  }

  /**
   * Sends the queued appends now; resolves once Redis has answered them and every earlier
   * batch (never rejects: failures go to the appends' callbacks). Awaited before anything
   * that must reach Redis after them (a history read, a hosts `ack`, shutdown). One script
   * call for the whole batch, whatever the number of rooms: per command, the client's cost
   * outweighs what Lua adds in Redis (bench/RESULTS.md, lever 12).
   */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const byKey = this.pending;
    if (byKey.size === 0) return this.lastWrite;
    this.pending = new Map();
    this.lastFlush = Date.now();
    const { limit } = this.options;
    const argv = [String(limit + Math.max(16, Math.floor(limit / 8))), String(limit)];
    for (const { members } of byKey.values()) argv.push(String(members.length), ...members);
    const write = this.appendScript.run(this.writer, [...byKey.keys()], argv);
    this.lastWrite = new Promise<void>((resolve) => {
      let settled = false;
      /** `err` fails the whole batch; `failedRooms` (the script's reply) fails only those rooms. */
      const settle = (err?: Error, failedRooms: unknown[] = []) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const roomErrors = new Map<number, Error>();
        for (let i = 0; i + 1 < failedRooms.length; i += 2) {
          roomErrors.set(Number(failedRooms[i]) - 1, new Error(`history write failed: ${String(failedRooms[i + 1])}`));
        }
        [...byKey.values()].forEach(({ done }, index) => {
          const roomErr = err ?? roomErrors.get(index);
          done.forEach((callback) => callback(roomErr));
        });
        resolve();
      };
      const timer = setTimeout(
        () => settle(new Error(`history write not answered within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      write.then(
        (failedRooms) => settle(undefined, Array.isArray(failedRooms) ? failedRooms : []),
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

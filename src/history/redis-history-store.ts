import type { Redis } from "ioredis";
import type { RedisKeys } from "../redis/keys.js";
import type { ChatMessage } from "../socket/events.js";
import type { HistoryStore } from "./history-store.js";

/** The first byte after every UTF-8 character: "(<id>\n\xff" excludes exactly the members of <id>. */
const AFTER_ALL = Buffer.from([0xff]);

/**
 * History in Redis, shared by every instance: a sorted set per room whose members are
 * "<id>\n<JSON>" (all scores 0, so ordered by id), trimmed to the newest `limit`. The room
 * scripts keep it while anybody is present and let it expire after the room empties.
 */
export class RedisHistoryStore implements HistoryStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: { limit: number; dedupeWindowMs: number },
  ) {}

  async append(message: ChatMessage): Promise<void> {
    if (this.options.limit === 0) return; // history off
    await this.redis.historyAppend(
      this.keys.history(message.roomId),
      `${message.id}\n${JSON.stringify(message)}`,
      this.options.limit,
    );
  }

  async since(roomId: string, afterId?: string): Promise<ChatMessage[]> {
    const key = this.keys.history(roomId);
    const members =
      afterId === undefined
        ? await this.redis.zrange(key, 0, -1)
        : await this.redis.zrangeBuffer(key, Buffer.concat([Buffer.from(`(${afterId}\n`), AFTER_ALL]), "+", "BYLEX");
    const out: ChatMessage[] = [];
    for (const member of members) {
      const text = member.toString();
      try {
        out.push(JSON.parse(text.slice(text.indexOf("\n") + 1)) as ChatMessage);
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

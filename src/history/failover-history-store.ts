import type { Logger } from "../logger.js";
import type { StoreMode } from "../store/failover-room-store.js";
import type { ChatMessage } from "../socket/events.js";
import type { HistoryStore } from "./history-store.js";

/**
 * History in Redis while the room state is shared, in memory while it is not. Reads and
 * dedupe claims that fail fall back to memory; a failed append is the caller's to log (the
 * message has been delivered anyway).
 */
export class FailoverHistoryStore implements HistoryStore {
  constructor(
    private readonly redis: HistoryStore,
    private readonly memory: HistoryStore,
    private readonly mode: () => StoreMode,
    private readonly logger: Logger,
  ) {}

  append(message: ChatMessage, done: (err?: Error) => void): void {
    (this.mode() === "shared" ? this.redis : this.memory).append(message, done);
  }

  since(roomId: string, afterId?: string): Promise<ChatMessage[]> {
    return this.withFallback("history read failed", (s) => s.since(roomId, afterId));
  }

  claimClientMessageId(roomId: string, userId: string, clientMessageId: string, messageId: string) {
    return this.withFallback("dedupe check failed", (s) =>
      s.claimClientMessageId(roomId, userId, clientMessageId, messageId),
    );
  }

  private async withFallback<T>(what: string, op: (store: HistoryStore) => Promise<T>): Promise<T> {
    if (this.mode() === "shared") {
      try {
        return await op(this.redis);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, `${what}: using this instance's memory`);
      }
    }
    return op(this.memory);
  }
}

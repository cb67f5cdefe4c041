import type { Logger } from "../logger.js";
import { retryingRoutingRace } from "../redis/routing-race.js";
import type { StoreMode } from "../store/failover-room-store.js";
import type { ChatMessage } from "../socket/events.js";
import type { ChangeResult, HistoryPage, HistoryStore, MessageChange } from "./history-store.js";
import type { MemoryHistoryStore } from "./memory-history-store.js";
import type { RedisHistoryStore } from "./redis-history-store.js";

/** Retry delay of a failed write-back. */
const WRITE_BACK_RETRY_MS = 1000;

/**
 * History in Redis while the room state is shared, in memory while it is not. Reads and
 * dedupe claims that fail fall back to memory; a failed append is the caller's to log (the
 * message has been delivered anyway). What memory mode accepted is written back to Redis
 * when the shared mode resumes ({@link writeBack}), so an acknowledged message ends up in
 * the shared history and its retry stays a duplicate.
 */
export class FailoverHistoryStore implements HistoryStore {
  private writingBack: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Why the last write-back failed, while it has not succeeded since (shown by /ready). */
  lastWriteBackError: string | undefined;

  /**
   * `mode` is the room state's; `writerReady` says whether the connection that writes history
   * is up. Appends go to Redis only while both hold: with the writer down alone (its own
   * health signal), messages are kept in memory and written back when it returns.
   */
  constructor(
    private readonly redis: RedisHistoryStore,
    private readonly memory: MemoryHistoryStore,
    private readonly mode: () => StoreMode,
    private readonly logger: Logger,
    private readonly writerReady: () => boolean = () => true,
  ) {}

  append(message: ChatMessage, done: (err?: Error) => void): void {
    (this.canSequence() ? this.redis : this.memory).append(message, done);
  }

  async since(roomId: string, afterId?: string): Promise<HistoryPage> {
    await this.caughtUp(); // a read after the return sees what memory mode accepted
    return this.withFallback("history read failed", (s) => s.since(roomId, afterId));
  }

  /** See RedisHistoryStore.sequencedSince (no fallback: rejects when Redis does not answer). */
  sequencedSince(roomId: string, afterId: string): Promise<ChatMessage[]> {
    return this.redis.sequencedSince(roomId, afterId);
  }

  async claimClientMessageId(roomId: string, userId: string, clientMessageId: string, messageId: string) {
    await this.caughtUp(); // so is a claim made then
    return this.withFallback("dedupe check failed", (s) =>
      s.claimClientMessageId(roomId, userId, clientMessageId, messageId),
    );
  }

  async change(change: MessageChange): Promise<ChangeResult> {
    await this.caughtUp(); // the message may have been accepted in memory mode
    return this.withFallback("history change failed", (s) => s.change(change));
  }

  /**
   * Writes memory mode's messages and claims to Redis; retried every second until it
   * succeeds or memory mode returns (the next return writes back again).
   */
  writeBack(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.writingBack ??= (async () => {
      const unsynced = this.memory.unsynced();
      if (unsynced.messages.size === 0 && unsynced.claims.length === 0) return;
      const count = [...unsynced.messages.values()].reduce((n, m) => n + m.length, 0);
      try {
        await this.redis.writeBack(unsynced);
        this.memory.markSynced(unsynced);
        this.lastWriteBackError = undefined;
        this.logger.info({ messages: count, claims: unsynced.claims.length }, "history written back to redis");
      } catch (err) {
        this.lastWriteBackError = (err as Error).message;
        this.logger.warn({ err: this.lastWriteBackError, messages: count }, "history write-back failed: retrying");
        this.retryTimer = setTimeout(() => {
          if (this.mode() === "shared") void this.writeBack();
        }, WRITE_BACK_RETRY_MS);
        this.retryTimer.unref();
      }
    })().finally(() => {
      this.writingBack = undefined;
    });
    return this.writingBack;
  }

  /** Sends what waits in the Redis writer's queue and resolves once it is answered. */
  flush(): Promise<void> {
    return this.redis.flush();
  }

  /**
   * Whether history is written to Redis (shared mode, with the writer up): where appends go,
   * and whether the one-order path of split rooms, which writes there, is open.
   */
  canSequence(): boolean {
    return this.mode() === "shared" && this.writerReady();
  }

  /** Stores and publishes a split room's message in one script (see RedisHistoryStore.sequence). */
  sequence(message: ChatMessage, socketId: string): Promise<string> {
    return this.redis.sequence(message, socketId);
  }

  close(): void {
    clearTimeout(this.retryTimer);
    this.memory.close();
  }

  /**
   * Waits until Redis has what memory mode accepted, before a read, a claim or a change is
   * sent there. The room state is written back first and this store's write-back is started
   * after it ({@link writeBack}), but the mode reads "shared" from the start of the room's: a
   * call in between starts the write-back itself. Not while write-backs fail: the retry timer
   * tries again, and calls do not each wait for another failure.
   */
  private async caughtUp(): Promise<void> {
    const due = this.memory.holdsUnsynced && this.canSequence() && this.lastWriteBackError === undefined;
    await (due ? this.writeBack() : this.writingBack);
  }

  private async withFallback<T>(what: string, op: (store: HistoryStore) => Promise<T>): Promise<T> {
    if (this.mode() === "shared") {
      try {
        return await retryingRoutingRace(() => op(this.redis));
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, `${what}: using this instance's memory`);
      }
    }
    return op(this.memory);
  }
}

import type { ChatMessage } from "../socket/events.js";
import type { HistoryStore } from "./history-store.js";

interface RoomHistory {
  messages: ChatMessage[];
  lastWrite: number;
}

/**
 * History in this process: the store in memory mode. A room's messages are forgotten once
 * the room has had nobody present (`isActive`) and no message for the retention time.
 */
export class MemoryHistoryStore implements HistoryStore {
  private readonly rooms = new Map<string, RoomHistory>();
  private readonly claims = new Map<string, { messageId: string; expires: number }>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly options: {
      limit: number;
      retentionMs: number;
      dedupeWindowMs: number;
      isActive: (roomId: string) => boolean;
    },
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, options.retentionMs / 2)));
    this.sweepTimer.unref();
  }

  append(message: ChatMessage, done: (err?: Error) => void): void {
    this.store(message);
    done();
  }

  private store(message: ChatMessage): void {
    if (this.options.limit === 0) return; // history off
    let room = this.rooms.get(message.roomId);
    if (!room) {
      room = { messages: [], lastWrite: 0 };
      this.rooms.set(message.roomId, room);
    }
    room.messages.push(message);
    room.lastWrite = Date.now();
    // Ids are issued in order here, so the array stays sorted; trim from the front.
    if (room.messages.length > this.options.limit) room.messages.splice(0, room.messages.length - this.options.limit);
  }

  async since(roomId: string, afterId?: string): Promise<ChatMessage[]> {
    const messages = this.rooms.get(roomId)?.messages ?? [];
    return afterId === undefined ? [...messages] : messages.filter((m) => m.id > afterId);
  }

  async claimClientMessageId(
    roomId: string,
    userId: string,
    clientMessageId: string,
    messageId: string,
  ): Promise<string | null> {
    const key = `${roomId}\n${userId}\n${clientMessageId}`;
    const now = Date.now();
    const existing = this.claims.get(key);
    if (existing && existing.expires > now) return existing.messageId;
    this.claims.set(key, { messageId, expires: now + this.options.dedupeWindowMs });
    return null;
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [roomId, room] of this.rooms) {
      if (!this.options.isActive(roomId) && now - room.lastWrite > this.options.retentionMs) this.rooms.delete(roomId);
    }
    for (const [key, claim] of this.claims) if (claim.expires <= now) this.claims.delete(key);
  }
}

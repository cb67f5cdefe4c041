import type { ChatMessage } from "../socket/events.js";
import type { ChangeResult, HistoryBounds, HistoryPage, HistoryStore, MessageChange } from "./history-store.js";
import { applyChange, storedForm, toEntry, type StoredMessage } from "./message-change.js";

/** A retained message: its id and its stored form (current version or tombstone). */
interface Entry {
  id: string;
  stored: StoredMessage;
}

interface RoomHistory {
  messages: Entry[];
  /** Bytes of `messages`, as {@link storedBytes} counts them. */
  bytes: number;
  lastWrite: number;
  /** How many of the newest messages are not in the shared history yet (see {@link MemoryHistoryStore.unsynced}). */
  unsynced: number;
}

interface Claim {
  roomId: string;
  userId: string;
  clientMessageId: string;
  messageId: string;
  expires: number;
  synced: boolean;
}

/** About what a message takes in the shared history (its member: id, JSON of the rest). */
const storedBytes = ({ stored: s }: Entry): number =>
  s.deleted
    ? Buffer.byteLength(s.userId) + 80
    : Buffer.byteLength(s.content) + Buffer.byteLength(s.username) + Buffer.byteLength(s.userId) + 120;

/** What memory mode accepted and the shared history lacks, to be written back. */
export interface UnsyncedHistory {
  /** By room, oldest first. */
  messages: Map<string, Entry[]>;
  claims: Claim[];
}

/**
 * History in this process: the store in memory mode. A room's messages are forgotten once
 * the room has had nobody present (`isActive`) and no message for the retention time.
 * Everything stored here was accepted while Redis was away: it is kept (within the same
 * bounds) until {@link markSynced} says the shared history has it.
 */
export class MemoryHistoryStore implements HistoryStore {
  private readonly rooms = new Map<string, RoomHistory>();
  private readonly claims = new Map<string, Claim>();
  private readonly sweepTimer: NodeJS.Timeout;
  /** Set by every write the shared history lacks; recounted by {@link unsynced} and {@link markSynced}. */
  private behind = false;

  constructor(private readonly options: HistoryBounds & { isActive: (roomId: string) => boolean }) {
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
      room = { messages: [], bytes: 0, lastWrite: 0, unsynced: 0 };
      this.rooms.set(message.roomId, room);
    }
    const entry = { id: message.id, stored: storedForm(message) };
    room.messages.push(entry);
    room.bytes += storedBytes(entry);
    room.unsynced++;
    this.behind = true;
    room.lastWrite = Date.now();
    // Ids are issued in order here, so the array stays sorted; trim from the front (never
    // the newest: one message always fits).
    let drop = Math.max(0, room.messages.length - this.options.limit);
    let bytes = room.bytes;
    for (let i = 0; i < drop; i++) bytes -= storedBytes(room.messages[i]!);
    while (bytes > this.options.maxBytes && drop < room.messages.length - 1)
      bytes -= storedBytes(room.messages[drop++]!);
    if (drop > 0) {
      room.messages.splice(0, drop);
      room.bytes = bytes;
      room.unsynced = Math.min(room.unsynced, room.messages.length);
    }
  }

  async since(roomId: string, afterId?: string): Promise<HistoryPage> {
    const entries = this.rooms.get(roomId)?.messages ?? [];
    const all = () => entries.map((e) => toEntry(e.id, roomId, e.stored));
    if (afterId === undefined) return { messages: all(), complete: true };
    if (!entries.some((e) => e.id === afterId)) return { messages: all(), complete: false };
    // What came after it, and older messages changed since it was issued.
    const changed = entries.filter(
      (e) => e.id > afterId || (e.stored.revision !== undefined && e.stored.revision > afterId),
    );
    return { messages: changed.map((e) => toEntry(e.id, roomId, e.stored)), complete: true };
  }

  async change(change: MessageChange): Promise<ChangeResult> {
    const room = this.rooms.get(change.roomId);
    const entry = room?.messages.find((e) => e.id === change.id);
    if (!room || !entry) return { ok: false, reason: "NOT_FOUND" };
    const applied = applyChange(entry.stored, change);
    if (!applied.ok) return applied;
    room.bytes -= storedBytes(entry);
    entry.stored = applied.stored;
    room.bytes += storedBytes(entry);
    return { ok: true, entry: applied.entry };
  }

  async claimClientMessageId(
    roomId: string,
    userId: string,
    clientMessageId: string,
    messageId: string,
  ): Promise<string | null> {
    // Identifiers hold no control characters, so "\n" cannot occur inside a part.
    const key = `${roomId}\n${userId}\n${clientMessageId}`;
    const now = Date.now();
    const existing = this.claims.get(key);
    if (existing && existing.expires > now) return existing.messageId;
    this.claims.set(key, {
      roomId,
      userId,
      clientMessageId,
      messageId,
      expires: now + this.options.dedupeWindowMs,
      synced: false,
    });
    this.behind = true;
    return null;
  }

  /** Whether this store may hold what the shared history lacks (cheap: no scan). */
  get holdsUnsynced(): boolean {
    return this.behind;
  }

  /** What the shared history lacks of what this store accepted. */
  unsynced(): UnsyncedHistory {
    const messages = new Map<string, Entry[]>();
    for (const [roomId, room] of this.rooms) {
      if (room.unsynced > 0) messages.set(roomId, room.messages.slice(-room.unsynced));
    }
    const now = Date.now();
    const claims = [...this.claims.values()].filter((c) => !c.synced && c.expires > now);
    this.behind = messages.size > 0 || claims.length > 0;
    return { messages, claims };
  }

  /** Records that `written` (from {@link unsynced}) is now in the shared history. */
  markSynced(written: UnsyncedHistory): void {
    for (const [roomId, messages] of written.messages) {
      const room = this.rooms.get(roomId);
      if (!room) continue;
      // Whatever was appended after the snapshot stays unsynced.
      const last = messages[messages.length - 1]!.id;
      const newer = room.messages.filter((m) => m.id > last).length;
      room.unsynced = Math.min(room.unsynced, newer);
    }
    for (const claim of written.claims) claim.synced = true;
    this.unsynced(); // recounts `behind`: memory mode may have come back meanwhile
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

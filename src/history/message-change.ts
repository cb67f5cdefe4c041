import type { ChatMessage, HistoryEntry } from "../socket/events.js";
import type { ChangeResult, MessageChange } from "./history-store.js";

/**
 * A message as history stores it, without what its place already says (id, roomId) and
 * without the web-client aliases (senderId, text). `revision` is the id issued at its last
 * edit or delete, so a catch-up after an older id includes the change.
 */
export type StoredMessage =
  | {
      userId: string;
      username: string;
      content: string;
      timestamp: number;
      serverTimestamp: number;
      clientMessageId?: string;
      editedAt?: number;
      revision?: string;
      /**
       * Stored and published by the one-order path of a split room: what a subscriber that
       * lost it in transit reads back from the history (src/socket/sequenced-delivery.ts).
       */
      sequenced?: true;
      deleted?: undefined;
    }
  | { userId: string; deleted: true; deletedAt: number; revision: string };

/** The stored form of a new message. A literal of known shape: cheap to build and to stringify. */
export const storedForm = (m: ChatMessage): StoredMessage => ({
  userId: m.userId,
  username: m.username,
  content: m.content,
  timestamp: m.timestamp,
  serverTimestamp: m.serverTimestamp,
  clientMessageId: m.clientMessageId, // left out by JSON when undefined
});

/** What history returns for a stored message: its current version, or its tombstone. */
export function toEntry(id: string, roomId: string, s: StoredMessage): HistoryEntry {
  if (s.deleted) return { id, roomId, deleted: true, deletedAt: s.deletedAt };
  return {
    id,
    roomId,
    userId: s.userId,
    username: s.username,
    content: s.content,
    timestamp: s.timestamp,
    serverTimestamp: s.serverTimestamp,
    senderId: s.userId,
    text: s.content,
    ...(s.clientMessageId === undefined ? {} : { clientMessageId: s.clientMessageId }),
    ...(s.editedAt === undefined ? {} : { editedAt: s.editedAt }),
  };
}

/**
 * Applies an edit or a delete to a stored message: refused when the message is gone (deleted
 * already) or not the asker's. Returns the new stored form and the entry to announce.
 */
export function applyChange(
  current: StoredMessage,
  change: MessageChange,
): { ok: true; stored: StoredMessage; entry: HistoryEntry } | (ChangeResult & { ok: false }) {
  if (current.deleted) return { ok: false, reason: "NOT_FOUND" };
  if (current.userId !== change.userId) return { ok: false, reason: "FORBIDDEN" };
  const stored: StoredMessage =
    change.content === undefined
      ? { userId: current.userId, deleted: true, deletedAt: change.at, revision: change.revision }
      : { ...current, content: change.content, editedAt: change.at, revision: change.revision };
  return { ok: true, stored, entry: toEntry(change.id, change.roomId, stored) };
}

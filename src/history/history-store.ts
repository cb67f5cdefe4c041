import type { ChatMessage, HistoryEntry } from "../socket/events.js";

/** What a history read returns: the messages, and whether they are all that was asked for. */
export interface HistoryPage {
  /**
   * Current versions, oldest first: edited messages with `editedAt`, deleted ones as
   * tombstones. A catch-up also holds the older messages changed after `afterId`.
   */
  messages: HistoryEntry[];
  /**
   * False when a catch-up could not be complete: the message it starts after is no longer in
   * the retained history (trimmed, expired), or never was in this room's (unknown, malformed,
   * another room's). `messages` then holds the newest retained messages.
   */
  complete: boolean;
}

/**
 * A room's recent messages, oldest first. Appends happen after live delivery; a failed
 * append loses only the stored copy.
 */
export interface HistoryStore {
  /** Stores the message; `done` is called once it is stored (or with the error). */
  append(message: ChatMessage, done: (err?: Error) => void): void;
  /** The retained messages, or only those after `afterId` when given (see {@link HistoryPage}). */
  since(roomId: string, afterId?: string): Promise<HistoryPage>;
  /** Edits or deletes a retained message of its author (see {@link MessageChange}). */
  change(change: MessageChange): Promise<ChangeResult>;
  /**
   * Claims `clientMessageId` for the dedupe window. Returns the id of the message first sent
   * with it when that one is stored (or will be, by the instance that sent it), or null when
   * the caller's message takes the claim (first send, or a first copy that was never stored).
   */
  claimClientMessageId(
    roomId: string,
    userId: string,
    clientMessageId: string,
    messageId: string,
  ): Promise<string | null>;
}

/** An edit (new content) or a delete of a stored message, by its author. */
export interface MessageChange {
  roomId: string;
  id: string;
  /** Who asks: only the author may change a message. */
  userId: string;
  /** The new content; undefined for a delete. */
  content?: string;
  /** Server time of the change (ms). */
  at: number;
  /** A fresh message id, issued at the change: catch-ups after an older id include the change. */
  revision: string;
}

/** The outcome of a change: the new version, or why there is none. */
export type ChangeResult = { ok: true; entry: HistoryEntry } | { ok: false; reason: "NOT_FOUND" | "FORBIDDEN" };

/** Bounds of each room's history. */
export interface HistoryBounds {
  /** Messages kept per room (0 = history off). */
  limit: number;
  /** Bytes kept per room (the stored form of its messages). */
  maxBytes: number;
  /** How long the history outlives the room once nobody is present. */
  retentionMs: number;
  /** How long a clientMessageId is remembered. */
  dedupeWindowMs: number;
}

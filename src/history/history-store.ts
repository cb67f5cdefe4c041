import type { ChatMessage } from "../socket/events.js";

/** What a history read returns: the messages, and whether they are all that was asked for. */
export interface HistoryPage {
  messages: ChatMessage[];
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

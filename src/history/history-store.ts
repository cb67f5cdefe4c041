import type { ChatMessage } from "../socket/events.js";

/**
 * A room's recent messages, oldest first. Appends happen after live delivery; a failed
 * append loses only the stored copy.
 */
export interface HistoryStore {
  /** Stores the message; `done` is called once it is stored (or with the error). */
  append(message: ChatMessage, done: (err?: Error) => void): void;
  /** The stored messages, or only those after `afterId` when given. */
  since(roomId: string, afterId?: string): Promise<ChatMessage[]>;
  /**
   * Records `clientMessageId` for the dedupe window. Returns the id of the message first sent
   * with it, or null when this is the first time (the caller then sends `messageId`).
   */
  claimClientMessageId(
    roomId: string,
    userId: string,
    clientMessageId: string,
    messageId: string,
  ): Promise<string | null>;
}

import type { RedisClient } from "../redis/connection.js";
import type { Logger } from "../logger.js";
import type { ChatMessage } from "./events.js";
import { toEntry, type StoredMessage } from "../history/message-change.js";

/**
 * Receives the messages of rooms several instances serve, as lua/history_sequence.lua
 * publishes them ("<id>\n<sending socket>\n<roomId>\n<stored JSON>"), in the one order Redis
 * gives them to every subscriber, and hands each to `deliver` (this instance's sockets of the
 * room, but the sender). A payload that does not parse is dropped.
 */
export function subscribeSequenced(
  subscriber: RedisClient,
  channel: string,
  deliver: (message: ChatMessage, exceptSocketId: string) => void,
  logger: Logger,
): void {
  subscriber.on("message", (from: string, text: string) => {
    if (from !== channel) return;
    const a = text.indexOf("\n");
    const b = text.indexOf("\n", a + 1);
    const c = text.indexOf("\n", b + 1);
    if (a < 0 || b < 0 || c < 0) return;
    let stored: StoredMessage;
    try {
      stored = JSON.parse(text.slice(c + 1)) as StoredMessage;
    } catch {
      return;
    }
    const entry = toEntry(text.slice(0, a), text.slice(b + 1, c), stored);
    if (!("deleted" in entry)) deliver(entry, text.slice(a + 1, b));
  });
  subscriber
    .subscribe(channel)
    .catch((err: Error) => logger.warn({ err: err.message }, "sequenced channel subscription failed"));
}

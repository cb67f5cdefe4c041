import { KeyedTokenBuckets } from "../limits/token-bucket.js";
import type { UserTyping } from "./events.js";

/** Starts of typing relayed per user at once; then one per throttle period (see TypingTracker). */
const STARTS_BURST = 10;

interface TypingState {
  roomId: string;
  userId: string;
  username: string;
  /** The socket that last said the user is typing (not told its own state back). */
  socketId: string;
  /** Whether the others were told this user is typing (a start over the budget is not told). */
  shown: boolean;
  lastRelay: number;
  timer: NodeJS.Timeout;
}

/** One user in one room (identifiers hold no control characters, so "\n" separates them). */
const keyOf = (roomId: string, userId: string): string => `${roomId}\n${userId}`;

/** Sends a typing change to the room's sockets but `exceptSocketId`. */
export type TypingRelay = (typing: UserTyping, exceptSocketId: string) => void;

/**
 * Who is typing in the rooms of this instance's sockets. Never stored: a user's state lives
 * on the instance of the socket that reported it, and reaches the room's other sockets (on
 * every instance) as `user_typing`. A `true` is relayed when it starts, then at most once per
 * `throttleMs` while it is renewed; one not renewed within `timeoutMs` ends with a `false`,
 * as do a message, a leave or a confirmed departure of that user (see {@link stop}).
 *
 * Starts are budgeted per user (a burst of them, then one per `throttleMs`): a client
 * switching typing on and off as fast as it can would otherwise have every switch relayed
 * to the room. A start over the budget is kept but not told, nor is its end; a renewal after
 * the budget refills tells it. Nothing is refused: typing is never an error.
 */
export class TypingTracker {
  private readonly typing = new Map<string, TypingState>();
  private readonly starts: KeyedTokenBuckets;

  constructor(
    private readonly options: { timeoutMs: number; throttleMs: number },
    private readonly relay: TypingRelay,
  ) {
    this.starts = new KeyedTokenBuckets(1000 / Math.max(1, options.throttleMs), STARTS_BURST);
  }

  /** A socket of the user says whether they are typing. */
  update(socketId: string, roomId: string, userId: string, username: string, isTyping: boolean): void {
    const key = keyOf(roomId, userId);
    const state = this.typing.get(key);
    if (!isTyping) {
      if (state) this.end(key, state, socketId);
      return;
    }
    const now = Date.now();
    if (state) {
      clearTimeout(state.timer);
      state.timer = this.expiry(key);
      state.socketId = socketId;
      state.username = username;
      if (state.shown && now - state.lastRelay < this.options.throttleMs) return;
      if (!state.shown && !this.starts.take(key, now)) return;
      state.shown = true;
      state.lastRelay = now;
    } else {
      const shown = this.starts.take(key, now);
      this.typing.set(key, { roomId, userId, username, socketId, shown, lastRelay: now, timer: this.expiry(key) });
      if (!shown) return;
    }
    this.relay({ roomId, userId, username, isTyping: true }, socketId);
  }

  /** Ends the user's typing, if any (they sent a message, left, or their departure was confirmed). */
  stop(roomId: string, userId: string, socketId: string): void {
    if (this.typing.size === 0) return; // the message path: nothing to look up most of the time
    const key = keyOf(roomId, userId);
    const state = this.typing.get(key);
    if (state) this.end(key, state, socketId);
  }

  close(): void {
    for (const state of this.typing.values()) clearTimeout(state.timer);
    this.typing.clear();
    this.starts.close();
  }

  private expiry(key: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const state = this.typing.get(key);
      if (state) this.end(key, state, state.socketId);
    }, this.options.timeoutMs);
    timer.unref();
    return timer;
  }

  private end(key: string, state: TypingState, exceptSocketId: string): void {
    clearTimeout(state.timer);
    this.typing.delete(key);
    if (!state.shown) return; // the others were never told it started
    this.relay(
      { roomId: state.roomId, userId: state.userId, username: state.username, isTyping: false },
      exceptSocketId,
    );
  }
}

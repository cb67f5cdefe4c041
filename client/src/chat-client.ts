import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import type {
  ChatMessage,
  ClientToServerEvents,
  ErrorCode,
  HistoryEntry,
  JoinAck,
  SendAck,
  ServerToClientEvents,
  SystemMessage,
} from "./protocol.js";

/** The path the chat service serves Socket.IO on. */
export const SOCKET_PATH = "/api/v1/chat-service/socket.io";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected";

/**
 * A message as the app shows it. `state` is `sent` for messages the server has (anyone's),
 * `pending` for this client's sends not acknowledged yet (kept and retried across
 * reconnects), `failed` for sends the server refused (`error` says why).
 */
export type ClientMessage =
  | (ChatMessage & { state: "sent" })
  | { id: string; roomId: string; deleted: true; deletedAt: number; state: "sent" }
  | {
      /** A local id until the server's is known: `pending:<clientMessageId>`. */
      id: string;
      clientMessageId: string;
      roomId: string;
      userId: string;
      username: string;
      content: string;
      timestamp: number;
      state: "pending" | "failed";
      error?: { code: ErrorCode | "TIMEOUT"; message: string };
    };

export interface ChatClientOptions {
  /** The service's base URL, e.g. `https://chat.example.org` (the page's origin when omitted in a browser). */
  url?: string;
  userId: string;
  username: string;
  roomId: string;
  /**
   * A token for the handshake, or a function returning a fresh one: called at every
   * (re)connection, so an expired token is replaced when the server closes the connection.
   */
  token?: string | (() => string | Promise<string>);
  /** How long a send waits for its acknowledgement before it is retried on the next connection (ms). */
  ackTimeoutMs?: number;
  /** More Socket.IO client options (transports, reconnection delays, ...). */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

/** What a ChatClient emits. */
export interface ChatClientEvents {
  /** Anything the app shows changed: read the getters again. */
  change: () => void;
  /** A rejoin could not catch up completely: messages were missed (only the newest are held). */
  discontinuity: () => void;
  /** The server refused something without an acknowledgement (`chat_error`). */
  error: (error: { code: string; message: string }) => void;
}

type Listener<E extends keyof ChatClientEvents> = ChatClientEvents[E];

const randomId = (): string => {
  // crypto.randomUUID exists only on secure origins; getRandomValues everywhere.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
};

/**
 * A room of the PeerPrep chat service as app state. It joins and stays joined (after any
 * reconnect it rejoins with the newest id it holds, so its conversation stays complete, and
 * says so when it cannot); holds the room's messages deduplicated by id and in id order,
 * with edits and deletes applied; keeps an outbox whose sends are retried across reconnects
 * until acknowledged and never delivered twice (each carries a clientMessageId); and tracks
 * presence, typing and the connection.
 *
 * ```ts
 * const chat = new ChatClient({ url, userId: "u1", username: "Ada", roomId: "r1" });
 * chat.on("change", () => render(chat.messages, chat.presence, chat.typing));
 * chat.send("hello");
 * ```
 */
export class ChatClient {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  private readonly entries = new Map<string, ClientMessage>();
  private sorted: ClientMessage[] | undefined = [];
  /** Sends not acknowledged yet, oldest first (by clientMessageId). */
  private readonly outbox: string[] = [];
  private readonly present = new Map<string, string>();
  private readonly typingUsers = new Map<string, string>();
  private readonly listeners = new Map<keyof ChatClientEvents, Set<(...args: never[]) => void>>();
  private state: ConnectionState = "connecting";
  private joined = false;
  private flushing = false;
  private closed = false;
  private readonly ackTimeoutMs: number;

  constructor(private readonly options: ChatClientOptions) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    const { token } = options;
    const socketOptions: Partial<ManagerOptions & SocketOptions> = {
      path: SOCKET_PATH,
      ...(token === undefined
        ? {}
        : {
            auth: (cb: (data: object) => void) => {
              void Promise.resolve(typeof token === "function" ? token() : token).then((t) => cb({ token: t }));
            },
          }),
      ...options.socket,
    };
    this.socket = options.url === undefined ? io(socketOptions) : io(options.url, socketOptions);
    this.listen();
  }

  /** The room's messages in id order (the server's one order), then this client's pending and failed sends. */
  get messages(): readonly ClientMessage[] {
    if (!this.sorted) {
      const all = [...this.entries.values()];
      const held = all.filter((m) => m.state === "sent").sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const unsent = this.outbox.map((cid) => this.entries.get(`pending:${cid}`)).filter((m) => m !== undefined);
      const failed = all.filter((m) => m.state === "failed");
      this.sorted = [...held, ...failed, ...unsent];
    }
    return this.sorted;
  }

  /** Who is in the room (this user included), userId → username. */
  get presence(): ReadonlyMap<string, string> {
    return new Map([[this.options.userId, this.options.username], ...this.present]);
  }

  /** Who is typing (others only), userId → username. */
  get typing(): ReadonlyMap<string, string> {
    return this.typingUsers;
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  on<E extends keyof ChatClientEvents>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (...args: never[]) => void);
    return () => set.delete(listener as (...args: never[]) => void);
  }

  /**
   * Sends a message: shown at once as pending, sent as soon as the room is joined, retried
   * after every reconnect until acknowledged. Returns its clientMessageId.
   */
  send(content: string): string {
    const clientMessageId = randomId();
    const { roomId, userId, username } = this.options;
    this.entries.set(`pending:${clientMessageId}`, {
      id: `pending:${clientMessageId}`,
      clientMessageId,
      roomId,
      userId,
      username,
      content,
      timestamp: Date.now(),
      state: "pending",
    });
    this.outbox.push(clientMessageId);
    this.changed();
    void this.flushOutbox();
    return clientMessageId;
  }

  /** Sends a failed message again (it becomes pending). */
  retry(clientMessageId: string): void {
    const entry = this.entries.get(`pending:${clientMessageId}`);
    if (!entry || entry.state !== "failed") return;
    this.entries.set(entry.id, { ...entry, state: "pending", error: undefined });
    this.outbox.push(clientMessageId);
    this.changed();
    void this.flushOutbox();
  }

  /** Edits one of this user's messages; resolves once the server has it (rejects with its refusal). */
  async edit(id: string, content: string): Promise<void> {
    const ack = await this.socket.timeout(this.ackTimeoutMs).emitWithAck("edit_message", { id, content });
    if (!ack.ok) throw new ChatRefusal(ack.error.code, ack.error.message);
    const current = this.entries.get(id);
    if (current && current.state === "sent" && !("deleted" in current)) {
      this.upsert({ ...current, content, text: content, editedAt: ack.editedAt });
    }
  }

  /** Deletes one of this user's messages; resolves once the server has done it. */
  async delete(id: string): Promise<void> {
    const ack = await this.socket.timeout(this.ackTimeoutMs).emitWithAck("delete_message", { id });
    if (!ack.ok) throw new ChatRefusal(ack.error.code, ack.error.message);
    this.upsert({ id, roomId: this.options.roomId, deleted: true, deletedAt: ack.deletedAt, state: "sent" });
  }

  /** Tells the others whether this user is typing (the server ends it after a pause or a send). */
  setTyping(isTyping: boolean): void {
    if (this.joined) this.socket.emit("typing", { isTyping }, () => {});
  }

  /**
   * Leaves the room for good: the others are told at once, and the client stops. Resolves
   * once the server has the leave (or did not answer within the acknowledgement timeout),
   * so a page may unload after it without losing it.
   */
  async leave(): Promise<void> {
    if (this.joined) {
      await this.socket
        .timeout(Math.min(this.ackTimeoutMs, 2000))
        .emitWithAck("leave_session")
        .catch(() => {});
    }
    this.close();
  }

  /** Stops without leaving (the others see a drop, announced after the grace period). */
  close(): void {
    this.closed = true;
    this.socket.close();
    this.setState("disconnected");
  }

  private listen(): void {
    const s = this.socket;
    s.on("connect", () => void this.join());
    s.on("disconnect", (reason) => {
      this.joined = false;
      this.typingUsers.clear();
      // A server-side disconnect (leave, refusal) is final; anything else reconnects by itself.
      this.setState(this.closed || reason === "io server disconnect" ? "disconnected" : "reconnecting");
    });
    s.on("connect_error", () => {
      if (!s.active) this.setState("disconnected");
    });
    s.on("receive_message", (m) => this.upsert({ ...m, state: "sent" }));
    s.on("message_updated", (u) => {
      const current = this.entries.get(u.id);
      if (current && current.state === "sent" && !("deleted" in current)) {
        this.upsert({ ...current, content: u.content, text: u.text, editedAt: u.editedAt });
      }
    });
    s.on("message_deleted", (d) =>
      this.upsert({ id: d.id, roomId: d.roomId, deleted: true, deletedAt: d.deletedAt, state: "sent" }),
    );
    s.on("system_message", (m) => this.onSystem(m));
    s.on("user_typing", (t) => {
      if (t.userId === this.options.userId) return;
      if (t.isTyping) this.typingUsers.set(t.userId, t.username);
      else this.typingUsers.delete(t.userId);
      this.changed();
    });
    s.on("chat_error", (e) => this.emit("error", e));
  }

  /** Joins (again) with the newest id held, applies the catch-up, then sends the outbox. */
  private async join(): Promise<void> {
    const { userId, username, roomId } = this.options;
    const held = this.messages.filter((m) => m.state === "sent");
    const lastMessageId = held.length > 0 ? held[held.length - 1]!.id : undefined;
    let ack: JoinAck;
    try {
      ack = await this.socket
        .timeout(this.ackTimeoutMs)
        .emitWithAck("join_room", { userId, username, roomId, ...(lastMessageId ? { lastMessageId } : {}) });
    } catch {
      return; // no answer: the next connection joins again
    }
    if (!ack.ok) {
      this.emit("error", ack.error);
      return;
    }
    this.present.clear();
    for (const u of ack.users) this.present.set(u.userId, u.username);
    if (!ack.complete && lastMessageId !== undefined) this.emit("discontinuity");
    for (const m of ack.messages) this.upsert(toClientMessage(m));
    this.joined = true;
    this.setState("connected");
    await this.flushOutbox();
  }

  /** Sends the outbox in order, one at a time; stops at the first send without an answer. */
  private async flushOutbox(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.joined && this.outbox.length > 0) {
        const clientMessageId = this.outbox[0]!;
        const entry = this.entries.get(`pending:${clientMessageId}`);
        if (!entry || entry.state !== "pending" || !("content" in entry)) {
          this.outbox.shift();
          continue;
        }
        let ack: SendAck;
        try {
          ack = await this.socket.timeout(this.ackTimeoutMs).emitWithAck("send_message", {
            message: {
              userId: entry.userId,
              username: entry.username,
              content: entry.content,
              timestamp: entry.timestamp,
              clientMessageId,
            },
          });
        } catch {
          // No answer in time, or the connection dropped: kept, and sent again (with the same
          // clientMessageId, so never delivered twice) once the room is joined again.
          return;
        }
        this.outbox.shift();
        this.entries.delete(entry.id);
        if (ack.ok) {
          // The server's id (the first copy's, for a retry); live delivery may have brought it already.
          const known = this.entries.get(ack.id);
          if (!known) {
            this.upsert({
              id: ack.id,
              roomId: entry.roomId,
              userId: entry.userId,
              username: entry.username,
              content: entry.content,
              text: entry.content,
              senderId: entry.userId,
              timestamp: entry.timestamp,
              serverTimestamp: ack.timestamp ?? Date.now(),
              clientMessageId,
              state: "sent",
            });
          } else {
            this.changed();
          }
        } else {
          this.entries.set(entry.id, { ...entry, state: "failed", error: ack.error });
          this.changed();
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private onSystem(m: SystemMessage): void {
    // Notices about this user (or nobody) change nothing here; the list of those present does.
    if (m.eventType !== "existing_users" && (m.userId === undefined || m.userId === this.options.userId)) return;
    if (m.eventType === "existing_users") {
      this.present.clear();
      for (const u of m.users ?? []) this.present.set(u.userId, u.username);
    } else if (m.eventType === "disconnect") {
      this.present.delete(m.userId!);
      this.typingUsers.delete(m.userId!);
    } else {
      this.present.set(m.userId!, m.username ?? "");
    }
    this.changed();
  }

  private upsert(m: ClientMessage): void {
    const current = this.entries.get(m.id);
    // A tombstone stays a tombstone; a later version replaces an earlier one.
    if (current && "deleted" in current && !("deleted" in m)) return;
    this.entries.set(m.id, m);
    this.changed();
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.changed();
  }

  private changed(): void {
    this.sorted = undefined;
    this.emit("change");
  }

  private emit<E extends keyof ChatClientEvents>(event: E, ...args: Parameters<ChatClientEvents[E]>): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: typeof args) => void)(...args);
  }
}

/** A refusal of an edit or a delete, with the server's code. */
export class ChatRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function toClientMessage(m: HistoryEntry): ClientMessage {
  return { ...m, state: "sent" };
}

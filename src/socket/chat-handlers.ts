import type { Server, Socket } from "socket.io";
import { PacketType } from "socket.io-parser";
import type { ZodType } from "zod";
import type { HistoryStore } from "../history/history-store.js";
import type { Departure } from "../store/room-store.js";
import type { ConnectionLimiter, RateLimits } from "../limits/rate-limits.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/metrics.js";
import type { PresenceService } from "../presence/presence-service.js";
import type { RoomHosts } from "../presence/room-hosts.js";
import { InFlight } from "../in-flight.js";
import { ChatError, ErrorCode } from "./errors.js";
import type {
  Ack,
  ChatMessage,
  ClientToServerEvents,
  InterServerEvents,
  ServerToClientEvents,
  SocketData,
} from "./events.js";
import { existingUsers, socketRoom, userNotice } from "./payloads.js";
import {
  deleteMessageSchema,
  describeIssue,
  editMessageSchema,
  joinRoomSchema,
  sendMessageSchema,
  typingSchema,
} from "./schemas.js";
import type { RoomEntry } from "./room-entry.js";
import { TypingTracker } from "./typing.js";
import type { MessageIdGenerator } from "./message-id.js";

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface ChatHandlerDeps {
  presence: PresenceService;
  hosts: RoomHosts;
  /** Where a socket enters a room, with the history it gets. */
  entry: RoomEntry;
  history: HistoryStore;
  limits: RateLimits;
  metrics: Metrics;
  maxMessageLength: number;
  /** A connection that has not joined a room this long after connecting is closed (0 = never). */
  joinTimeoutMs: number;
  /** A `typing: true` not renewed within this time ends. */
  typingTimeoutMs: number;
  nextMessageId: MessageIdGenerator;
  /** The one-order path of rooms several instances serve (see lua/history_sequence.lua). */
  sequencer: Sequencer;
  logger: Logger;
}

/** Stores and publishes a message through Redis, which gives every instance one order. */
export interface Sequencer {
  /** Whether the path is open (shared mode). */
  active(): boolean;
  /** Resolves with the id the message was stored and published under. */
  send(message: ChatMessage, socketId: string): Promise<string>;
  /**
   * Publishes a message whose send failed on the room's channel, outside the order, so the
   * other instances get it once whether or not the failed send had published it.
   */
  publishAgain(message: ChatMessage, socketId: string): void;
}

/** Refusals of one connection logged per abuse window; the rest are only counted. */
const LOGGED_REFUSALS = 5;

/** Per-connection send state: its rate limiter, and the tail of its queued idempotent sends. */
interface SenderState {
  limiter: ConnectionLimiter;
  pending: Promise<void> | undefined;
}

/** Per-connection join state: joins run one at a time, and a later one supersedes a waiting one. */
interface JoinState {
  /** The number of the latest join_room received. */
  latest: number;
  /** Settles when the join running or queued last has finished. */
  tail: Promise<void>;
}

const KNOWN_EVENTS = new Set([
  "join_room",
  "send_message",
  "leave_session",
  "typing",
  "edit_message",
  "delete_message",
]);

/** Socket.IO passes the acknowledgement callback, when there is one, as the last argument. */
function splitArgs(args: unknown[]): { payload: unknown; ack: Ack | undefined } {
  const last = args[args.length - 1];
  const ack = typeof last === "function" ? (last as Ack) : undefined;
  return { payload: ack ? (args.length > 1 ? args[0] : undefined) : args[0], ack };
}

/** Answers a refusal: through the acknowledgement when there is one, else a `chat_error` event. */
function refuse(socket: ChatSocket, event: string, ack: Ack | undefined, err: ChatError): void {
  if (ack) ack({ ok: false, error: err.body });
  else socket.emit("chat_error", { ...err.body, event: event.slice(0, 64) });
}

/** Wires the chat protocol (see PROTOCOL.md) onto every connecting socket. */
export function registerChatHandlers(
  io: ChatServer,
  deps: ChatHandlerDeps,
): {
  close: () => void;
  deliverSequenced: (message: ChatMessage, exceptSocketId: string | undefined) => void;
} {
  const { presence, logger, metrics } = deps;

  /** Answers a refusal and counts it. */
  const refuseCounted = (socket: ChatSocket, event: string, ack: Ack | undefined, err: ChatError): void => {
    metrics.refused.inc({ event: KNOWN_EVENTS.has(event) ? event : "unknown", code: err.code });
    if (event === "send_message") metrics.messagesIn.inc({ result: "refused" });
    // Every refusal the client caused counts towards closing the connection, whatever its
    // kind (floods of unknown events or invalid payloads as well as of messages), and only
    // the first few of a window are logged.
    const limiter = err.code === ErrorCode.Internal ? undefined : senderOf(socket).limiter;
    const refusals = limiter?.refused() ?? 0;
    if (refusals <= LOGGED_REFUSALS) {
      logger.info(
        { socket: socket.id, userId: socket.data.userId, event: event.slice(0, 64), code: err.code },
        refusals === LOGGED_REFUSALS
          ? "event refused (further refusals of this connection are not logged)"
          : "event refused",
      );
    }
    refuse(socket, event, ack, err);
    if (limiter?.abusive(refusals) && socket.connected) {
      logger.warn(
        { socket: socket.id, userId: socket.data.userId, refusals },
        "closing a connection that keeps sending refused events",
      );
      setImmediate(() => socket.disconnect(true));
    }
  };

  /**
   * The listener of `event` for every socket: Socket.IO calls it with `this` = the socket, so
   * one function per event serves all connections instead of closures kept by each (idle
   * connections are most of them; bench/RESULTS.md, memory). A ChatError is answered to the
   * client, anything else is logged and answered as internal.
   */
  const listener = (event: string, run: (socket: ChatSocket, payload: unknown, ack: Ack | undefined) => unknown) =>
    function (this: ChatSocket, ...args: unknown[]) {
      const { payload, ack } = splitArgs(args);
      const fail = (err: unknown) => {
        if (err instanceof ChatError) {
          refuseCounted(this, event, ack, err);
        } else {
          logger.error({ socket: this.id, event, err }, "event handler failed");
          refuseCounted(this, event, ack, new ChatError(ErrorCode.Internal, "internal error, please retry"));
        }
      };
      try {
        const result = run(this, payload, ack);
        if (result instanceof Promise) result.catch(fail);
      } catch (err) {
        fail(err);
      }
    };

  /**
   * Sends `event` to a room's sockets but one; the adapter publishes it only when another
   * instance hosts the room (src/redis/local-first-adapter.ts), and `local` keeps it on this
   * instance whatever (a message that came through Redis already). Straight through the
   * adapter, as `socket.to(room).emit()` ends up doing: that operator chain allocates three
   * operators and four Sets per call, and every message goes this way (bench/RESULTS.md).
   */
  const emitToRoom = <E extends keyof ServerToClientEvents>(
    roomId: string,
    event: E,
    payload: Parameters<ServerToClientEvents[E]>[0],
    exceptSocketId: string,
    local = false,
  ): void =>
    io.of("/").adapter.broadcast(
      { type: PacketType.EVENT, data: [event, payload] },
      {
        rooms: new Set([socketRoom(roomId)]),
        except: new Set([exceptSocketId]),
        flags: local ? { local: true } : {},
      },
    );

  /** Sends `event` to the room's sockets but `socket`. */
  const emitToOthers = <E extends keyof ServerToClientEvents>(
    socket: ChatSocket,
    roomId: string,
    event: E,
    payload: Parameters<ServerToClientEvents[E]>[0],
  ): void => emitToRoom(roomId, event, payload, socket.id);

  const typing = new TypingTracker(
    { timeoutMs: deps.typingTimeoutMs, throttleMs: Math.min(2000, Math.floor(deps.typingTimeoutMs / 3)) },
    (t, except) => {
      metrics.changes.inc({ kind: "typing" });
      emitToRoom(t.roomId, "user_typing", t, except);
    },
  );

  const leaveCurrentRoom = (socket: ChatSocket): void => {
    const { roomId, userId } = socket.data;
    if (roomId === undefined || userId === undefined) return;
    socket.leave(socketRoom(roomId));
    socket.data = socket.data.token ? { token: socket.data.token } : {};
    // Typing ends with the leave, told after the leave's notice (when there is one).
    presence
      .leave(socket.id, roomId, userId)
      .catch((err: unknown) => logger.error({ err }, "leave failed"))
      .finally(() => typing.stop(roomId, userId, socket.id));
  };

  /**
   * Joins of one socket run one at a time, in the order received. A join still waiting (for
   * the previous one, or for the join limiter) when a later join_room arrives is abandoned
   * before it changes anything: nothing is announced in a room the socket never really
   * entered, and its acknowledgement says it was superseded.
   */
  const joins = new WeakMap<ChatSocket, JoinState>();
  const onJoinQueued = (socket: ChatSocket, payload: unknown, ack: Ack | undefined): Promise<void> => {
    let state = joins.get(socket);
    if (!state) {
      state = { latest: 0, tail: Promise.resolve() };
      joins.set(socket, state);
    }
    const number = ++state.latest;
    const current = state;
    const superseded = () => current.latest !== number;
    const run = state.tail.then(() => onJoin(socket, payload, ack, superseded));
    state.tail = run.catch(() => {});
    return run;
  };

  const onJoin = async (
    socket: ChatSocket,
    payload: unknown,
    ack: Ack | undefined,
    superseded: () => boolean,
  ): Promise<void> => {
    const supersededError = () => new ChatError(ErrorCode.NotJoined, "superseded by a later join_room");
    if (superseded()) throw supersededError();
    const join = parsePayload(joinRoomSchema, payload);
    const { userId, roomId, lastMessageId } = join;
    const token = socket.data.token;
    if (token && token.userId !== userId) {
      throw new ChatError(ErrorCode.Forbidden, "userId does not match your token");
    }
    if (token?.rooms && !token.rooms.includes(roomId)) {
      throw new ChatError(ErrorCode.Forbidden, "your token does not allow joining this room");
    }
    const username = token?.username ?? join.username;
    if (!(await deps.limits.allowJoin(userId))) {
      throw new ChatError(ErrorCode.RateLimited, "too many joins, slow down");
    }
    // The socket may have gone, or joined elsewhere, while the limiter answered; from here on
    // all is synchronous up to the presence call, so changes reach the store in event order.
    if (socket.disconnected) return;
    if (superseded()) throw supersededError();
    unjoined.delete(socket);
    if (socket.data.roomId !== roomId || socket.data.userId !== userId) leaveCurrentRoom(socket);
    socket.data = { ...(token ? { token } : {}), userId, username, roomId };
    // The socket enters the room, and the store is asked, within the join's no-gap rule
    // between history and live delivery (RoomEntry).
    const {
      entered: { kind, users },
      page: { messages, complete },
    } = await deps.entry.join(roomId, lastMessageId, () => {
      socket.join(socketRoom(roomId));
      return presence.join(socket.id, roomId, userId, username);
    });
    logger.info({ socket: socket.id, roomId, userId, kind }, "joined");
    socket.emit("system_message", existingUsers(roomId, { userId, username }, users));
    socket.emit("chat_history", { roomId, messages, complete });
    if (kind !== "rejoin") {
      metrics.notices.inc({ type: kind });
      emitToOthers(socket, roomId, "system_message", userNotice(kind, roomId, { userId, username }));
    }
    ack?.({ ok: true, roomId, userId, users, messages, complete });
  };

  /**
   * Rooms with sequenced sends still unanswered: they stay on that path until the answers
   * are in, so a later message cannot overtake an earlier one when the room's other hosts go.
   */
  const sequencedInFlight = new InFlight();

  /**
   * A room served by several instances: its messages go through Redis first (stored and
   * published by one script), and every instance, this one included, delivers them as Redis
   * hands them out, so all members see one order, the history's. Costs the room a round trip
   * before delivery; rooms of one instance never come here.
   */
  const sendSequenced = (socket: ChatSocket, message: ChatMessage, ack: Ack | undefined): void => {
    const { roomId } = message;
    sequencedInFlight.begin(roomId);
    deps.sequencer
      .send(message, socket.id)
      .then(
        (id) => {
          message.id = id;
          ack?.({ ok: true, id, timestamp: message.serverTimestamp });
        },
        (err: Error) => {
          // Redis failed, perhaps after the script ran (a lost reply, a master killed): delivered
          // here, published again on the room's channel, where a copy that made it is
          // dropped by id, and stored as the history store can now (in memory, written back
          // later, when Redis is away).
          logUnstored(err);
          emitToRoom(roomId, "receive_message", message, socket.id, true);
          deps.sequencer.publishAgain(message, socket.id);
          deps.history.append(message, (appendErr) => {
            if (appendErr) logUnstored(appendErr);
            ack?.({
              ok: true,
              id: message.id,
              timestamp: message.serverTimestamp,
              ...(appendErr ? { stored: false } : {}),
            });
          });
        },
      )
      .finally(() => {
        sequencedInFlight.end(roomId);
      });
  };

  /** A sequenced message from Redis: to this instance's sockets of the room, but its sender. */
  const deliverSequenced = (message: ChatMessage, exceptSocketId: string | undefined): void => {
    deps.nextMessageId.observe(message.id); // ids issued here later sort after it
    emitToRoom(message.roomId, "receive_message", message, exceptSocketId ?? "", true);
  };

  /** Delivers an accepted message, stores it, and acknowledges once it is stored. */
  const deliver = (socket: ChatSocket, message: ChatMessage, ack: Ack | undefined): void => {
    typing.stop(message.roomId, message.userId, socket.id);
    metrics.messageAccepted(Math.max(0, (socket.nsp.adapter.rooms.get(socketRoom(message.roomId))?.size ?? 1) - 1));
    if (deps.sequencer.active() && (deps.hosts.needsPublish(message.roomId) || sequencedInFlight.has(message.roomId))) {
      return sendSequenced(socket, message, ack);
    }
    emitToOthers(socket, message.roomId, "receive_message", message);
    if (!ack) return deps.history.append(message, logUnstored);
    deps.history.append(message, (err) => {
      if (err) logUnstored(err);
      ack({ ok: true, id: message.id, timestamp: message.serverTimestamp, ...(err ? { stored: false } : {}) });
    });
  };

  /**
   * The append callback of a message sent without an acknowledgement: one function for all,
   * so a queued append holds nothing of its message but the stored text (bench/RESULTS.md,
   * lever 13). The history store passes one error object to every message it concerns (a
   * whole failed batch, or one room of it): logged once per error, not once per message.
   */
  let lastUnstored: Error | undefined;
  const logUnstored = (err?: Error): void => {
    if (!err || err === lastUnstored) return;
    lastUnstored = err;
    logger.warn({ err: err.message }, "message not stored");
  };

  /** The payload as `schema` reads it, or the refusal naming its first problem. */
  const parsePayload = <T>(schema: ZodType<T>, payload: unknown): T => {
    const parsed = schema.safeParse(payload);
    if (!parsed.success) throw new ChatError(ErrorCode.InvalidPayload, describeIssue(parsed.error));
    return parsed.data;
  };

  /** Takes one message from the connection's and the user's budgets, or refuses. */
  const takeMessageBudget = (limiter: ConnectionLimiter, userId: string): void => {
    if (!limiter.allowMessage(userId)) throw new ChatError(ErrorCode.RateLimited, "too many messages, slow down");
  };

  /** Message content within the length bound and not blank, or the refusal. */
  const checkedContent = (content: string): string => {
    if (content.length > deps.maxMessageLength) {
      throw new ChatError(
        ErrorCode.MessageTooLong,
        `message content is longer than ${deps.maxMessageLength} characters`,
      );
    }
    if (content.trim() === "") throw new ChatError(ErrorCode.InvalidPayload, "message content must not be empty");
    return content;
  };

  /** The joined socket's identity, or the refusal. */
  const identityOf = (socket: ChatSocket, what: string): { roomId: string; userId: string; username: string } => {
    const { roomId, userId, username } = socket.data;
    if (roomId === undefined || userId === undefined || username === undefined) {
      throw new ChatError(ErrorCode.NotJoined, `join a room before ${what}`);
    }
    return { roomId, userId, username };
  };

  const onTyping = (socket: ChatSocket, payload: unknown, ack: Ack | undefined): void => {
    const { roomId, userId, username } = identityOf(socket, "typing");
    typing.update(socket.id, roomId, userId, username, parsePayload(typingSchema, payload).isTyping);
    ack?.({ ok: true });
  };

  /**
   * Edits (`content` given) or deletes one of the user's retained messages, tells the room's
   * other sockets, and acknowledges. Same limits as messages.
   */
  const onChange = async (socket: ChatSocket, payload: unknown, ack: Ack | undefined, edit: boolean) => {
    const { roomId, userId } = identityOf(socket, edit ? "editing messages" : "deleting messages");
    takeMessageBudget(senderOf(socket).limiter, userId);
    const { id, content } = edit
      ? parsePayload(editMessageSchema, payload)
      : { ...parsePayload(deleteMessageSchema, payload), content: undefined };
    if (content !== undefined) checkedContent(content);
    const at = Date.now();
    const result = await deps.history.change({ roomId, id, userId, content, at, revision: deps.nextMessageId(at) });
    if (!result.ok) {
      throw result.reason === "FORBIDDEN"
        ? new ChatError(ErrorCode.Forbidden, "you can only change your own messages")
        : new ChatError(ErrorCode.NotFound, "no such message in this room's history");
    }
    const entry = result.entry;
    metrics.changes.inc({ kind: "deleted" in entry ? "delete" : "edit" });
    if ("deleted" in entry) {
      emitToOthers(socket, roomId, "message_deleted", { id, roomId, deletedAt: at });
      ack?.({ ok: true, id, deletedAt: at });
    } else {
      emitToOthers(socket, roomId, "message_updated", {
        id,
        roomId,
        userId: entry.userId,
        username: entry.username,
        content: entry.content,
        text: entry.content,
        editedAt: at,
      });
      ack?.({ ok: true, id, editedAt: at });
    }
  };

  /** Validates a send and builds the message, or throws the refusal. */
  const accept = (socket: ChatSocket, limiter: ConnectionLimiter, payload: unknown): ChatMessage => {
    const { roomId, userId, username } = identityOf(socket, "sending messages");
    takeMessageBudget(limiter, userId);
    const m = parsePayload(sendMessageSchema, payload).message;
    if ((m.userId !== undefined && m.userId !== userId) || (m.senderId !== undefined && m.senderId !== userId)) {
      throw new ChatError(ErrorCode.Forbidden, "you can only send messages as the user you joined as");
    }
    const content = checkedContent((m.content ?? m.text)!);
    const now = Date.now();
    return {
      id: deps.nextMessageId(now),
      roomId,
      userId,
      username,
      content,
      timestamp: m.timestamp ?? now,
      serverTimestamp: now,
      senderId: userId,
      text: content,
      ...(m.clientMessageId === undefined ? {} : { clientMessageId: m.clientMessageId }),
    };
  };

  /**
   * A message with a clientMessageId is delivered only after its id is claimed (one Redis
   * round trip, the price of idempotence); plain messages go out at once. Later messages of
   * the same socket wait behind a pending claim, so a sender's messages keep their order.
   */
  const onSendMessage = (socket: ChatSocket, sender: SenderState, payload: unknown, ack: Ack | undefined): void => {
    const message = accept(socket, sender.limiter, payload);
    if (message.clientMessageId === undefined && sender.pending === undefined) {
      deliver(socket, message, ack);
      return;
    }
    const run = async () => {
      if (message.clientMessageId !== undefined) {
        const first = await deps.history.claimClientMessageId(
          message.roomId,
          message.userId,
          message.clientMessageId,
          message.id,
        );
        if (first !== null) {
          ack?.({ ok: true, id: first, duplicate: true });
          return;
        }
      }
      deliver(socket, message, ack);
    };
    const queued = (sender.pending ?? Promise.resolve()).then(run, run);
    sender.pending = queued;
    void queued
      .catch((err: unknown) => {
        logger.error({ err }, "send failed");
        ack?.({ ok: false, error: { code: ErrorCode.Internal, message: "internal error, please retry" } });
      })
      .finally(() => {
        if (sender.pending === queued) sender.pending = undefined;
      });
  };

  const onLeaveSession = (socket: ChatSocket, ack: Ack | undefined): void => {
    logger.info({ socket: socket.id, roomId: socket.data.roomId, userId: socket.data.userId }, "left session");
    leaveCurrentRoom(socket);
    ack?.({ ok: true });
    socket.disconnect(true);
  };

  /** Send state, made on a connection's first send (most connections are idle at any time). */
  const senders = new WeakMap<ChatSocket, SenderState>();
  const senderOf = (socket: ChatSocket): SenderState => {
    let sender = senders.get(socket);
    if (!sender) {
      sender = { limiter: deps.limits.forConnection(), pending: undefined };
      senders.set(socket, sender);
    }
    return sender;
  };

  const onJoinEvent = listener("join_room", onJoinQueued);
  const onSendEvent = listener("send_message", (socket, payload, ack) =>
    onSendMessage(socket, senderOf(socket), payload, ack),
  );
  const onLeaveEvent = listener("leave_session", (socket, _payload, ack) => onLeaveSession(socket, ack));
  const onTypingEvent = listener("typing", onTyping);
  const onEditEvent = listener("edit_message", (socket, payload, ack) => onChange(socket, payload, ack, true));
  const onDeleteEvent = listener("delete_message", (socket, payload, ack) => onChange(socket, payload, ack, false));
  function onAnyEvent(this: ChatSocket, event: unknown, ...args: unknown[]) {
    const name = typeof event === "string" ? event : String(event);
    if (KNOWN_EVENTS.has(name)) return;
    refuseCounted(
      this,
      name,
      splitArgs(args).ack,
      new ChatError(ErrorCode.UnknownEvent, `unknown event "${name.slice(0, 64)}"`),
    );
  }
  function onDisconnect(this: ChatSocket, reason: string) {
    unjoined.delete(this);
    const { roomId, userId } = this.data;
    logger.info({ socket: this.id, roomId, userId, reason }, "disconnected");
    if (roomId === undefined || userId === undefined) return;
    // A drop does not end typing by itself: the user may be back within the grace period.
    // Their confirmed departure does (below), and so does the typing timeout.
    presence.drop(this.id, roomId, userId).catch((err: unknown) => logger.error({ err }, "drop failed"));
  }

  /**
   * A connection lives no longer than its token. At expiry the client is told why
   * (`chat_error` TOKEN_EXPIRED) and its transport is closed rather than the socket
   * disconnected: a Socket.IO client then reconnects by itself, and its `auth` callback can
   * hand it a fresh token. The user is dropped (grace period), not announced as leaving.
   */
  const closeAtExpiry = (socket: ChatSocket, expiresAt: number): void => {
    // setTimeout holds at most 2^31-1 ms (~24.8 days); a later expiry is checked again then.
    const timer = setTimeout(
      () => {
        if (Date.now() < expiresAt) return closeAtExpiry(socket, expiresAt);
        logger.info({ socket: socket.id, userId: socket.data.userId }, "token expired: closing the connection");
        socket.emit("chat_error", {
          code: ErrorCode.TokenExpired,
          message: "token expired: reconnect with a fresh token",
          event: "connection",
        });
        // Lets the notice go out before the transport closes.
        setImmediate(() => socket.conn.close());
      },
      Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1),
    );
    socket.once("disconnect", () => clearTimeout(timer));
  };

  /** Connections that have not joined yet, with when they connected (swept below). */
  const unjoined = new Map<ChatSocket, number>();
  let sweep: NodeJS.Timeout | undefined;
  if (deps.joinTimeoutMs > 0) {
    sweep = setInterval(
      () => {
        const cutoff = Date.now() - deps.joinTimeoutMs;
        for (const [socket, since] of unjoined) {
          if (since > cutoff) break; // in connection order
          unjoined.delete(socket);
          logger.info({ socket: socket.id }, "closing a connection that did not join a room in time");
          socket.emit("chat_error", {
            code: ErrorCode.JoinTimeout,
            message: `no join_room within ${deps.joinTimeoutMs} ms`,
            event: "join_room",
          });
          socket.disconnect(true);
        }
      },
      Math.min(1000, Math.max(50, Math.floor(deps.joinTimeoutMs / 4))),
    );
    sweep.unref();
  }

  io.on("connection", (socket) => {
    if (deps.joinTimeoutMs > 0) unjoined.set(socket, Date.now());
    const expiresAt = socket.data.token?.expiresAt;
    if (expiresAt !== undefined) closeAtExpiry(socket, expiresAt);
    logger.info({ socket: socket.id, ip: socket.handshake.address, tokenUser: socket.data.token?.userId }, "connected");
    socket.on("join_room", onJoinEvent);
    socket.on("send_message", onSendEvent);
    socket.on("leave_session", onLeaveEvent);
    socket.on("typing", onTypingEvent);
    socket.on("edit_message", onEditEvent);
    socket.on("delete_message", onDeleteEvent);
    socket.onAny(onAnyEvent);
    socket.on("disconnect", onDisconnect);
  });
  // Departures and returns the presence service confirms, told to the room (whichever
  // instance hosts its sockets: kept here when the store knows no other does). A departure
  // also ends the user's typing, told after it.
  const announce = (type: "disconnect" | "reconnect", d: Departure) => {
    metrics.notices.inc({ type });
    emitToRoom(d.roomId, "system_message", userNotice(type, d.roomId, d), "", d.hostedElsewhere === false);
  };
  presence.onDeparted((d) => {
    announce("disconnect", d);
    typing.stop(d.roomId, d.userId, "");
  });
  presence.onReconnected((d) => announce("reconnect", d));

  return {
    deliverSequenced,
    close: () => {
      clearInterval(sweep);
      typing.close();
    },
  };
}

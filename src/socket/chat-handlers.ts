import type { Server, Socket } from "socket.io";
import type { Logger } from "../logger.js";
import type { PresenceService } from "../presence/presence-service.js";
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
import { describeIssue, joinRoomSchema, sendMessageSchema } from "./schemas.js";

export type ChatServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface ChatHandlerDeps {
  presence: PresenceService;
  maxMessageLength: number;
  nextMessageId: (now: number) => string;
  logger: Logger;
}

const KNOWN_EVENTS = new Set(["join_room", "send_message", "leave_session"]);

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
export function registerChatHandlers(io: ChatServer, deps: ChatHandlerDeps): void {
  const { presence, logger } = deps;

  /** Runs a handler; a ChatError is answered to the client, anything else is logged and answered as internal. */
  const guard =
    (socket: ChatSocket, event: string, run: (payload: unknown, ack: Ack | undefined) => unknown) =>
    (...args: unknown[]) => {
      const { payload, ack } = splitArgs(args);
      const fail = (err: unknown) => {
        if (err instanceof ChatError) {
          logger.debug({ socket: socket.id, event, code: err.code }, "event refused");
          refuse(socket, event, ack, err);
        } else {
          logger.error({ socket: socket.id, event, err }, "event handler failed");
          refuse(socket, event, ack, new ChatError(ErrorCode.Internal, "internal error, please retry"));
        }
      };
      try {
        const result = run(payload, ack);
        if (result instanceof Promise) result.catch(fail);
      } catch (err) {
        fail(err);
      }
    };

  const leaveCurrentRoom = (socket: ChatSocket): void => {
    const { roomId, userId } = socket.data;
    if (roomId === undefined || userId === undefined) return;
    socket.leave(socketRoom(roomId));
    socket.data = {};
    presence.leave(socket.id, roomId, userId).catch((err: unknown) => logger.error({ err }, "leave failed"));
  };

  const onJoin = async (socket: ChatSocket, payload: unknown, ack: Ack | undefined): Promise<void> => {
    const parsed = joinRoomSchema.safeParse(payload);
    if (!parsed.success) throw new ChatError(ErrorCode.InvalidPayload, describeIssue(parsed.error));
    const { userId, username, roomId } = parsed.data;
    if (socket.data.roomId !== roomId || socket.data.userId !== userId) leaveCurrentRoom(socket);
    socket.data = { userId, username, roomId };
    socket.join(socketRoom(roomId));
    const { kind, users } = await presence.join(socket.id, roomId, userId, username);
    logger.info({ socket: socket.id, roomId, userId, kind }, "joined");
    socket.emit("system_message", existingUsers(roomId, { userId, username }, users));
    if (kind !== "rejoin") {
      socket.to(socketRoom(roomId)).emit("system_message", userNotice(kind, roomId, { userId, username }));
    }
    ack?.({ ok: true, roomId, userId, users });
  };

  const onSendMessage = (socket: ChatSocket, payload: unknown, ack: Ack | undefined): void => {
    const { roomId, userId, username } = socket.data;
    if (roomId === undefined || userId === undefined || username === undefined) {
      throw new ChatError(ErrorCode.NotJoined, "join a room before sending messages");
    }
    const parsed = sendMessageSchema.safeParse(payload);
    if (!parsed.success) throw new ChatError(ErrorCode.InvalidPayload, describeIssue(parsed.error));
    const m = parsed.data.message;
    if ((m.userId !== undefined && m.userId !== userId) || (m.senderId !== undefined && m.senderId !== userId)) {
      throw new ChatError(ErrorCode.Forbidden, "you can only send messages as the user you joined as");
    }
    const content = (m.content ?? m.text)!;
    if (content.length > deps.maxMessageLength) {
      throw new ChatError(
        ErrorCode.MessageTooLong,
        `message content is longer than ${deps.maxMessageLength} characters`,
      );
    }
    if (content.trim() === "") throw new ChatError(ErrorCode.InvalidPayload, "message content must not be empty");
    const now = Date.now();
    const id = deps.nextMessageId(now);
    const message: ChatMessage = {
      id,
      roomId,
      userId,
      username,
      content,
      timestamp: m.timestamp ?? now,
      serverTimestamp: now,
      senderId: userId,
      text: content,
    };
    socket.to(socketRoom(roomId)).emit("receive_message", message);
    ack?.({ ok: true, id, timestamp: now });
  };

  const onLeaveSession = (socket: ChatSocket, ack: Ack | undefined): void => {
    logger.info({ socket: socket.id, roomId: socket.data.roomId, userId: socket.data.userId }, "left session");
    leaveCurrentRoom(socket);
    ack?.({ ok: true });
    socket.disconnect(true);
  };

  io.on("connection", (socket) => {
    logger.debug({ socket: socket.id }, "connected");
    socket.on(
      "join_room",
      guard(socket, "join_room", (payload, ack) => onJoin(socket, payload, ack)),
    );
    socket.on(
      "send_message",
      guard(socket, "send_message", (payload, ack) => onSendMessage(socket, payload, ack)),
    );
    socket.on(
      "leave_session",
      guard(socket, "leave_session", (_payload, ack) => onLeaveSession(socket, ack)),
    );
    socket.onAny((event: unknown, ...args: unknown[]) => {
      const name = typeof event === "string" ? event : String(event);
      if (KNOWN_EVENTS.has(name)) return;
      refuse(
        socket,
        name,
        splitArgs(args).ack,
        new ChatError(ErrorCode.UnknownEvent, `unknown event "${name.slice(0, 64)}"`),
      );
    });
    socket.on("disconnect", (reason) => {
      const { roomId, userId } = socket.data;
      logger.debug({ socket: socket.id, roomId, userId, reason }, "disconnected");
      if (roomId === undefined || userId === undefined) return;
      presence.drop(socket.id, roomId, userId).catch((err: unknown) => logger.error({ err }, "drop failed"));
    });
  });
}

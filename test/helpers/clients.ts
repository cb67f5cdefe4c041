import { io, type Socket, type ManagerOptions, type SocketOptions } from "socket.io-client";

import { SOCKET_PATH } from "../../src/chat-service.js";

export { SOCKET_PATH };

export type Client = Socket;

/** A Socket.IO client over a real WebSocket; resolves once connected. */
export async function connect(url: string, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<Client> {
  const socket = io(url, {
    path: SOCKET_PATH,
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
  return socket;
}

/**
 * Tries a handshake: resolves "connected" or the connect_error's message. A connected socket
 * is kept in `keep` (the caller closes it), or closed at once when no list is given.
 */
export function tryConnect(
  url: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
  keep?: Client[],
): Promise<string> {
  return new Promise((resolve) => {
    const socket = io(url, {
      path: SOCKET_PATH,
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      ...options,
    });
    socket.once("connect", () => {
      if (keep) keep.push(socket);
      else socket.close();
      resolve("connected");
    });
    socket.once("connect_error", (err) => {
      socket.close();
      resolve(err.message);
    });
  });
}

/** Resolves with the next `event` payload matching `match`, or rejects after `timeoutMs`. */
export function nextEvent<T = any>(
  socket: Client,
  event: string,
  match: (payload: T) => boolean = () => true,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(
        new Error(
          `timed out after ${timeoutMs} ms waiting for ${event}${match.length > 0 ? ` matching ${String(match)}` : ""}`,
        ),
      );
    }, timeoutMs);
    const listener = (payload: T) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(payload);
    };
    socket.on(event, listener);
  });
}

/** Records every payload of `event` from now on. */
export function record<T = any>(socket: Client, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

export const systemEvent = (eventType: string, userId?: string) => (m: any) =>
  m.eventType === eventType && (userId === undefined || m.userId === userId);

/** Joins and resolves with the `existing_users` message the joiner receives. */
export async function join(socket: Client, userId: string, roomId: string, username = userId.toUpperCase()) {
  const existing = nextEvent(socket, "system_message", systemEvent("existing_users"));
  const ack = await socket.emitWithAck("join_room", { userId, username, roomId });
  if (!ack.ok) throw new Error(`join refused: ${JSON.stringify(ack)}`);
  return existing;
}

/** Connects and joins in one step. */
export async function joined(url: string, userId: string, roomId: string, options = {}): Promise<Client> {
  const socket = await connect(url, options);
  await join(socket, userId, roomId);
  return socket;
}

/** Resolves once the socket is disconnected. */
export function disconnected(socket: Client): Promise<string> {
  if (socket.disconnected) return Promise.resolve("already");
  return new Promise((resolve) => socket.once("disconnect", (reason) => resolve(reason)));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

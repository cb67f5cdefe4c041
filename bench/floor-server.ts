/**
 * The floor: a bare Socket.IO 4.8 server with in-memory rooms and no checks, state or Redis,
 * speaking the same events as the service. What any Socket.IO chat service costs at least.
 * PORT from the environment; prints "listening" when ready.
 *
 * With FLOOR_PAYLOAD=protocol (target `floor-protocol`) it sends what PROTOCOL.md asks of
 * every join and message, and still nothing else: `receive_message` with its server id,
 * room, server timestamp and the web client's aliases (`senderId`, `text`); on a join, the
 * full `existing_users` (the others present, the aliases, a text), a `chat_history` and a
 * `connect` notice to the others. What the protocol's frames cost on a bare server, apart
 * from what the service does to honour them.
 */
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { Server } from "socket.io";
import type { UserRef } from "../src/store/room-store.js";

const protocol = process.env.FLOOR_PAYLOAD === "protocol";
/**
 * protocol: the service's own payload builders and message ids (dist, which `npm run bench`
 * builds; this file runs from node_modules/.cache, so they are found from the working
 * directory), so this floor sends what the service sends.
 */
const fromDist = async <T>(file: string): Promise<T> =>
  (await import(pathToFileURL(`${process.cwd()}/dist/socket/${file}`).href)) as T;
const payloads = protocol ? await fromDist<typeof import("../src/socket/payloads.js")>("payloads.js") : undefined;
const nextMessageId = protocol
  ? (await fromDist<typeof import("../src/socket/message-id.js")>("message-id.js")).createMessageIdGenerator("f100r0")
  : undefined;

const http = createServer();
const io = new Server(http, { path: "/api/v1/chat-service/socket.io" });
/** protocol: who is in each room, by socket id. */
const members = new Map<string, Map<string, UserRef>>();

io.on("connection", (socket) => {
  let room: string | undefined;
  /** protocol: this socket is no longer among its room's members. */
  const leaveMembers = () => {
    const inRoom = room === undefined ? undefined : members.get(room);
    inRoom?.delete(socket.id);
    if (inRoom?.size === 0) members.delete(room!);
  };
  socket.on("join_room", (p: { userId: string; username: string; roomId: string }) => {
    if (payloads) leaveMembers();
    room = p.roomId;
    void socket.join(room);
    if (!payloads) {
      socket.emit("system_message", { eventType: "existing_users", users: [] });
      return;
    }
    let inRoom = members.get(room);
    if (!inRoom) members.set(room, (inRoom = new Map()));
    const users = [...inRoom.values()];
    const user = { userId: p.userId, username: p.username };
    inRoom.set(socket.id, user);
    socket.emit("system_message", payloads.existingUsers(room, user, users));
    socket.emit("chat_history", { roomId: room, messages: [], complete: true });
    socket.to(room).emit("system_message", payloads.userNotice("connect", room, user));
  });
  socket.on(
    "send_message",
    (p: { message: { userId: string; username: string; content: string; timestamp: number } }) => {
      if (!room) return;
      if (!nextMessageId) {
        socket.to(room).emit("receive_message", p.message);
        return;
      }
      const m = p.message;
      const now = Date.now();
      socket.to(room).emit("receive_message", {
        id: nextMessageId(now),
        roomId: room,
        userId: m.userId,
        username: m.username,
        content: m.content,
        timestamp: m.timestamp,
        serverTimestamp: now,
        senderId: m.userId,
        text: m.content,
      });
    },
  );
  if (protocol) socket.on("disconnect", leaveMembers);
});
http.listen(Number(process.env.PORT ?? 5300), "127.0.0.1", () => console.log("listening"));
// Exit normally on SIGTERM, so --cpu-prof (BENCH_NODE_ARGS) writes its profile.
process.on("SIGTERM", () => process.exit(0));

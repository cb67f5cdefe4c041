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
import { Server } from "socket.io";

interface User {
  userId: string;
  username: string;
}

const protocol = process.env.FLOOR_PAYLOAD === "protocol";
const http = createServer();
const io = new Server(http, { path: "/api/v1/chat-service/socket.io" });
/** protocol: who is in each room, by socket id. */
const members = new Map<string, Map<string, User>>();
let seq = 0;

io.on("connection", (socket) => {
  let room: string | undefined;
  socket.on("join_room", (p: { userId: string; username: string; roomId: string }) => {
    if (protocol && room !== undefined) members.get(room)?.delete(socket.id);
    room = p.roomId;
    void socket.join(room);
    if (!protocol) {
      socket.emit("system_message", { eventType: "existing_users", users: [] });
      return;
    }
    let inRoom = members.get(room);
    if (!inRoom) members.set(room, (inRoom = new Map()));
    const users = [...inRoom.values()];
    inRoom.set(socket.id, { userId: p.userId, username: p.username });
    const now = Date.now();
    socket.emit("system_message", {
      eventType: "existing_users",
      event: "existing_users",
      roomId: room,
      userId: p.userId,
      username: p.username,
      users,
      text: users.length ? `In the chat: ${users.map((u) => u.username).join(", ")}.` : "Nobody else is here yet.",
      timestamp: now,
    });
    socket.emit("chat_history", { roomId: room, messages: [], complete: true });
    socket.to(room).emit("system_message", {
      eventType: "connect",
      event: "connect",
      roomId: room,
      userId: p.userId,
      username: p.username,
      text: `${p.username} has entered the chat.`,
      timestamp: now,
    });
  });
  socket.on(
    "send_message",
    (p: { message: { userId: string; username: string; content: string; timestamp: number } }) => {
      if (!room) return;
      if (!protocol) {
        socket.to(room).emit("receive_message", p.message);
        return;
      }
      const m = p.message;
      const now = Date.now();
      socket.to(room).emit("receive_message", {
        id: `${now.toString(36).padStart(9, "0")}-${(++seq % 36 ** 4).toString(36).padStart(4, "0")}-f100r0`,
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
  if (protocol) {
    socket.on("disconnect", () => {
      const inRoom = room === undefined ? undefined : members.get(room);
      inRoom?.delete(socket.id);
      if (inRoom?.size === 0) members.delete(room!);
    });
  }
});
http.listen(Number(process.env.PORT ?? 5300), "127.0.0.1", () => console.log("listening"));
// Exit normally on SIGTERM, so --cpu-prof (BENCH_NODE_ARGS) writes its profile.
process.on("SIGTERM", () => process.exit(0));

/**
 * The floor: a bare Socket.IO 4.8 server with in-memory rooms and no checks, state or Redis,
 * speaking the same events as the service. What any Socket.IO chat service costs at least.
 * PORT from the environment; prints "listening" when ready.
 */
import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer();
const io = new Server(http, { path: "/api/v1/chat-service/socket.io" });
io.on("connection", (socket) => {
  let room: string | undefined;
  socket.on("join_room", (p: { userId: string; username: string; roomId: string }) => {
    room = p.roomId;
    void socket.join(room);
    socket.emit("system_message", { eventType: "existing_users", users: [] });
  });
  socket.on("send_message", (p: { message: Record<string, unknown> }) => {
    if (room) socket.to(room).emit("receive_message", p.message);
  });
});
http.listen(Number(process.env.PORT ?? 5300), "127.0.0.1", () => console.log("listening"));
// Exit normally on SIGTERM, so --cpu-prof (BENCH_NODE_ARGS) writes its profile.
process.on("SIGTERM", () => process.exit(0));

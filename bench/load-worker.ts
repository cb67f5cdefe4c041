/**
 * One load-generator process: its share of the rooms, every user of a room in this process,
 * so a message's sender and receivers read one clock. Forked and driven by bench/run.ts.
 */
import { performance } from "node:perf_hooks";
import { io, type Socket } from "socket.io-client";

export interface WorkerRoom {
  roomId: string;
  users: { userId: string; url: string }[];
}
export interface WorkerTask {
  rooms: WorkerRoom[];
  /** Messages per second this thread sends (spread over its users, round-robin). */
  rate: number;
  durationMs: number;
  /** join-storm: connect first, join everybody at once on "go". */
  joinStorm: boolean;
  /** join-storm: also time each join's `chat_history` (the bare floor sends none). */
  joinHistory?: boolean;
}
export interface WorkerResult {
  sent: number;
  expected: number;
  delivered: number;
  duplicates: number;
  misrouted: number;
  latencies: Float64Array;
  /** join-storm with `joinHistory`: ms from each join to its `chat_history` (`latencies`: to `existing_users`). */
  historyLatencies?: Float64Array;
}

const task = JSON.parse(process.env.BENCH_TASK ?? "{}") as WorkerTask;
const port = {
  postMessage: (m: unknown) => process.send!(m),
  on: (event: "message", listener: (m: string) => void) => process.on(event, listener),
};
const PATH = "/api/v1/chat-service/socket.io";

interface Member {
  room: number;
  userId: string;
  roomId: string;
  socket: Socket;
}

const members: Member[] = [];
const counts = new Map<string, number>();
let latencies = new Float64Array(1 << 16);
let nLatencies = 0;
let duplicates = 0;
let misrouted = 0;
let delivered = 0;
const roomSize = task.rooms[0]?.users.length ?? 0;

const recordLatency = (ms: number) => {
  if (nLatencies === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2);
    bigger.set(latencies);
    latencies = bigger;
  }
  latencies[nLatencies++] = ms;
};

function connect(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = io(url, { path: PATH, transports: ["websocket"], forceNew: true, reconnection: false });
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

/** Joins; resolves with the ms until `existing_users` arrived, and sets `history` to the ms until `chat_history`. */
function join(m: Member, username: string, history?: (ms: number) => void): Promise<number> {
  const t0 = performance.now();
  if (history) m.socket.once("chat_history", () => history(performance.now() - t0));
  return new Promise((resolve) => {
    const onSystem = (s: { eventType: string }) => {
      if (s.eventType !== "existing_users") return;
      m.socket.off("system_message", onSystem);
      resolve(performance.now() - t0);
    };
    m.socket.on("system_message", onSystem);
    m.socket.emit("join_room", { userId: m.userId, username, roomId: m.roomId });
  });
}

async function setUp(): Promise<void> {
  const batch = 50;
  const all = task.rooms.flatMap((r, room) => r.users.map((u) => ({ room, roomId: r.roomId, ...u })));
  for (let i = 0; i < all.length; i += batch) {
    await Promise.all(
      all.slice(i, i + batch).map(async (u) => {
        const socket = await connect(u.url);
        const m: Member = { room: u.room, userId: u.userId, roomId: u.roomId, socket };
        members.push(m);
        socket.on("receive_message", (msg: { content: string; userId: string }) => {
          const now = performance.now();
          const [room, seq, sentAt] = msg.content.split("|");
          if (Number(room) !== m.room || msg.userId === m.userId) {
            misrouted++;
            return;
          }
          const key = `${room}|${seq}`;
          const n = (counts.get(key) ?? 0) + 1;
          counts.set(key, n);
          if (n > roomSize - 1) duplicates++;
          else {
            delivered++;
            recordLatency(now - Number(sentAt));
          }
        });
        if (!task.joinStorm) await join(m, u.userId);
      }),
    );
  }
}

async function runLoad(): Promise<number> {
  let sent = 0;
  if (task.rate === 0 || members.length === 0) {
    await new Promise((r) => setTimeout(r, task.durationMs));
    return 0;
  }
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - start;
      if (elapsed >= task.durationMs) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor((elapsed / 1000) * task.rate) - sent;
      for (let i = 0; i < due; i++) {
        const m = members[next]!;
        next = (next + 1) % members.length;
        const seq = sent++;
        m.socket.emit("send_message", {
          message: {
            userId: m.userId,
            username: m.userId,
            content: `${m.room}|${seq}|${performance.now()}`,
            timestamp: Date.now(),
          },
        });
      }
    }, 5);
  });
  return sent;
}

port.on("message", async (msg: string) => {
  if (msg === "setup") {
    await setUp();
    port.postMessage({ type: "ready", connections: members.length });
  } else if (msg === "go") {
    if (task.joinStorm) {
      const histories: Promise<number>[] = [];
      const times = await Promise.all(
        members.map((m) => {
          let onHistory: ((ms: number) => void) | undefined;
          if (task.joinHistory) histories.push(new Promise((resolve) => (onHistory = resolve)));
          return join(m, m.userId, onHistory);
        }),
      );
      times.forEach(recordLatency);
      const historyLatencies = Float64Array.from(await Promise.all(histories));
      port.postMessage({
        type: "done",
        result: {
          sent: 0,
          expected: 0,
          delivered: times.length,
          duplicates: 0,
          misrouted: 0,
          latencies: latencies.slice(0, nLatencies),
          historyLatencies,
        },
      });
      return;
    }
    // Every "go" is a fresh measurement window over the same connections.
    counts.clear();
    nLatencies = 0;
    delivered = duplicates = misrouted = 0;
    const progress = setInterval(() => port.postMessage({ type: "progress", delivered }), 1000);
    const sent = await runLoad();
    // Let what is in flight arrive (bounded).
    const expected = sent * (roomSize - 1);
    const deadline = performance.now() + 3000;
    while (delivered < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    clearInterval(progress);
    const result: WorkerResult = {
      sent,
      expected,
      delivered,
      duplicates,
      misrouted,
      latencies: latencies.slice(0, nLatencies),
    };
    port.postMessage({ type: "done", result });
  } else if (msg === "close") {
    members.forEach((m) => m.socket.close());
    port.postMessage({ type: "closed" });
    process.disconnect();
  }
});

/**
 * The Redis client lever, measured on the service's history-write pattern: every window,
 * one ZADD per message (each to its room's key, ~250-byte members), at a fixed message rate.
 * Prints, per client and option set, the client process's CPU and Redis's CPU per message
 * (a baseline that only builds the members is subtracted from the client's figure).
 *
 *   npm run bench:clients                       # 2,000 msgs/s, 20 ms windows, 10 s each
 *   npm run bench:clients -- --rate 4000 --window 5 --seconds 5 --rounds 3
 *   npm run bench:clients -- --pubsub --rate 4000   # the adapter's publish + pattern subscription
 *
 * Each variant runs in a fresh child process against its own redis-server, rounds interleaved.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { readLuaScript } from "../src/redis/lua.js";
import { args, flag } from "./args.js";
import { cpuSeconds } from "./proc-stats.js";
import { median } from "./stats.js";
import { startRedis } from "./targets.js";

const VARIANTS = {
  "members only (baseline)": "none",
  "ioredis, auto-pipelining + commandTimeout (the service's command connection)": "ioredis-auto-timeout",
  "ioredis, auto-pipelining": "ioredis-auto",
  "ioredis, explicit pipeline, no commandTimeout": "ioredis-pipeline",
  "node-redis 5 (pipelines a tick's commands by itself)": "node-redis",
  "node-redis 5, raw sendCommand per ZADD (no command builder)": "node-redis-raw",
  "node-redis 5, one script call per window for all rooms (the service)": "node-redis-script",
  "node-redis 5, the same arguments to a script that returns at once (Lua's argument cost)": "node-redis-noop-script",
  "node-redis 5, one pipelined RPUSH per room (a list instead of a sorted set)": "node-redis-rpush",
} as const;
/** --pubsub: the adapter's pattern instead, publish and receive back in one process. */
const PUBSUB_VARIANTS = {
  "members only (baseline)": "none",
  "ioredis, auto-pipelined PUBLISH + PSUBSCRIBE (the service's adapter)": "ioredis-pubsub",
  "node-redis 5, PUBLISH + pSubscribe": "node-redis-pubsub",
} as const;
type Variant = (typeof VARIANTS)[keyof typeof VARIANTS] | (typeof PUBSUB_VARIANTS)[keyof typeof PUBSUB_VARIANTS];

const pubsub = args.includes("--pubsub");
const opts = {
  rate: Number(flag("rate", "2000")),
  windowMs: Number(flag("window", pubsub ? "5" : "20")),
  seconds: Number(flag("seconds", "10")),
  rounds: Number(flag("rounds", "2")),
  rooms: 500,
};

/** One variant, in a child process: resolves with its own CPU seconds and the messages written. */
async function child(variant: Variant, port: number): Promise<{ cpu: number; written: number }> {
  type Zadd = (key: string, member: string) => Promise<unknown>;
  let zadd: Zadd = () => Promise.resolve();
  let write = (batch: [string, string][]): Promise<unknown> => Promise.all(batch.map(([k, m]) => zadd(k, m)));
  let close = async () => {};
  // Pub/sub: every member is published to its room's channel, and read back by a pattern
  // subscription of the same process, as an instance's adapter does with its own broadcasts.
  const channel = (key: string) => `socket.io#/#${key}#`;
  let received = 0;
  if (variant === "ioredis-pubsub") {
    const pub = new Redis({ port, host: "127.0.0.1", enableAutoPipelining: true });
    const sub = new Redis({ port, host: "127.0.0.1" });
    await sub.psubscribe("socket.io#/#*");
    sub.on("pmessageBuffer", () => received++);
    write = (batch) => Promise.all(batch.map(([k, m]) => pub.publish(channel(k), m)));
    close = async () => void (pub.disconnect(), sub.disconnect());
  } else if (variant === "node-redis-pubsub") {
    const pub = createClient({ socket: { port, host: "127.0.0.1" } });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    await sub.pSubscribe("socket.io#/#*", () => received++, true);
    write = (batch) => Promise.all(batch.map(([k, m]) => pub.publish(channel(k), m)));
    close = async () => void (pub.destroy(), sub.destroy());
  } else if (variant.startsWith("ioredis")) {
    const redis = new Redis({
      port,
      host: "127.0.0.1",
      enableAutoPipelining: variant !== "ioredis-pipeline",
      ...(variant === "ioredis-auto-timeout" ? { commandTimeout: 2000 } : {}),
    });
    zadd = (k, m) => redis.zadd(k, 0, m);
    if (variant === "ioredis-pipeline") {
      write = (batch) => {
        const pipeline = redis.pipeline();
        for (const [k, m] of batch) pipeline.zadd(k, 0, m);
        return pipeline.exec();
      };
    }
    close = async () => void (await redis.quit());
  } else if (variant.startsWith("node-redis")) {
    const redis = createClient({ socket: { port, host: "127.0.0.1" } });
    await redis.connect();
    zadd =
      variant === "node-redis-raw"
        ? (k, m) => redis.sendCommand(["ZADD", k, "0", m])
        : (k, m) => redis.zAdd(k, { score: 0, value: m });
    /** A window's members by room, as the service's history store groups them. */
    const byRoom = (batch: [string, string][]) => {
      const byKey = new Map<string, string[]>();
      for (const [k, m] of batch) {
        const members = byKey.get(k);
        if (members) members.push(m);
        else byKey.set(k, [m]);
      }
      return byKey;
    };
    if (variant === "node-redis-rpush") {
      write = (batch) =>
        Promise.all([...byRoom(batch)].map(([k, members]) => redis.sendCommand(["RPUSH", k, ...members])));
    }
    if (variant === "node-redis-script" || variant === "node-redis-noop-script") {
      const script =
        variant === "node-redis-script"
          ? `${readLuaScript("history_lib.lua")}\n${readLuaScript("history_append.lua")}`
          : "return {}";
      write = (batch) => {
        const byKey = byRoom(batch);
        // As RedisHistoryStore calls it: three keys per room (history, byte count, users), the
        // bounds (threshold, limit, bytes, retention), then each room's count and members.
        const keys = [...byKey.keys()].flatMap((k) => [k, `${k}:bytes`, `${k}:users`]);
        const argv = ["116", "100", "1000000", "86400000"];
        for (const members of byKey.values()) argv.push(String(members.length), ...members);
        return redis.sendCommand(["EVAL", script, String(byKey.size * 3), ...keys, ...argv]);
      };
    }
    close = async () => void redis.destroy();
  }
  const perWindow = Math.round((opts.rate * opts.windowMs) / 1000);
  let seq = 0;
  let written = 0;
  const cpu0 = process.cpuUsage();
  const end = Date.now() + opts.seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = () => {
      if (Date.now() >= end) return resolve();
      const batch: [string, string][] = [];
      for (let i = 0; i < perWindow; i++) {
        const n = seq++;
        const room = n % opts.rooms;
        const now = Date.now();
        const id = `${now.toString(36).padStart(9, "0")}-${(n % 1679616).toString(36).padStart(4, "0")}-bench`;
        const body = { userId: `user-${room}`, username: `User ${room}`, content: `message ${n}`, timestamp: now };
        batch.push([`room:${room}:history`, `${id}\n${JSON.stringify({ ...body, serverTimestamp: now })}`]);
      }
      void write(variant === "none" ? [] : batch).then(() => (written += batch.length));
      setTimeout(tick, opts.windowMs);
    };
    tick();
  });
  await new Promise((r) => setTimeout(r, 200));
  const used = process.cpuUsage(cpu0);
  await close();
  if (variant.endsWith("-pubsub") && received < written) throw new Error(`received ${received} of ${written}`);
  return { cpu: (used.user + used.system) / 1e6, written };
}

async function main() {
  const rows = new Map<string, { client: number[]; redis: number[] }>();
  for (let round = 0; round < opts.rounds; round++) {
    for (const [label, variant] of Object.entries(pubsub ? PUBSUB_VARIANTS : VARIANTS)) {
      const redis = await startRedis();
      const redis0 = cpuSeconds(redis.pids[0]!);
      const proc = fork(fileURLToPath(import.meta.url), ["--child", variant, String(redis.port), ...args], {
        execArgv: ["--import", "tsx"],
      });
      const result = await new Promise<{ cpu: number; written: number }>((resolve) => proc.once("message", resolve));
      const redisCpu = cpuSeconds(redis.pids[0]!) - redis0;
      await redis.stop();
      const row = rows.get(label) ?? { client: [], redis: [] };
      row.client.push((result.cpu * 1e6) / result.written);
      row.redis.push((redisCpu * 1e6) / result.written);
      rows.set(label, row);
      process.stderr.write(`\r\x1b[2Kround ${round + 1}: ${label}`);
    }
  }
  process.stderr.write("\r\x1b[2K");
  const baseline = median(rows.get("members only (baseline)")!.client)!;
  console.log(
    `${pubsub ? "Adapter publishes" : "History writes"}: ${opts.rate} msgs/s over ${opts.rooms} rooms, one write per ${opts.windowMs} ms, ` +
      `${opts.seconds} s per run, median of ${opts.rounds} rounds.\n`,
  );
  console.log("| client | client µs/msg (minus baseline) | Redis µs/msg |\n|---|---:|---:|");
  for (const [label, row] of rows) {
    const client = median(row.client)!;
    const net = label.startsWith("members only") ? "" : ` (${(client - baseline).toFixed(1)})`;
    console.log(`| ${label} | ${client.toFixed(1)}${net} | ${median(row.redis)!.toFixed(1)} |`);
  }
}

if (args[0] === "--child") {
  const result = await child(args[1] as Variant, Number(args[2]));
  process.send!(result, () => process.exit(0));
} else {
  await main();
}

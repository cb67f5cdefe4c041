/**
 * The history store alone: the service's RedisHistoryStore, from a build's dist, appending
 * at a fixed rate over 500 rooms (the rate scenario's pattern), on a single node and on a
 * three-master Redis Cluster. Prints, per build and mode, the client process's CPU and
 * Redis's CPU per message, medians and ranges over the rounds; the client's figure less that
 * of the same process with history off (HISTORY_LIMIT=0: the messages built, the store
 * called) is what the store costs the service. Small enough to tell two builds apart where
 * the whole benchmark's noise hides the difference.
 *
 *   npm run bench:history                                          # dist, both modes
 *   npm run bench:history -- --dist dist,/tmp/old/dist --rounds 4  # A/B of two builds
 *   npm run bench:history -- --modes cluster --rate 4000 --seconds 5
 *
 * Builds, modes and the baseline alternate within each round; every run is a fresh child
 * process against a Redis started for the round.
 */
import { fork } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { args, flag } from "./args.js";
import { cpuSeconds } from "./proc-stats.js";
import { median } from "./stats.js";
import { benchNodeArgs, startRedis, startRedisCluster, type RunningRedis } from "./targets.js";

const opts = {
  dists: flag("dist", "dist").split(","),
  modes: flag("modes", "single,cluster").split(","),
  rate: Number(flag("rate", "2000")),
  seconds: Number(flag("seconds", "8")),
  rounds: Number(flag("rounds", "3")),
  rooms: 500,
};

interface ChildResult {
  cpu: number;
  sent: number;
  failed: number;
}

/**
 * One run, in a child process: the store of `dist` against Redis on `port`, a warm-up (every
 * node connected, the JIT warm), then the measured window, which it announces to the parent
 * ("measuring") so that Redis's CPU is read over the same window.
 */
async function child(dist: string, port: number, historyLimit: string): Promise<ChildResult> {
  const load = async <T>(file: string) => (await import(`${resolve(dist)}/${file}`)) as T;
  const { loadConfig } = await load<typeof import("../src/config/config.js")>("config/config.js");
  const { RedisConnection } = await load<typeof import("../src/redis/connection.js")>("redis/connection.js");
  const { RedisKeys } = await load<typeof import("../src/redis/keys.js")>("redis/keys.js");
  const { RedisHistoryStore } = await load<typeof import("../src/history/redis-history-store.js")>(
    "history/redis-history-store.js",
  );
  const { createLogger } = await load<typeof import("../src/logger.js")>("logger.js");
  const config = loadConfig({
    REDIS_HOST: "127.0.0.1",
    REDIS_PORT: String(port),
    LOG_LEVEL: "warn",
    HISTORY_LIMIT: historyLimit,
  });
  const redis = await RedisConnection.open(config.redis, createLogger("warn"));
  if (!(await redis.connect(5000))) throw new Error(`no Redis on ${port}`);
  const keys = new RedisKeys("", redis.cluster);
  const store = new RedisHistoryStore(redis.command, redis.historyWriter, keys, {
    ...config.history,
    timeoutMs: config.redis.commandTimeoutMs,
  });
  // Somebody is in every room, as while people chat there: the room's users hash exists.
  await Promise.all(
    Array.from({ length: opts.rooms }, (_, room) =>
      redis.command.hset(keys.room(`room-${room}`), `user-${room}`, JSON.stringify({ username: `user-${room}` })),
    ),
  );
  let seq = 0;
  const run = async (ms: number): Promise<{ sent: number; failed: number }> => {
    let sent = 0;
    let failed = 0;
    const start = performance.now();
    await new Promise<void>((done) => {
      const tick = setInterval(() => {
        const elapsed = performance.now() - start;
        if (elapsed >= ms) {
          clearInterval(tick);
          return done();
        }
        for (let due = Math.floor((elapsed / 1000) * opts.rate) - sent; due > 0; due--, sent++) {
          const room = sent % opts.rooms;
          const now = Date.now();
          const id = `${now.toString(36).padStart(9, "0")}-${(seq++ % 1679616).toString(36).padStart(4, "0")}-bench`;
          const user = `user-${room}`;
          const content = `room-${room}|${seq}|${performance.now()}`;
          store.append(
            {
              id,
              roomId: `room-${room}`,
              userId: user,
              username: user,
              content,
              timestamp: now,
              serverTimestamp: now,
              senderId: user,
              text: content,
            },
            (err) => void (err && failed++),
          );
        }
      }, 5);
    });
    await store.flush();
    return { sent, failed };
  };
  await run(3000);
  process.send!("measuring");
  const cpu0 = process.cpuUsage();
  const { sent, failed } = await run(opts.seconds * 1000);
  const used = process.cpuUsage(cpu0);
  await redis.close();
  return { cpu: (used.user + used.system) / 1e6, sent, failed };
}

/** Runs one child and reads Redis's CPU over its measured window. */
async function measure(redis: RunningRedis, dist: string, historyLimit: string) {
  const proc = fork(fileURLToPath(import.meta.url), ["--child", dist, String(redis.port), historyLimit, ...args], {
    execArgv: ["--import", "tsx", ...benchNodeArgs()],
  });
  const redisCpu = () => redis.pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  let redis0 = 0;
  const result = await new Promise<ChildResult>((done, fail) => {
    proc.on("message", (m: "measuring" | ChildResult) => {
      if (m === "measuring") redis0 = redisCpu();
      else done(m);
    });
    proc.once("exit", (code) => fail(new Error(`child exited with ${code}`)));
  });
  const redisUsed = redisCpu() - redis0;
  if (result.failed > 0) throw new Error(`${result.failed} of ${result.sent} appends failed`);
  return { client: (result.cpu * 1e6) / result.sent, redis: (redisUsed * 1e6) / result.sent };
}

async function main() {
  const rows = new Map<string, { client: number[]; redis: number[] }>();
  const add = (label: string, figures: { client: number; redis: number }) => {
    const row = rows.get(label) ?? { client: [], redis: [] };
    row.client.push(figures.client);
    row.redis.push(figures.redis);
    rows.set(label, row);
  };
  for (let round = 0; round < opts.rounds; round++) {
    for (const mode of opts.modes) {
      const redis = mode === "cluster" ? await startRedisCluster() : await startRedis();
      try {
        for (const [label, dist, limit] of [
          [`${mode}, history off (baseline)`, opts.dists[0]!, "0"],
          ...opts.dists.map((d) => [`${mode}, ${d}`, d, "200"]),
        ] as const) {
          process.stderr.write(`\r\x1b[2Kround ${round + 1}: ${label}`);
          add(label, await measure(redis, dist, limit));
        }
      } finally {
        await redis.stop();
      }
    }
  }
  process.stderr.write("\r\x1b[2K");
  console.log(
    `History store: ${opts.rate} msgs/s over ${opts.rooms} rooms, ${opts.seconds} s per run, median of ${opts.rounds} rounds.\n`,
  );
  console.log(
    "| mode, build | client µs/msg (less history off) | client range | Redis µs/msg | Redis range |\n|---|---:|---:|---:|---:|",
  );
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
  for (const mode of opts.modes) {
    const baseline = median(rows.get(`${mode}, history off (baseline)`)!.client)!;
    for (const [label, row] of rows) {
      if (!label.startsWith(`${mode},`)) continue;
      const client = median(row.client)!;
      const net = label.endsWith("(baseline)") ? "" : ` (${(client - baseline).toFixed(1)})`;
      console.log(
        `| ${label} | ${client.toFixed(1)}${net} | ${range(row.client)} | ${median(row.redis)!.toFixed(1)} | ${range(row.redis)} |`,
      );
    }
  }
}

if (args[0] === "--child") {
  const result = await child(args[1]!, Number(args[2]), args[3]!);
  process.send!(result, () => process.exit(0));
} else {
  await main();
}

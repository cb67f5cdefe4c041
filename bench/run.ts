/**
 * The benchmark: the chat service against the bare Socket.IO floor, in one run, on loopback.
 *
 *   npm run bench                       # everything, default sizes, single node and cluster (~18 min)
 *   npm run bench -- --quick            # a smoke run of a few seconds
 *   npm run bench -- --pin              # servers alone on CPU 0 (less noise on 2 cores)
 *   npm run bench -- --repeat 3         # 3 interleaved rounds, median ratios to each round's floor
 *   npm run bench -- --interleave --repeat 8 --duration 5   # rate: all targets up at once, windows alternating
 *   npm run bench -- --scenarios rate,memory --rooms 500 --rate 2000 --duration 10
 *
 * Scenarios: rate (fixed rate: latency, delivery, CPU per message), saturate (highest rate
 * with >= 99.9 % delivery and p99 < 50 ms), memory (KiB per idle joined connection),
 * joinstorm (p99 join -> existing_users, and -> chat_history), departures (the rate load while --leavers idle users
 * disconnect at once and are confirmed gone a grace period later), cross (each room split over two instances),
 * soak (--soak-seconds of rate; p99, RSS and Redis's used memory per window). Targets: floor, service and
 * service@cluster by default (rate also without history: service-nohistory, HISTORY_LIMIT=0, in
 * both modes; rate and joinstorm also floor-protocol, the floor sending the protocol's payloads),
 * or those given with --targets; "@cluster" puts a service target on a
 * local three-master Redis Cluster (e.g. service@cluster); a service target may add
 * environment settings after "+", e.g. --targets floor,service,service+HISTORY_FLUSH_MS=20
 * (DIST=<dir> runs another build, e.g. service+DIST=/tmp/old/dist beside service).
 * Prints a progress line while it runs, then a Markdown table; writes bench/results/*.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { collectGarbage } from "./gc.js";
import { cpuSeconds, cpuTimes, rssKiB } from "./proc-stats.js";
import { args, flag } from "./args.js";
import { median } from "./stats.js";
import { redisUsedMiB, startFloor, startRedis, startRedisCluster, startService, type Running } from "./targets.js";
import type { WorkerResult, WorkerRoom } from "./load-worker.js";

const quick = args.includes("--quick");
const opts = {
  scenarios: flag("scenarios", quick ? "rate" : "rate,memory,joinstorm,departures,cross,saturate").split(","),
  // Both Redis modes by default: the figures that count are a user's, and users run both.
  targets: flag("targets", quick ? "floor,service" : "floor,service,service@cluster").split(","),
  rooms: Number(flag("rooms", quick ? "50" : "500")),
  users: Number(flag("users", "2")),
  rate: Number(flag("rate", quick ? "500" : "2000")),
  durationMs: Number(flag("duration", quick ? "3" : "10")) * 1000,
  workers: Number(flag("workers", "2")),
  stepMs: Number(flag("step", "5")) * 1000,
  soakSeconds: Number(flag("soak-seconds", "600")),
  storm: Number(flag("storm", quick ? "100" : "1000")),
  /** departures: idle users who disconnect at once. */
  leavers: Number(flag("leavers", quick ? "200" : "2000")),
  /** Rounds: every scenario runs its targets this many times, interleaved; ratios per round. */
  repeat: Number(flag("repeat", "1")),
  /**
   * rate: deploy every target at once and alternate their measurement windows (one window per
   * target per round), so a machine that drifts over minutes weighs on all targets alike.
   */
  interleave: args.includes("--interleave"),
};

/** Whether the default targets are in use (no --quick, no --targets): then scenarios may add some. */
const defaultTargets = !quick && !args.includes("--targets");

/**
 * The targets of `rate`: by default also floor-protocol (see joinStormTargets) and each Redis
 * mode's service without history, whose cost issue 15 bounds on its own (≤ 1.05× the floor);
 * only rate, where that figure is read.
 */
const rateTargets = defaultTargets
  ? [
      ...opts.targets,
      "floor-protocol",
      ...opts.targets.filter((t) => /^service(@|$)/.test(t)).map((t) => t.replace("service", "service-nohistory")),
    ]
  : opts.targets;

/**
 * The targets of `joinstorm`: by default also floor-protocol, the bare floor sending what the
 * protocol asks of a join (three frames where the floor sends one), so the report shows how
 * much of the service's ratio is the protocol's frames and how much the service's own work.
 */
const joinStormTargets = defaultTargets ? [...opts.targets, "floor-protocol"] : opts.targets;

// --pin: the servers alone on CPU 0; this process, its load workers and Redis on the others.
// Less noise in the servers' CPU per message, since they no longer share a core with the load.
if (args.includes("--pin")) {
  const others = cpus().length > 1 ? `1-${cpus().length - 1}` : "0";
  execFileSync("taskset", ["-a", "-p", "-c", others, String(process.pid)], { stdio: "ignore" });
  process.env.BENCH_SERVER_CPUS = "0";
}

type Row = Record<string, number | string>;
const results: { scenario: string; target: string; row: Row; round: number }[] = [];
const progress = (text: string) => process.stderr.write(`\r\x1b[2K${text}`);

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Rooms, with each user's instance chosen by `urlFor(room, user)`. */
function layout(rooms: number, users: number, urlFor: (room: number, user: number) => string): WorkerRoom[] {
  return Array.from({ length: rooms }, (_, r) => ({
    roomId: `bench-${r}`,
    users: Array.from({ length: users }, (_, u) => ({ userId: `u${r}-${u}`, url: urlFor(r, u) })),
  }));
}

/** A set of load processes over `rooms`; `rate` is split between them. */
class Load {
  private workers: ChildProcess[] = [];
  constructor(
    private readonly rooms: WorkerRoom[],
    private readonly options: { rate: number; durationMs: number; joinStorm?: boolean; joinHistory?: boolean },
  ) {}

  private all<T>(message: string, type: string, onProgress?: (n: number) => void): Promise<T[]> {
    const delivered = new Array<number>(this.workers.length).fill(0);
    return Promise.all(
      this.workers.map(
        (w, i) =>
          new Promise<T>((resolve, reject) => {
            const onMessage = (m: { type: string; delivered?: number; result?: T; connections?: T }) => {
              if (m.type === "progress" && onProgress) {
                delivered[i] = m.delivered ?? 0;
                onProgress(delivered.reduce((a, b) => a + b, 0));
              }
              if (m.type !== type) return;
              w.off("message", onMessage);
              w.off("error", reject); // a soak runs twenty windows on the same workers
              resolve((m.result ?? m.connections) as T);
            };
            w.on("message", onMessage);
            w.once("error", reject);
            w.send(message);
          }),
      ),
    );
  }

  async setUp(): Promise<void> {
    const n = Math.max(1, Math.min(opts.workers, this.rooms.length));
    for (let i = 0; i < n; i++) {
      const rooms = this.rooms.filter((_, r) => r % n === i);
      this.workers.push(
        fork(fileURLToPath(new URL("./load-worker.ts", import.meta.url)), [], {
          execArgv: ["--import", "tsx"],
          serialization: "advanced",
          env: {
            ...process.env,
            BENCH_TASK: JSON.stringify({
              rooms,
              rate: this.options.rate / n,
              durationMs: this.options.durationMs,
              joinStorm: !!this.options.joinStorm,
              joinHistory: !!this.options.joinHistory,
            }),
          },
        }),
      );
    }
    await this.all("setup", "ready");
  }

  async run(
    label: string,
  ): Promise<WorkerResult & { p50: number; p90: number; p99: number; max: number; historyP99: number }> {
    const started = Date.now();
    const parts = await this.all<WorkerResult>("go", "done", (delivered) =>
      progress(`${label}: ${((Date.now() - started) / 1000).toFixed(0)} s, ${delivered} delivered`),
    );
    const total = parts.reduce((n, p) => n + p.latencies.length, 0);
    const latencies = new Float64Array(total);
    let offset = 0;
    for (const p of parts) {
      latencies.set(p.latencies, offset);
      offset += p.latencies.length;
    }
    latencies.sort();
    const historyLatencies = Float64Array.from(parts.flatMap((p) => [...(p.historyLatencies ?? [])])).sort();
    const sum = (k: keyof WorkerResult) => parts.reduce((n, p) => n + (p[k] as number), 0);
    return {
      sent: sum("sent"),
      expected: sum("expected"),
      delivered: sum("delivered"),
      duplicates: sum("duplicates"),
      misrouted: sum("misrouted"),
      latencies,
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
      historyP99: percentile(historyLatencies, 99),
    };
  }

  async close(): Promise<void> {
    await this.all("close", "closed");
    this.workers.forEach((w) => w.kill());
  }
}

interface Deployment {
  target: string;
  urls: string[];
  pids: number[];
  redisPids: number[];
  /** The ports of its Redis nodes (none for the floor). */
  redisPorts: number[];
  stop: () => Promise<void>;
}

async function deploy(target: string, instances = 1): Promise<Deployment> {
  if (target === "floor" || target === "floor-protocol") {
    const f = await startFloor(target === "floor-protocol");
    return { target, urls: [f.url], pids: [f.pid], redisPids: [], redisPorts: [], stop: f.stop };
  }
  const [spec, ...settings] = target.split("+");
  // "<service>@cluster": on a three-master Redis Cluster rather than a single node.
  const [base, redisKind] = spec!.split("@");
  const redis = redisKind === "cluster" ? await startRedisCluster() : await startRedis();
  const env: Record<string, string> = base === "service-nohistory" ? { HISTORY_LIMIT: "0" } : {};
  for (const s of settings) {
    const eq = s.indexOf("=");
    if (eq > 0) env[s.slice(0, eq)] = s.slice(eq + 1);
  }
  const running: Running[] = [];
  for (let i = 0; i < instances; i++)
    running.push(await startService(`${target}-${i}`, redis.port, env, instances === 1));
  return {
    target,
    urls: running.map((r) => r.url),
    pids: running.map((r) => r.pid),
    redisPids: redis.pids,
    redisPorts: redis.ports,
    stop: async () => {
      await Promise.all(running.map((r) => r.stop()));
      await redis.stop();
    },
  };
}

const cpuOf = (d: Deployment) => {
  const servers = d.pids.map(cpuTimes);
  return {
    server: servers.reduce((n, t) => n + t.user + t.system, 0),
    serverSystem: servers.reduce((n, t) => n + t.system, 0),
    redis: d.redisPids.reduce((n, pid) => n + cpuSeconds(pid), 0),
  };
};

/** One fixed-rate window on an existing load: delivery, latency, CPU per message. */
async function measure(d: Deployment, load: Load, label: string, rate: number): Promise<Row> {
  const cpu0 = cpuOf(d);
  const t0 = Date.now();
  const r = await load.run(label);
  const wall = (Date.now() - t0) / 1000;
  const cpu1 = cpuOf(d);
  const serverCpu = cpu1.server - cpu0.server;
  const redisCpu = cpu1.redis - cpu0.redis;
  return {
    rate,
    sent: r.sent,
    delivered: r.delivered,
    expected: r.expected,
    deliveryPct: r.expected ? (100 * r.delivered) / r.expected : 100,
    duplicates: r.duplicates,
    misrouted: r.misrouted,
    p50ms: r.p50,
    p90ms: r.p90,
    p99ms: r.p99,
    maxms: r.max,
    throughput: r.delivered / wall,
    serverCpuPct: (100 * serverCpu) / wall,
    // The kernel's share of the server's CPU (socket writes and reads, loopback TCP): a
    // JavaScript profile does not see it.
    serverSysPct: (100 * (cpu1.serverSystem - cpu0.serverSystem)) / wall,
    redisCpuPct: (100 * redisCpu) / wall,
    cpuPerMsgUs: r.delivered ? ((serverCpu + redisCpu) * 1e6) / r.delivered : NaN,
    perServerCore: serverCpu > 0 ? r.delivered / serverCpu : NaN,
    rssMiB: d.pids.reduce((n, pid) => n + rssKiB(pid), 0) / 1024,
  };
}

async function scenarioRate(target: string, instances = 1, scenario = "rate"): Promise<Row> {
  const d = await deploy(target, instances);
  try {
    const rooms = layout(opts.rooms, opts.users, (_r, u) => d.urls[u % d.urls.length]!);
    const load = new Load(rooms, { rate: opts.rate, durationMs: opts.durationMs });
    await load.setUp();
    await load.run(`${scenario} ${target} warm-up`); // first window warms the JIT and connections
    const row = await measure(d, load, `${scenario} ${target}`, opts.rate);
    await load.close();
    return row;
  } finally {
    await d.stop();
  }
}

/**
 * The rate scenario for every target at once (--interleave): all deployed and joined, then
 * rounds of one window per target in turn; a target's load is idle while the others measure.
 * Rows by round, then by target.
 */
async function scenarioRateInterleaved(targets: string[]): Promise<Row[][]> {
  const deployments: Deployment[] = [];
  const loads: Load[] = [];
  try {
    for (const target of targets) {
      const d = await deploy(target);
      deployments.push(d);
      const load = new Load(
        layout(opts.rooms, opts.users, () => d.urls[0]!),
        { rate: opts.rate, durationMs: opts.durationMs },
      );
      loads.push(load);
      await load.setUp();
      await load.run(`rate ${target} warm-up`);
    }
    const rounds: Row[][] = [];
    for (let round = 0; round < opts.repeat; round++) {
      const rows: Row[] = [];
      for (const [i, d] of deployments.entries())
        rows.push(await measure(d, loads[i]!, `rate ${d.target} #${round + 1}/${opts.repeat}`, opts.rate));
      rounds.push(rows);
    }
    return rounds;
  } finally {
    for (const load of loads) await load.close().catch(() => {});
    for (const d of deployments) await d.stop();
  }
}

const SATURATION_STEPS = [2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 20000, 24000];

/** One step of the saturation search: a fresh deployment at `rate`, warmed up, then measured. */
async function saturateStep(target: string, rate: number): Promise<Row> {
  const d = await deploy(target);
  try {
    const load = new Load(
      layout(opts.rooms, opts.users, () => d.urls[0]!),
      { rate, durationMs: opts.stepMs },
    );
    await load.setUp();
    await load.run(`saturate ${target} @${rate}/s warm-up`); // as in rate: a cold JIT is not the subject
    const row = await measure(d, load, `saturate ${target} @${rate}/s`, rate);
    await load.close();
    return row;
  } finally {
    await d.stop();
  }
}

const passes = (row: Row) => (row.deliveryPct as number) >= 99.9 && (row.p99ms as number) < 50;

/**
 * The highest step each target passes, its row marked with the step it failed at. Targets are
 * searched in lock-step (every target at a step before the next step), so one that is searched
 * while the machine is slow is not compared with one searched while it is fast. Each row also
 * gets `commonRate`, the highest step every target passed, and `perCoreAtCommon`, its messages
 * per server CPU-second there: the per-core figures compared at one rate (a server's
 * per-message cost falls as the rate rises, so comparing each at its own highest step also
 * compares rates).
 */
async function scenarioSaturate(targets: string[]): Promise<Row[]> {
  const best = new Map<string, Row>();
  const passed = new Map<number, Map<string, Row>>();
  const searching = new Set(targets);
  for (const rate of SATURATION_STEPS) {
    for (const target of targets.filter((t) => searching.has(t))) {
      const row = await saturateStep(target, rate);
      if (passes(row)) {
        best.set(target, row);
        passed.set(rate, (passed.get(rate) ?? new Map<string, Row>()).set(target, row));
        continue;
      }
      best.set(target, { ...(best.get(target) ?? { ...row, rate: 0 }), failedAt: rate });
      searching.delete(target);
    }
    if (searching.size === 0) break;
  }
  const common = [...passed].filter(([, rows]) => rows.size === targets.length).at(-1);
  return targets.map((t) => ({
    ...(best.get(t) ?? { rate: 0 }),
    ...(common ? { commonRate: common[0], perCoreAtCommon: common[1].get(t)!.perServerCore! } : {}),
  }));
}

/**
 * memory: RSS after a full collection in the server with no connection, with half of them
 * and with all of them. What a connection keeps is the slope between half and all: the first
 * connections also pay once for what every later one shares (code compiled for the join
 * path, pools and caches warmed), which the service has more of than the floor, and which
 * a division by the connection count would spread over them (bench/RESULTS.md, tenth
 * session). The first half's figure is printed beside it.
 */
async function scenarioMemory(target: string): Promise<Row> {
  const d = await deploy(target);
  const loads: Load[] = [];
  try {
    // After a full collection: what the server keeps, not the garbage the joins left
    // behind (which depends on GC timing).
    const settledRss = async () => {
      await collectGarbage(d.pids[0]!);
      await new Promise((r) => setTimeout(r, 500));
      return rssKiB(d.pids[0]!);
    };
    await new Promise((r) => setTimeout(r, 1000));
    const before = await settledRss();
    const rooms = layout(opts.rooms, opts.users, () => d.urls[0]!);
    const half = Math.floor(rooms.length / 2);
    const rss: number[] = [];
    for (const part of [rooms.slice(0, half), rooms.slice(half)]) {
      const load = new Load(part, { rate: 0, durationMs: 0 });
      loads.push(load);
      await load.setUp();
      await new Promise((r) => setTimeout(r, 3000));
      rss.push(await settledRss());
    }
    const [mid, after] = rss as [number, number];
    const firstHalf = half * opts.users;
    const secondHalf = (rooms.length - half) * opts.users;
    return {
      connections: firstHalf + secondHalf,
      rssBeforeMiB: before / 1024,
      rssAfterMiB: after / 1024,
      kibPerConnection: (after - mid) / secondHalf,
      kibFirstHalf: (mid - before) / firstHalf,
    };
  } finally {
    for (const load of loads) await load.close();
    await d.stop();
  }
}

async function scenarioJoinStorm(target: string): Promise<Row> {
  const d = await deploy(target);
  try {
    const load = new Load(
      layout(opts.storm / opts.users, opts.users, () => d.urls[0]!),
      {
        rate: 0,
        durationMs: 0,
        joinStorm: true,
        joinHistory: target !== "floor",
      },
    );
    await load.setUp();
    const cpu0 = cpuOf(d);
    const r = await load.run(`joinstorm ${target}`);
    const cpu1 = cpuOf(d);
    await load.close();
    // CPU per join: steadier than the p99 for comparing builds, which queueing on two cores shakes.
    const perJoin = (seconds: number) => (r.delivered ? (seconds * 1e6) / r.delivered : NaN);
    return {
      joins: r.delivered,
      p50ms: r.p50,
      p99ms: r.p99,
      maxms: r.max,
      // Until chat_history: the join's end for the protocol (the bare floor sends none).
      historyP99ms: target === "floor" ? "–" : r.historyP99,
      serverUsPerJoin: perJoin(cpu1.server - cpu0.server),
      redisUsPerJoin: perJoin(cpu1.redis - cpu0.redis),
    };
  } finally {
    await d.stop();
  }
}

/**
 * departures: the rate load over a 15 s window, beside `--leavers` bystanders (idle, in rooms
 * of two) who all disconnect at once 2 s in. The service confirms their departures one grace
 * period later (DISCONNECT_GRACE_MS, 10 s by default), inside the window: the disconnect burst
 * and the departures burst must not stall delivery to the rooms that chat (p99 and max
 * against the floor's, which sees the same disconnects).
 */
async function scenarioDepartures(target: string): Promise<Row> {
  const d = await deploy(target);
  try {
    const chatting = new Load(
      layout(opts.rooms, opts.users, () => d.urls[0]!),
      { rate: opts.rate, durationMs: 15_000 },
    );
    await chatting.setUp();
    await chatting.run(`departures ${target} warm-up`);
    const bystanders = new Load(
      layout(opts.leavers / 2, 2, () => d.urls[0]!).map((room) => ({
        roomId: `idle-${room.roomId}`,
        users: room.users.map((u) => ({ ...u, userId: `idle-${u.userId}` })),
      })),
      { rate: 0, durationMs: 0 },
    );
    await bystanders.setUp();
    const leaving = new Promise<void>((resolve) => setTimeout(resolve, 2000)).then(() => bystanders.close());
    const row = await measure(d, chatting, `departures ${target}`, opts.rate);
    await leaving;
    await chatting.close();
    return { leavers: opts.leavers, ...row };
  } finally {
    await d.stop();
  }
}

async function scenarioSoak(target: string): Promise<Row[]> {
  const d = await deploy(target);
  const rows: Row[] = [];
  try {
    const window = 30_000;
    const load = new Load(
      layout(opts.rooms, opts.users, () => d.urls[0]!),
      { rate: opts.rate, durationMs: window },
    );
    await load.setUp();
    for (let t = 0; t < opts.soakSeconds * 1000; t += window) {
      const row = await measure(d, load, `soak ${target} ${t / 1000}s`, opts.rate);
      rows.push({
        atSeconds: t / 1000 + window / 1000,
        p99ms: row.p99ms ?? NaN,
        deliveryPct: row.deliveryPct ?? NaN,
        rssMiB: row.rssMiB ?? NaN,
        redisMiB: redisUsedMiB({ ports: d.redisPorts }),
      });
    }
    await load.close();
  } finally {
    await d.stop();
  }
  return rows;
}

const fmt = (v: number | string | undefined) =>
  typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1)) : (v ?? "");

/** The row of a round's floor (or of `floor`, e.g. floor-protocol) in a scenario. */
const floorOf = (scenario: string, round: number, floor = "floor") =>
  results.find((r) => r.scenario === scenario && r.target === floor && r.round === round)?.row;

const ratio = (v: unknown, base: unknown) =>
  typeof v === "number" && typeof base === "number" && base !== 0 ? v / base : undefined;

/** The median over `rows` (one target's rounds) of column `c`'s ratio to the same round's `floor`. */
const medianRatioToFloor = (rows: typeof results, c: string, floor = "floor") =>
  median(rows.map((r) => ratio(r.row[c], floorOf(r.scenario, r.round, floor)?.[c])).filter((x) => x !== undefined));

function table(scenario: string, columns: string[]): string {
  const rows = results.filter((r) => r.scenario === scenario);
  if (rows.length === 0) return "";
  const lines = [
    `### ${scenario}`,
    "",
    `| target | ${columns.join(" | ")} |`,
    `|---|${columns.map(() => "---:").join("|")}|`,
  ];
  for (const { target, row, round } of rows) {
    const floor = floorOf(scenario, round);
    const cells = columns.map((c) => {
      const r = target === "floor" ? undefined : ratio(row[c], floor?.[c]);
      return `${fmt(row[c])}${r === undefined ? "" : ` (${r.toFixed(2)}×)`}`;
    });
    lines.push(`| ${opts.repeat > 1 ? `${target} #${round + 1}` : target} | ${cells.join(" | ")} |`);
  }
  if (opts.repeat > 1) lines.push("", medianRatios(scenario, columns));
  return lines.join("\n") + "\n";
}

/**
 * With --repeat, per target and column: the median of its ratios to the floor of its own
 * round, and the ratio of its median to the floor's median (steadier when one round of either
 * was slowed by the machine).
 */
function medianRatios(scenario: string, columns: string[]): string {
  const inScenario = results.filter((r) => r.scenario === scenario);
  const floors = inScenario.filter((r) => r.target === "floor");
  const lines = [
    floors.length
      ? `Over ${opts.repeat} rounds: median of the ratios to the same round's floor / ratio of the medians:`
      : `Over ${opts.repeat} rounds: medians (no floor in this scenario):`,
    "",
    `| target | ${columns.join(" | ")} |`,
    `|---|${columns.map(() => "---:").join("|")}|`,
  ];
  for (const target of [...new Set(inScenario.map((r) => r.target))].filter((t) => t !== "floor")) {
    const rows = inScenario.filter((r) => r.target === target);
    const cells = columns.map((c) => {
      if (!floors.length) return fmt(median(rows.map((r) => r.row[c]).filter((v) => typeof v === "number")));
      const perRound = medianRatioToFloor(rows, c);
      const values = (list: typeof rows) => list.map((r) => r.row[c]).filter((v) => typeof v === "number");
      const ofMedians = ratio(median(values(rows)), median(values(floors)));
      return perRound === undefined ? "" : `${perRound.toFixed(2)}× / ${ofMedians?.toFixed(2) ?? "–"}×`;
    });
    lines.push(`| ${target} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/**
 * The service targets against floor-protocol, the bare floor sending the protocol's payloads
 * (median over rounds of the ratio to the same round's floor-protocol): what the service's own
 * work costs, apart from the frames the protocol asks for.
 */
function againstProtocolFloor(): string {
  const columns: Record<string, string[]> = { rate: ["cpuPerMsgUs", "p99ms"], joinstorm: ["p99ms", "historyP99ms"] };
  const lines: string[] = [];
  for (const [scenario, cols] of Object.entries(columns)) {
    const inScenario = results.filter((r) => r.scenario === scenario);
    if (!inScenario.some((r) => r.target === "floor-protocol")) continue;
    for (const target of new Set(inScenario.map((r) => r.target).filter((t) => !t.startsWith("floor")))) {
      const rows = inScenario.filter((r) => r.target === target);
      const cells = cols.map((c) => {
        const m = medianRatioToFloor(rows, c, "floor-protocol");
        return m === undefined ? "" : `${c} ${m.toFixed(2)}×`;
      });
      lines.push(`| ${scenario} | ${target} | ${cells.join(", ")} |`);
    }
  }
  if (!lines.length) return "";
  return [
    "### against floor-protocol (the floor sending the protocol's payloads)",
    "",
    "| scenario | target | ratios to floor-protocol |",
    "|---|---|---|",
    ...lines,
    "",
  ].join("\n");
}

async function main() {
  const started = new Date();
  for (const scenario of opts.scenarios) {
    const targets = scenario === "rate" ? rateTargets : scenario === "joinstorm" ? joinStormTargets : opts.targets;
    if (scenario === "rate" && opts.interleave) {
      const rounds = await scenarioRateInterleaved(targets);
      rounds.forEach((rows, round) =>
        rows.forEach((row, i) => results.push({ scenario, target: targets[i]!, row, round })),
      );
      continue;
    }
    for (let round = 0; round < opts.repeat; round++) {
      if (scenario === "saturate") {
        const rows = await scenarioSaturate(opts.targets);
        rows.forEach((row, i) => results.push({ scenario, target: opts.targets[i]!, row, round }));
        continue;
      }
      for (const target of targets) {
        const add = (row: Row, name = target) => results.push({ scenario, target: name, row, round });
        if (scenario === "cross" && !target.startsWith("floor"))
          add(await scenarioRate(target, 2, "cross"), `${target} ×2`);
        else if (scenario === "cross") continue;
        else if (scenario === "rate") add(await scenarioRate(target));
        else if (scenario === "memory") add(await scenarioMemory(target));
        else if (scenario === "joinstorm") add(await scenarioJoinStorm(target));
        else if (scenario === "departures") add(await scenarioDepartures(target));
        else if (scenario === "soak") for (const row of await scenarioSoak(target)) add(row);
      }
    }
  }
  progress("");
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`;
  for (const c of results.filter((r) => r.scenario === "cross")) {
    const floorRate = floorOf("rate", c.round) ?? floorOf("rate", 0);
    if (floorRate) c.row.p99VsFloorSingle = (c.row.p99ms as number) / (floorRate.p99ms as number);
  }
  const markdown = [
    `## Benchmark ${started.toISOString()}`,
    "",
    `${machine}; ${opts.rooms} rooms × ${opts.users} users, WebSocket; rate ${opts.rate} msgs/s for ${opts.durationMs / 1000} s (after a warm-up window); ratios to the floor in brackets.`,
    "",
    table("rate", [
      "deliveryPct",
      "p50ms",
      "p90ms",
      "p99ms",
      "maxms",
      "throughput",
      "serverCpuPct",
      "serverSysPct",
      "redisCpuPct",
      "cpuPerMsgUs",
      "rssMiB",
    ]),
    table("saturate", [
      "rate",
      "throughput",
      "deliveryPct",
      "p99ms",
      "serverCpuPct",
      "serverSysPct",
      "perServerCore",
      "failedAt",
      "commonRate",
      "perCoreAtCommon",
    ]),
    table("memory", ["connections", "rssBeforeMiB", "rssAfterMiB", "kibPerConnection", "kibFirstHalf"]),
    table("joinstorm", ["joins", "p50ms", "p99ms", "maxms", "historyP99ms", "serverUsPerJoin", "redisUsPerJoin"]),
    table("departures", ["leavers", "deliveryPct", "p50ms", "p99ms", "maxms", "cpuPerMsgUs"]),
    table("cross", ["deliveryPct", "duplicates", "misrouted", "p50ms", "p99ms", "p99VsFloorSingle", "cpuPerMsgUs"]),
    table("soak", ["atSeconds", "p99ms", "deliveryPct", "rssMiB", "redisMiB"]),
    againstProtocolFloor(),
  ]
    .filter(Boolean)
    .join("\n");
  console.log(markdown);
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  const file = new URL(`./results/${started.toISOString().replace(/[:.]/g, "-")}.json`, import.meta.url);
  writeFileSync(file, JSON.stringify({ started, machine, options: opts, results }, null, 2));
  console.log(`\nresults: ${file.pathname}`);
  const bad = results.filter((r) => (r.row.duplicates as number) > 0 || (r.row.misrouted as number) > 0);
  if (bad.length) {
    console.error("deliveries were duplicated or misrouted:", bad.map((b) => `${b.scenario}/${b.target}`).join(", "));
    process.exitCode = 1;
  }
}

await main();

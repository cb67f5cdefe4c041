import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { RedisCluster } from "../test/helpers/redis-cluster.js";

const root = fileURLToPath(new URL("..", import.meta.url));

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

export interface Running {
  name: string;
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

async function waitForHttp(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await fetch(url).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not start`);
}

/** SIGTERM (so a --cpu-prof profile gets written), SIGKILL after 5 s. */
const stopper = (child: ChildProcess) => () =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });

/** A private Redis for one deployment: its port, and the pids whose CPU counts as Redis's. */
export interface RunningRedis {
  port: number;
  pids: number[];
  /** Every node's port (the one node of a single Redis). */
  ports: number[];
  stop: () => Promise<void>;
}

/** Resolves once something listens on `port`. */
async function listening(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(true)); // port taken: redis is listening
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(false)));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A private redis-server (nothing on disk). */
export async function startRedis(): Promise<RunningRedis> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  await listening(port, "redis-server");
  return { port, pids: [child.pid!], ports: [port], stop: stopper(child) };
}

/**
 * A private three-master Redis Cluster (no replicas, nothing kept), as users deploy it, started
 * as the tests start theirs; the service is pointed at its first node and finds the others.
 * Its CPU is the sum of its nodes'.
 */
export async function startRedisCluster(masters = 3): Promise<RunningRedis> {
  const cluster = await RedisCluster.start(masters);
  return {
    port: cluster.port,
    pids: cluster.nodes.map((n) => n.pid!),
    ports: cluster.nodes.map((n) => n.port),
    stop: () => cluster.stop(),
  };
}

/** The memory Redis holds for its data (`used_memory`), summed over the nodes, in MiB. */
export function redisUsedMiB(redis: Pick<RunningRedis, "ports">): number {
  let bytes = 0;
  for (const port of redis.ports) {
    const info = execFileSync("redis-cli", ["-p", String(port), "info", "memory"], { encoding: "utf8" });
    bytes += Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
  }
  return bytes / 1024 / 1024;
}

/** BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", are passed to the servers (and to bench:history's runs). */
export const benchNodeArgs = () => (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);

/**
 * A server process: node with BENCH_NODE_ARGS, on the CPUs in BENCH_SERVER_CPUS when set
 * (`--pin`: the server alone on one core, the load and Redis on the other). taskset execs
 * node, so the pid is the server's. With BENCH_SERVER_STDOUT (a directory), the server's
 * output goes to `<name>.log` there (e.g. for BENCH_NODE_ARGS=--trace-gc).
 */
function spawnServer(name: string, args: string[], options: SpawnOptions, pin = true): ChildProcess {
  const dir = process.env.BENCH_SERVER_STDOUT;
  if (dir) {
    const out = openSync(`${dir}/${name}.log`, "a");
    options = { ...options, stdio: ["ignore", out, out] };
  }
  const node = [process.execPath, ...benchNodeArgs(), ...args];
  const cpus = pin ? process.env.BENCH_SERVER_CPUS : undefined;
  return cpus ? spawn("taskset", ["-c", cpus, ...node], options) : spawn(node[0]!, node.slice(1), options);
}

/**
 * bench/floor-server.ts as plain JavaScript, so that the floor runs as the service does
 * (compiled, on bare node). Under the tsx loader its resident memory started ~25 MiB higher,
 * and its connections reused what the loader had left, which made it look 8–12.5 KiB per
 * connection instead of ~13.5 (bench/RESULTS.md, memory). Written under node_modules/.cache,
 * from where its imports resolve to the project's packages.
 */
let floorFile: Promise<string> | undefined;
function compiledFloor(): Promise<string> {
  // Once per run, and TypeScript loaded only then (not by every user of this module, such as
  // bench:clients' child processes, which only start Redis).
  floorFile ??= (async () => {
    const { default: ts } = await import("typescript");
    const source = readFileSync(`${root}/bench/floor-server.ts`, "utf8");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    const dir = `${root}/node_modules/.cache/bench`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/floor-server.mjs`, outputText);
    return `${dir}/floor-server.mjs`;
  })();
  return floorFile;
}

/**
 * The bare Socket.IO floor server; `protocol`: the same sending the protocol's payloads
 * (bench/floor-server.ts, FLOOR_PAYLOAD).
 */
export async function startFloor(protocol = false): Promise<Running> {
  const port = await freePort();
  const name = protocol ? "floor-protocol" : "floor";
  const child = spawnServer(name, [await compiledFloor()], {
    cwd: root,
    env: { ...process.env, PORT: String(port), ...(protocol ? { FLOOR_PAYLOAD: "protocol" } : {}) },
    stdio: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/api/v1/chat-service/socket.io/?EIO=4&transport=polling`, child, name);
  return { name, url, pid: child.pid!, stop: stopper(child) };
}

/**
 * The chat service (dist/main.js, built) with every feature on, against `redisPort`. `DIST`
 * in `env` runs another build's main.js from that directory instead (e.g. a worktree of an
 * earlier commit, for an A/B of two builds in one interleaved run).
 */
export async function startService(
  name: string,
  redisPort: number,
  { DIST: dist = "dist", ...env }: Record<string, string> = {},
  /** false for a deployment of several instances: they would share the one pinned core. */
  pin = true,
): Promise<Running> {
  const port = await freePort();
  const child = spawnServer(
    name,
    [`${dist}/main.js`],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        PORT: String(port),
        HOST: "127.0.0.1",
        // As the Dockerfile runs it: production, and the default log level (info: a line per
        // connection, join and disconnect, which joins and mass disconnects pay for).
        NODE_ENV: "production",
        REDIS_HOST: "127.0.0.1",
        REDIS_PORT: String(redisPort),
        // The benchmark is one client address sending as fast as asked: limits raised so
        // that they are checked on every message, join and connection, and never refuse.
        RATE_MESSAGES_PER_SECOND: "100000",
        RATE_MESSAGES_BURST: "100000",
        RATE_JOINS_PER_MINUTE: "1000000",
        RATE_CONNECTIONS_PER_MINUTE: "1000000",
        ...env,
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
    pin,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/ready`, child, name);
  return { name, url, pid: child.pid!, stop: stopper(child) };
}

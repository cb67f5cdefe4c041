import type { ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { RedisKeys } from "../../src/redis/keys.js";
import { freePort } from "./ports.js";
import { spawnTracked } from "./process.js";

/**
 * A private `redis-server` for one test file, on a free port, keeping nothing on disk.
 * It can be stopped, killed and restarted (on the same port) by process id.
 */
export class RedisServer {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly extraArgs: (port: number) => string[] = () => [],
  ) {}

  /** Starts a server; `extraArgs` adds options (given the port), e.g. for a cluster node. */
  static async start(extraArgs?: (port: number) => string[]): Promise<RedisServer> {
    for (let attempt = 0; ; attempt++) {
      const server = new RedisServer(await freePort(), extraArgs);
      try {
        await server.restart();
        return server;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Starts the server (again) and resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.process) throw new Error("redis-server already running");
    const child = spawnTracked(
      "redis-server",
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--loglevel",
        "warning",
        ...this.extraArgs(this.port),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.process = child;
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`))),
    );
    exited.catch(() => {
      if (this.process === child) this.process = undefined;
    });
    await Promise.race([this.waitForPing(), exited]);
  }

  readonly cluster = false;
  /** The key layout the service uses here. */
  readonly keys = new RedisKeys();

  masters(): Promise<number[]> {
    return Promise.resolve([this.port]);
  }

  /** The keys matching a glob pattern. */
  async keysMatching(pattern: string): Promise<string[]> {
    const c = this.client();
    try {
      return await c.keys(pattern);
    } finally {
      c.disconnect();
    }
  }

  /** A new client (closed by the caller). */
  client(): Redis {
    return new Redis(this.port, "127.0.0.1", { lazyConnect: false, maxRetriesPerRequest: 1 });
  }

  async flush(): Promise<void> {
    const c = this.client();
    try {
      await c.flushall();
    } finally {
      c.disconnect();
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  freeze(): void {
    this.process?.kill("SIGSTOP");
  }

  /** Resumes a frozen server. */
  thaw(): void {
    this.process?.kill("SIGCONT");
  }

  /** Stops the server: SIGTERM by default, SIGKILL to simulate a crash. */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) {
      this.process = undefined;
      return;
    }
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    await gone;
    this.process = undefined;
  }

  private async waitForPing(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const c = new Redis(this.port, "127.0.0.1", {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      c.on("error", () => {});
      try {
        await c.connect();
        if ((await c.ping()) === "PONG") return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        c.disconnect();
      }
    }
    throw new Error(`redis-server on ${this.port} did not answer`);
  }
}

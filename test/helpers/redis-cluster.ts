import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster } from "ioredis";
import { RedisKeys } from "../../src/redis/keys.js";
import { RedisServer } from "./redis-server.js";

const run = promisify(execFile);

/**
 * A local Redis Cluster of `masters` nodes, each with `replicas` replicas, every one a
 * private `redis-server --cluster-enabled yes` on a free port, joined with `redis-cli
 * --cluster create`. Its configuration files live in a temporary directory removed by `stop`.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: RedisServer[],
    private readonly dir: string,
  ) {}

  static async start(masters = 3, replicas = 0): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), "chat-redis-cluster-"));
    const nodes = await Promise.all(
      Array.from({ length: masters * (1 + replicas) }, () =>
        RedisServer.start((port) => [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(dir, `nodes-${port}.conf`),
          "--dir",
          dir,
          // A replica takes over 1 s after its master stops answering (failover tests).
          "--cluster-node-timeout",
          "1000",
        ]),
      ),
    );
    const cluster = new RedisCluster(nodes, dir);
    try {
      await run("redis-cli", [
        "--cluster",
        "create",
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ]);
      await cluster.waitUntilOk();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  readonly cluster = true;
  /** The key layout the service uses here. */
  readonly keys = new RedisKeys("", true);

  /** The ports of the nodes that are masters now. */
  async masters(): Promise<number[]> {
    const roles = await Promise.all(
      this.nodes.map(async (n) => {
        if (!n.running) return undefined;
        const { stdout } = await run("redis-cli", ["-p", String(n.port), "role"]).catch(() => ({ stdout: "" }));
        return stdout.startsWith("master") ? n.port : undefined;
      }),
    );
    return roles.filter((p): p is number => p !== undefined);
  }

  /** The keys matching a glob pattern, on every master. */
  async keysMatching(pattern: string): Promise<string[]> {
    const found = await Promise.all(
      (await this.masters()).map(async (port) => {
        const { stdout } = await run("redis-cli", ["-p", String(port), "--raw", "keys", pattern]);
        return stdout.split("\n").filter((k) => k !== "");
      }),
    );
    return found.flat();
  }

  /** The port of the first node, enough for the service to discover the rest. */
  get port(): number {
    return this.nodes[0]!.port;
  }

  /** A cluster client (closed by the caller). */
  client(): Cluster {
    return new Cluster([{ host: "127.0.0.1", port: this.port }], { redisOptions: { maxRetriesPerRequest: 1 } });
  }

  /** Empties every master. */
  async flush(): Promise<void> {
    await Promise.all((await this.masters()).map((port) => run("redis-cli", ["-p", String(port), "flushall"])));
  }

  /** Resolves once every live node reports cluster_state:ok. */
  async waitUntilOk(nodes = this.nodes): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const states = await Promise.all(
        nodes.map(async (n) => {
          const { stdout } = await run("redis-cli", ["-p", String(n.port), "cluster", "info"]);
          return /cluster_state:ok/.test(stdout);
        }),
      );
      if (states.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error("redis cluster did not reach cluster_state:ok");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

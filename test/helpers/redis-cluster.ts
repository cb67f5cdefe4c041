import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { RedisServer } from "./redis-server.js";

const run = promisify(execFile);

/**
 * A local Redis Cluster of `masters` nodes (no replicas), each a private `redis-server
 * --cluster-enabled yes` on a free port, joined with `redis-cli --cluster create`. Its
 * configuration files live in a temporary directory removed by `stop`.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: RedisServer[],
    private readonly dir: string,
  ) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), "chat-redis-cluster-"));
    const nodes = await Promise.all(
      Array.from({ length: masters }, () =>
        RedisServer.start((port) => [
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(dir, `nodes-${port}.conf`),
          "--dir",
          dir,
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
        "0",
        "--cluster-yes",
      ]);
      await cluster.waitUntilOk();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Resolves once every node reports cluster_state:ok. */
  private async waitUntilOk(): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const states = await Promise.all(
        this.nodes.map(async (n) => {
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

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
      if (replicas > 0) await cluster.waitForReplicas();
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

  /** Resolves once every replica is in sync with its master. */
  private async waitForReplicas(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(this.nodes.map((n) => this.cli(n.port, "info", "replication")));
      const syncing = infos.filter((i) => /role:slave/.test(i) && !/master_link_status:up/.test(i));
      if (syncing.length === 0) return;
      if (Date.now() > deadline) throw new Error("redis cluster replicas did not sync");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async cli(port: number, ...args: string[]): Promise<string> {
    return (await run("redis-cli", ["-p", String(port), ...args])).stdout.trim();
  }

  /** The hash slot of a key. */
  async slotOf(key: string): Promise<number> {
    return Number(await this.cli(this.port, "cluster", "keyslot", key));
  }

  /** The node serving a slot now, as a live node sees the cluster. */
  async ownerOf(slot: number): Promise<RedisServer> {
    const live = this.nodes.find((n) => n.running)!;
    for (const line of (await this.cli(live.port, "cluster", "nodes")).split("\n")) {
      const [, address, flags, , , , , , ...slots] = line.split(" ");
      if (!flags?.includes("master") || flags.includes("fail")) continue;
      const owns = slots.some((range) => {
        if (range.startsWith("[")) return false; // a migration in progress
        const [from, to = from] = range.split("-").map(Number);
        return slot >= from! && slot <= to!;
      });
      if (owns) return this.nodes.find((n) => address!.startsWith(`127.0.0.1:${n.port}@`))!;
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /**
   * Moves a slot to another master as `redis-cli --cluster reshard` does: IMPORTING and
   * MIGRATING, its keys moved a few at a time (clients are redirected with ASK meanwhile),
   * then the slot assigned to its new owner on every master.
   */
  async migrateSlot(slot: number, to: RedisServer, onBatch?: () => Promise<void>): Promise<void> {
    const from = await this.ownerOf(slot);
    const [fromId, toId] = await Promise.all([
      this.cli(from.port, "cluster", "myid"),
      this.cli(to.port, "cluster", "myid"),
    ]);
    await this.cli(to.port, "cluster", "setslot", String(slot), "importing", fromId);
    await this.cli(from.port, "cluster", "setslot", String(slot), "migrating", toId);
    for (;;) {
      const keys = (await this.cli(from.port, "cluster", "getkeysinslot", String(slot), "2"))
        .split("\n")
        .filter(Boolean);
      if (keys.length === 0) break;
      await this.cli(from.port, "migrate", "127.0.0.1", String(to.port), "", "0", "5000", "keys", ...keys);
      await onBatch?.();
    }
    for (const port of await this.masters()) await this.cli(port, "cluster", "setslot", String(slot), "node", toId);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

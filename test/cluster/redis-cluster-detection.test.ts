import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisCluster } from "../helpers/redis-cluster.js";
import { ServiceProcess } from "../helpers/process.js";

/**
 * Pointed at a Redis Cluster node, which this version cannot use for its shared state, the
 * service says so once, at start, and /ready shows it: it never sits in memory mode silently.
 */
let redisCluster: RedisCluster;
let service: ServiceProcess;

beforeAll(async () => {
  redisCluster = await RedisCluster.start(3);
  service = await ServiceProcess.start({ REDIS_PORT: String(redisCluster.nodes[0]!.port) });
}, 60_000);
afterAll(async () => {
  await service?.kill("SIGKILL");
  await redisCluster?.stop();
});

describe("a Redis Cluster", () => {
  it("is named as the reason for memory mode, in the log and in /ready", async () => {
    const line = await service.waitForLog((l) => l.msg === "redis cannot be used: serving from memory");
    expect(String(line.reason)).toMatch(/Redis Cluster/);
    const ready = (await (await fetch(`${service.url}/ready`)).json()) as {
      mode: string;
      problems?: { roomState?: string };
    };
    expect(ready.mode).toBe("memory");
    expect(ready.problems?.roomState).toMatch(/Redis Cluster/);
  });
});

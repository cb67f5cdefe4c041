import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisCluster } from "../helpers/redis-cluster.js";
import { ServiceProcess } from "../helpers/process.js";

/**
 * Pointed at any node of a Redis Cluster, with nothing else set, the service finds out by
 * itself (REDIS_CLUSTER=auto), serves in shared mode and says so in /ready; told the
 * opposite (REDIS_CLUSTER=false), it refuses the cluster once, with the reason, rather than
 * sit in memory mode silently.
 */
let redisCluster: RedisCluster;

beforeAll(async () => {
  redisCluster = await RedisCluster.start(3);
}, 60_000);
afterAll(async () => {
  await redisCluster?.stop();
});

interface Ready {
  mode: string;
  redis: string;
  problems?: { roomState?: string };
}
const ready = async (service: ServiceProcess) => (await (await fetch(`${service.url}/ready`)).json()) as Ready;

describe("a Redis Cluster", () => {
  it("is detected from any node and used in shared mode", async () => {
    const service = await ServiceProcess.start({ REDIS_PORT: String(redisCluster.nodes[1]!.port) });
    try {
      expect(await ready(service)).toMatchObject({ mode: "shared", redis: "cluster" });
      expect(service.logs.some((l) => l.msg === "redis cannot be used: serving from memory")).toBe(false);
    } finally {
      await service.kill("SIGKILL");
    }
  });

  it("reached with REDIS_CLUSTER=false, is named as the reason for memory mode, in the log and in /ready", async () => {
    const service = await ServiceProcess.start({ REDIS_PORT: String(redisCluster.port), REDIS_CLUSTER: "false" });
    try {
      const line = await service.waitForLog((l) => l.msg === "redis cannot be used: serving from memory");
      expect(String(line.reason)).toMatch(/Redis Cluster.*REDIS_CLUSTER/);
      const body = await ready(service);
      expect(body).toMatchObject({ mode: "memory", redis: "single" });
      expect(body.problems?.roomState).toMatch(/Redis Cluster/);
    } finally {
      await service.kill("SIGKILL");
    }
  });
});

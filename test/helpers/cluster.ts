import { RedisServer } from "./redis-server.js";
import { ServiceProcess } from "./process.js";
import { startTestRedis, type TestRedis } from "./test-redis.js";

/** Timings for cluster tests: short, but with room for three processes on two cores. */
export const CLUSTER_ENV = {
  DISCONNECT_GRACE_MS: "800",
  INSTANCE_LEASE_MS: "1500",
  PRESENCE_SWEEP_MS: "100",
};
export const CLUSTER_GRACE_MS = Number(CLUSTER_ENV.DISCONNECT_GRACE_MS);
export const CLUSTER_LEASE_MS = Number(CLUSTER_ENV.INSTANCE_LEASE_MS);

/**
 * A private Redis and N real service processes pointed at it: this run's kind of Redis
 * (`start`, a single node or a Redis Cluster, see test-redis.ts), or a single redis-server
 * that the test stops, freezes or cuts (`startOnSingleNode`).
 */
export class Cluster<R extends TestRedis = TestRedis> {
  private constructor(
    readonly redis: R,
    readonly instances: ServiceProcess[],
    private readonly env: Record<string, string>,
  ) {}

  static start(n: number, env: Record<string, string> = {}): Promise<Cluster> {
    return Cluster.on(startTestRedis(), n, env);
  }

  static startOnSingleNode(n: number, env: Record<string, string> = {}): Promise<Cluster<RedisServer>> {
    return Cluster.on(RedisServer.start(), n, env);
  }

  private static async on<R extends TestRedis>(
    starting: Promise<R>,
    n: number,
    env: Record<string, string>,
  ): Promise<Cluster<R>> {
    const redis = await starting;
    const fullEnv = { ...CLUSTER_ENV, ...env, REDIS_PORT: String(redis.port) };
    const started = await Promise.allSettled(Array.from({ length: n }, () => ServiceProcess.start(fullEnv)));
    const instances = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const failed = started.find((s) => s.status === "rejected");
    if (failed) {
      await Promise.all(instances.map((p) => p.kill("SIGKILL")));
      await redis.stop();
      throw (failed as PromiseRejectedResult).reason;
    }
    return new Cluster(redis, instances, fullEnv);
  }

  /** Starts one more instance against the same Redis. */
  async add(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const p = await ServiceProcess.start({ ...this.env, ...env });
    this.instances.push(p);
    return p;
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((p) => p.kill("SIGKILL")));
    await this.redis.stop();
  }
}

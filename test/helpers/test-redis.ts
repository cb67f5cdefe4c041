import type { Cluster, Redis } from "ioredis";
import type { RedisKeys } from "../../src/redis/keys.js";
import { RedisCluster } from "./redis-cluster.js";
import { RedisServer } from "./redis-server.js";

/**
 * The Redis a suite runs against: a single node, or, when the run sets TEST_REDIS=cluster
 * (the "cluster" project of vitest.config.ts), a local three-master Redis Cluster. Either
 * way the service is pointed at `port` alone and finds out the mode by itself.
 */
export interface TestRedis {
  readonly port: number;
  readonly cluster: boolean;
  /** The key layout the service uses on it. */
  readonly keys: RedisKeys;
  /** A new client (closed by the caller). */
  client(): Redis | Cluster;
  /** The ports of the masters (the one node of a single Redis). */
  masters(): Promise<number[]>;
  /** The keys matching a glob pattern, on every node. */
  keysMatching(pattern: string): Promise<string[]>;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export const CLUSTER_MODE = process.env.TEST_REDIS === "cluster";

/** Starts this run's kind of Redis. */
export function startTestRedis(): Promise<TestRedis> {
  return CLUSTER_MODE ? RedisCluster.start(3) : RedisServer.start();
}

/** How many departures the grace index holds, over all its shards. */
export async function graceIndexSize(redis: TestRedis, client: Redis | Cluster): Promise<number> {
  const sizes = await Promise.all(redis.keys.graceShards.map((key) => client.zcard(key)));
  return sizes.reduce((a, b) => a + b, 0);
}

/** A room's stored history: its members, their byte total, and the byte count kept beside them. */
export async function storedHistory(
  client: Redis | Cluster,
  keys: RedisKeys,
  roomId: string,
): Promise<{ members: string[]; bytes: number; count: number }> {
  const members = await client.zrange(keys.history(roomId), 0, -1);
  return {
    members,
    bytes: members.reduce((n, m) => n + Buffer.byteLength(m), 0),
    count: Number(await client.get(keys.historyBytes(roomId))),
  };
}

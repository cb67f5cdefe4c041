import { defineConfig } from "vitest/config";

/**
 * Suites that run twice: on a single Redis node, and again on a local three-master Redis
 * Cluster (TEST_REDIS=cluster, see test/helpers/test-redis.ts). The other suites run once:
 * they need one mode (a single node they stop, freeze or cut) or no Redis at all.
 */
const BOTH_MODES = [
  "test/protocol/chat.test.ts",
  "test/protocol/history.test.ts",
  "test/protocol/bounds.test.ts",
  "test/protocol/malformed.test.ts",
  "test/protocol/typing-edits.test.ts",
  "test/cluster/presence.test.ts",
  "test/cluster/order.test.ts",
  "test/cluster/history-batching.test.ts",
  "test/cluster/typing-edits.test.ts",
  "test/cluster/stress.test.ts",
  "test/security/rate-limits.test.ts",
  "test/cluster/redis-keys.test.ts",
  "test/client/chat-client.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Files start their own redis-server and service processes; two cores, so keep it modest.
    maxWorkers: 2,
    // Lets the fuzz test force a collection before it compares heap sizes.
    execArgv: ["--expose-gc"],
    projects: [
      { extends: true, test: { name: "single", include: ["test/**/*.test.ts"] } },
      {
        extends: true,
        test: { name: "cluster", include: BOTH_MODES, env: { TEST_REDIS: "cluster" }, hookTimeout: 60_000 },
      },
    ],
  },
});

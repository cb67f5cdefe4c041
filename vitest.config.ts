import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Files start their own redis-server and service processes; two cores, so keep it modest.
    maxWorkers: 2,
    // Lets the fuzz test force a collection before it compares heap sizes.
    execArgv: ["--expose-gc"],
  },
});

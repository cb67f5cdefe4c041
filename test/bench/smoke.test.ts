import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

interface BenchResult {
  scenario: string;
  target: string;
  row: Record<string, number>;
}

// The benchmark itself is a script of its own (npm run bench); this only keeps it working:
// a few seconds of its smallest run (rate and a join storm of 100), the floor, the floor
// sending the protocol's payloads, and the service, every delivery checked.
describe("the benchmark", () => {
  it("runs its quick scenarios against both floors and the service, every message delivered once", async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          "--import",
          "tsx",
          "bench/run.ts",
          "--quick",
          "--scenarios",
          "rate,joinstorm",
          "--targets",
          "floor,floor-protocol,service",
        ],
        { cwd: root, timeout: 100_000 },
        (err, out) => (err ? reject(err) : resolve(out)),
      ),
    );
    const file = /results: (\S+\.json)/.exec(stdout)?.[1];
    expect(file).toBeDefined();
    const { results } = JSON.parse(readFileSync(file!, "utf8")) as { results: BenchResult[] };
    expect(results.map((r) => `${r.scenario}/${r.target}`)).toEqual([
      "rate/floor",
      "rate/floor-protocol",
      "rate/service",
      "joinstorm/floor",
      "joinstorm/floor-protocol",
      "joinstorm/service",
    ]);
    for (const { scenario, target, row } of results) {
      if (scenario === "joinstorm") {
        expect(row.joins).toBe(100);
        // Every join of a target that speaks the protocol got its chat_history, no earlier than existing_users.
        if (target !== "floor") expect(row.historyP99ms).toBeGreaterThanOrEqual(row.p50ms!);
        continue;
      }
      expect(row.sent).toBeGreaterThan(0);
      expect(row.delivered).toBe(row.expected);
      expect(row.duplicates).toBe(0);
      expect(row.misrouted).toBe(0);
      expect(row.cpuPerMsgUs).toBeGreaterThan(0);
    }
    expect(stdout).toContain("| service | 100 (1.00×)");
    expect(stdout).toMatch(/\| rate \| service \| cpuPerMsgUs [\d.]+×, p99ms [\d.]+× \|/);
    expect(stdout).toMatch(/\| joinstorm \| service \| p99ms [\d.]+×, historyP99ms [\d.]+× \|/);
  }, 130_000);
});

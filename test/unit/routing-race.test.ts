import { describe, expect, it } from "vitest";
import { retryingRoutingRace } from "../../src/redis/routing-race.js";

const routingRace = () => new Error("All keys in the pipeline should belong to the same slots allocation group");

describe("retryingRoutingRace", () => {
  it("runs again an operation the cluster client refused for a slot-map change", async () => {
    let calls = 0;
    const result = await retryingRoutingRace(async () => {
      if (++calls < 3) throw routingRace();
      return "done";
    });
    expect(result).toBe("done");
    expect(calls).toBe(3);
  });

  it("gives up after three attempts, and never retries any other error", async () => {
    let calls = 0;
    await expect(
      retryingRoutingRace(async () => {
        calls++;
        throw routingRace();
      }),
    ).rejects.toThrow(/slots allocation group/);
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      retryingRoutingRace(async () => {
        calls++;
        throw new Error("Connection is closed.");
      }),
    ).rejects.toThrow("Connection is closed.");
    expect(calls).toBe(1);
  });
});

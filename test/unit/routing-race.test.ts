import { describe, expect, it } from "vitest";
import { onRedirected, retryingRoutingRace } from "../../src/redis/routing-race.js";

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

  it("runs again an operation a node redirected, once the cluster clients' slot maps are refreshed", async () => {
    const refreshed: string[] = [];
    const unregister = onRedirected(async () => void refreshed.push("refresh"));
    try {
      for (const reply of [
        "MOVED 7837 127.0.0.1:7001",
        "ASK 7837 127.0.0.1:7001",
        "TRYAGAIN Multiple keys request during rehashing of slot",
      ]) {
        refreshed.length = 0;
        let calls = 0;
        const result = await retryingRoutingRace(async () => {
          if (++calls === 1) throw Object.assign(new Error(reply), { name: "ReplyError" });
          refreshed.push(`attempt ${calls}`);
          return "done";
        });
        expect(result).toBe("done");
        // A redirection refreshes the slot maps before the next attempt; TRYAGAIN only waits.
        expect(refreshed).toEqual(reply.startsWith("TRYAGAIN") ? ["attempt 2"] : ["refresh", "attempt 2"]);
      }
    } finally {
      unregister();
    }
    let calls = 0;
    await retryingRoutingRace(async () => {
      if (++calls === 1) throw new Error("MOVED 1 127.0.0.1:7001");
    });
    expect(refreshed).toEqual(["attempt 2"]); // unregistered: not refreshed again
  });
});

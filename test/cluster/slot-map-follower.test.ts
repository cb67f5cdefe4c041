import { Cluster } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { followSlotMap, slotMapFingerprint } from "../../src/redis/slot-map-follower.js";
import { eventually } from "../helpers/clients.js";
import { RedisCluster } from "../helpers/redis-cluster.js";

/**
 * The sharded subscriber does not poll its slot map often (each look stalls the event loop);
 * it follows the command client's: a slot that moves is known to it as soon as the command
 * client's map has the move, and an unchanged map costs it nothing.
 */
let redisCluster: RedisCluster | undefined;
const clients: Cluster[] = [];

afterEach(async () => {
  clients.splice(0).forEach((c) => c.disconnect());
  await redisCluster?.stop();
  redisCluster = undefined;
});

const a = ["127.0.0.1:7000"];
const b = ["127.0.0.1:7001", "127.0.0.1:7004"];

describe("slot map fingerprint", () => {
  it("names each run of slots served by the same nodes, whether or not ioredis shares their array", () => {
    expect(slotMapFingerprint([a, a, b, b])).toBe("0=127.0.0.1:7000;2=127.0.0.1:7001,127.0.0.1:7004;");
    expect(slotMapFingerprint([a, [...a], b, [...b]])).toBe(slotMapFingerprint([a, a, b, b]));
    expect(slotMapFingerprint([a, b, b, b])).not.toBe(slotMapFingerprint([a, a, b, b]));
    expect(slotMapFingerprint([a, a, [...b].reverse(), b])).not.toBe(slotMapFingerprint([a, a, b, b]));
    expect(slotMapFingerprint([a, undefined, a])).toBe("0=127.0.0.1:7000;1=;2=127.0.0.1:7000;");
  });
});

describe("a client following another's slot map", () => {
  it("refreshes when the source's map changes, and only then", async () => {
    redisCluster = await RedisCluster.start(3);
    const startup = [{ host: "127.0.0.1", port: redisCluster.port }];
    const source = new Cluster(startup);
    // The follower never polls by itself here: what it learns, it learns by following.
    const follower = new Cluster(startup, { slotsRefreshInterval: 0 });
    clients.push(source, follower);
    await Promise.all([source, follower].map((c) => new Promise((resolve) => c.once("ready", resolve))));
    let followerRefreshes = 0;
    follower.on("refresh", () => followerRefreshes++);
    followSlotMap([source], follower);

    const refreshSource = () =>
      new Promise<void>((resolve, reject) => source.refreshSlotsCache((err) => (err ? reject(err) : resolve())));
    await refreshSource(); // the first map seen counts as a change
    await eventually(() => followerRefreshes === 1, 5000, "the follower refreshed once");
    await refreshSource();
    await refreshSource();

    const slot = await redisCluster.slotOf("follow-me");
    const from = await redisCluster.ownerOf(slot);
    const to = redisCluster.nodes.find((n) => n !== from)!;
    expect(follower.slots[slot]![0]).toBe(`127.0.0.1:${from.port}`);
    await redisCluster.migrateSlot(slot, to);
    await refreshSource();
    await eventually(() => follower.slots[slot]![0] === `127.0.0.1:${to.port}`, 5000, "the follower sees the move");
    expect(followerRefreshes).toBe(2);
  }, 60_000);
});

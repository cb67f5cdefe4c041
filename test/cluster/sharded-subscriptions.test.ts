import { afterEach, describe, expect, it } from "vitest";
import { eventually, joined, nextEvent, type Client } from "../helpers/clients.js";
import { monitor } from "../helpers/monitor.js";
import { ServiceProcess } from "../helpers/process.js";
import { RedisCluster } from "../helpers/redis-cluster.js";

/**
 * On a Redis Cluster every hosted room has two sharded channels (Socket.IO's sharded adapter's
 * and the one-order line's). A room that empties has them unsubscribed a moment later, not at
 * once, so a mass disconnect does not send a thousand SUNSUBSCRIBEs in one burst; a room
 * hosted again meanwhile keeps them, and its broadcasts and messages still arrive.
 */
let redisCluster: RedisCluster | undefined;
const services: ServiceProcess[] = [];
const clients: Client[] = [];

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(services.splice(0).map((s) => s.kill("SIGKILL")));
  await redisCluster?.stop();
  redisCluster = undefined;
});

/** The pace's delay (src/redis/sharded-subscriptions.ts), less a margin for clock rounding. */
const RELEASE_DELAY_MS = 1000 - 50;

describe("sharded channel subscriptions", () => {
  it("are released a moment after a room empties, and kept by a room hosted again meanwhile", async () => {
    redisCluster = await RedisCluster.start(3);
    const env = { REDIS_PORT: String(redisCluster.port), DISCONNECT_GRACE_MS: "800", INSTANCE_LEASE_MS: "3000" };
    services.push(...(await Promise.all([ServiceProcess.start(env), ServiceProcess.start(env)])));
    const [a, b] = services.map((s) => s.url) as [string, string];
    const watch = await monitor(...(await redisCluster.masters()));
    const seen = (command: string, room: string) =>
      watch.commands.filter(
        (c) => c.args[0]!.toLowerCase() === command && c.args.slice(1).some((x) => x.includes(room)),
      );

    // A room split over both instances: alice leaves and is back on the same instance at once.
    const alice = await joined(a, "alice", "subs-back");
    const bob = await joined(b, "bob", "subs-back");
    clients.push(bob);
    await eventually(() => seen("ssubscribe", "subs-back").length >= 4, 10_000, "both instances subscribed");
    await alice.timeout(5000).emitWithAck("leave_session");
    alice.close();
    const aliceAgain = await joined(a, "alice", "subs-back");
    clients.push(aliceAgain);
    // The adapter's channel carries bob's typing, the one-order channel his message.
    const typing = nextEvent(aliceAgain, "user_typing");
    bob.emit("typing", { isTyping: true });
    expect(await typing).toMatchObject({ roomId: "subs-back", userId: "bob", isTyping: true });
    const message = nextEvent<{ content: string }>(aliceAgain, "receive_message");
    await bob.timeout(5000).emitWithAck("send_message", { message: { userId: "bob", content: "still here" } });
    expect((await message).content).toBe("still here");

    // A room of one instance, left: both its channels are unsubscribed, after the delay.
    const carol = await joined(a, "carol", "subs-left");
    await eventually(() => seen("ssubscribe", "subs-left").length === 2, 10_000, "the room's channels subscribed");
    const leftAt = Date.now();
    await carol.timeout(5000).emitWithAck("leave_session");
    carol.close();
    await eventually(() => seen("sunsubscribe", "subs-left").length === 2, 10_000, "the room's channels released");
    for (const c of seen("sunsubscribe", "subs-left")) expect(c.at - leftAt).toBeGreaterThanOrEqual(RELEASE_DELAY_MS);
    // Released before carol's room, the split room's channels would have gone by now.
    expect(seen("sunsubscribe", "subs-back")).toEqual([]);
    watch.stop();
  }, 60_000);
});

import calculateSlot from "cluster-key-slot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../helpers/cluster.js";
import { connect, eventually, join, joined, nextEvent, record, type Client } from "../helpers/clients.js";
import { monitor, type MonitoredCommand } from "../helpers/monitor.js";

/**
 * What the service asks of Redis, watched with MONITOR on every master while two instances
 * go through a session that runs every script of the message and presence paths: each
 * script touches only the keys it declares in KEYS (or, declaring none, names in its
 * arguments), and (on a Redis Cluster) the keys of one multi-key command or of one script's
 * KEYS share a hash slot. On a cluster Redis would refuse a cross-slot call anyway; this
 * names the culprit, and holds single-node mode to the same rule.
 */
let cluster: Cluster;
const clients: Client[] = [];
/** What each master saw, in its own order (a script's commands follow its EVALSHA). */
let seen: MonitoredCommand[][] = [];
let stopWatching: () => void = () => {};

beforeAll(async () => {
  cluster = await Cluster.start(2);
  const watches = await Promise.all((await cluster.redis.masters()).map((port) => monitor(port)));
  seen = watches.map((w) => w.commands);
  stopWatching = () => watches.forEach((w) => w.stop());
}, 60_000);
afterAll(async () => {
  stopWatching();
  clients.forEach((c) => c.close());
  await cluster.stop();
});

/** Commands that name no key (or whose first argument is a channel). */
const KEYLESS = /^(time|publish|spublish|info|ping|client|select|script|cluster|subscribe|ssubscribe|psubscribe)$/i;
/** Commands whose every argument is a key. */
const ALL_KEYS = /^(del|unlink|exists|mget|touch)$/i;

/** The keys a command names, for the commands the service sends. */
function keysOf(args: string[]): string[] {
  const name = args[0]!;
  if (KEYLESS.test(name)) return [];
  if (/^eval(sha)?(_ro)?$/i.test(name)) return args.slice(3, 3 + Number(args[2]));
  if (ALL_KEYS.test(name)) return args.slice(1);
  return args.length > 1 ? [args[1]!] : [];
}

async function session(): Promise<void> {
  const [a, b] = cluster.instances.map((p) => p.url) as [string, string];
  // A room split over both instances: joins, the hosts protocol, one-order sends with claims.
  const alice = await joined(a, "alice", "slots-split");
  const bob = await joined(b, "bob", "slots-split");
  clients.push(alice, bob);
  const atAlice = record<{ eventType: string }>(alice, "system_message");
  await alice.emitWithAck("send_message", { message: { userId: "alice", content: "hi", clientMessageId: "c-1" } });
  await bob.emitWithAck("send_message", { message: { userId: "bob", content: "hey" } });
  // A room of one instance: batched appends, an edit and a delete.
  const carol = await joined(a, "carol", "slots-local");
  clients.push(carol);
  const sent = (await carol.emitWithAck("send_message", { message: { userId: "carol", content: "one" } })) as {
    id: string;
  };
  // A second write to the room's node: the first connected the history writer to it.
  await carol.emitWithAck("send_message", { message: { userId: "carol", content: "two" } });
  await carol.emitWithAck("edit_message", { id: sent.id, content: "uno" });
  await carol.emitWithAck("delete_message", { id: sent.id });
  // A catch-up read of history.
  const reader = await connect(a);
  clients.push(reader);
  const history = nextEvent(reader, "chat_history");
  await join(reader, "reader", "slots-local");
  await history;
  // A drop confirmed after the grace period (drop, grace index, sweep), and a leave.
  bob.close();
  await eventually(() => atAlice.some((m) => m.eventType === "disconnect"), 10_000, "bob's departure");
  alice.emit("leave_session");
  // A drained instance releases its rooms.
  const dave = await joined(b, "dave", "slots-drained");
  clients.push(dave);
  await cluster.instances[1]!.kill("SIGTERM");
}

describe("redis keys of every operation", () => {
  it("scripts touch only the keys they are given, and one operation's keys share a slot", async () => {
    await session();
    const scriptCalls: string[][] = [];
    for (const commands of seen) {
      let declared: Set<string> | undefined;
      for (const { args, source } of commands) {
        if (source === "lua") {
          for (const key of keysOf(args)) {
            expect(declared?.has(key), `${args.join(" ")} in a script declaring ${[...(declared ?? [])]}`).toBe(true);
          }
          continue;
        }
        const keys = keysOf(args);
        declared = /^eval/i.test(args[0]!) ? new Set(keys) : undefined;
        // A script that declares no key names the keys it reaches in its arguments: on a
        // cluster, the per-node history append (RedisHistoryStore.sendToNode) carries every
        // room of its node that way. Never a key it makes up.
        if (declared && keys.length === 0) args.slice(3).forEach((arg) => declared!.add(arg));
        if (declared) scriptCalls.push(args);
        if (cluster.redis.cluster && keys.length > 1) {
          expect(new Set(keys.map((k) => calculateSlot(k))).size, `${args.join(" ")}: keys on several slots`).toBe(1);
        }
      }
    }
    // The session did run scripts, on the room keys of the service's layout.
    expect(scriptCalls.length).toBeGreaterThan(10);
    expect(scriptCalls.some((c) => c.includes(cluster.redis.keys.room("slots-split")))).toBe(true);
    expect(scriptCalls.some((c) => c.includes(cluster.redis.keys.history("slots-local")))).toBe(true);
    // On a cluster, a history write did go to its node as one call naming its rooms' keys.
    const perNode = scriptCalls.filter((c) => c[2] === "0" && c.includes(cluster.redis.keys.history("slots-local")));
    expect(perNode.length > 0).toBe(cluster.redis.cluster);
  }, 60_000);
});

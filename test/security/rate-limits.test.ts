import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../helpers/cluster.js";
import { connect, disconnected, eventually, joined, record, tryConnect, type Client } from "../helpers/clients.js";

let cluster: Cluster;
let a: string;
let b: string;
const clients: Client[] = [];

beforeAll(async () => {
  cluster = await Cluster.start(2, {
    RATE_JOINS_PER_MINUTE: "4",
    RATE_CONNECTIONS_PER_MINUTE: "30",
    RATE_MESSAGES_PER_SECOND: "5",
    RATE_MESSAGES_BURST: "5",
    RATE_ABUSE_DISCONNECT_AFTER: "20",
  });
  [a, b] = cluster.instances.map((p) => p.url) as [string, string];
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster.stop();
});

describe("rate limits", () => {
  it("limits messages per connection: refused with an error, the connection kept", async () => {
    const sender = await joined(a, "fast", "rl-1");
    const listener = await joined(b, "listener", "rl-1");
    clients.push(sender, listener);
    const got = record(listener, "receive_message");
    const acks = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        sender.emitWithAck("send_message", { message: { userId: "fast", content: `m${i}` } }),
      ),
    );
    const refused = acks.filter((x) => !x.ok);
    expect(acks.filter((x) => x.ok).length).toBeGreaterThanOrEqual(5);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(refused[0]).toMatchObject({ ok: false, error: { code: "RATE_LIMITED" } });
    expect(sender.connected).toBe(true);
    await eventually(() => got.length === acks.filter((x) => x.ok).length);
    await new Promise((r) => setTimeout(r, 300));
    expect(got.length).toBe(acks.filter((x) => x.ok).length);
  });

  it("closes a connection that keeps exceeding the rate", async () => {
    const spammer = await joined(a, "spammer", "rl-2");
    clients.push(spammer);
    const gone = disconnected(spammer);
    for (let i = 0; i < 60; i++) spammer.emit("send_message", { message: { userId: "spammer", content: `s${i}` } });
    expect(await gone).toBe("io server disconnect");
  });

  it("limits joins per user across instances", async () => {
    const onA = await connect(a);
    const onB = await connect(b);
    clients.push(onA, onB);
    const results: boolean[] = [];
    for (const [socket, room] of [
      [onA, "j1"],
      [onB, "j2"],
      [onA, "j3"],
      [onB, "j4"],
      [onA, "j5"],
      [onB, "j6"],
    ] as const) {
      const ack = await socket.emitWithAck("join_room", { userId: "joiner", username: "J", roomId: room });
      results.push(ack.ok);
      if (!ack.ok) expect(ack.error.code).toBe("RATE_LIMITED");
    }
    expect(results).toEqual([true, true, true, true, false, false]);
  });

  it("limits new connections per IP across instances", async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) outcomes.push(await tryConnect(i % 2 === 0 ? a : b, {}, clients));
    // Earlier tests in this file already used some of the 30 allowed this minute.
    expect(outcomes.filter((o) => o === "connected").length).toBeLessThan(30);
    expect(outcomes.at(-1)).toBe("rate limited: too many connections from this address");
  });
});

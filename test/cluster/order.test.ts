import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../helpers/cluster.js";
import { connect, eventually, joined, nextEvent, record, type Client } from "../helpers/clients.js";

/**
 * One order per room, everywhere: members on different instances see a room's messages in
 * one order, ascending in id, which is also the history's, even when senders on two
 * instances send at the same time.
 */
let cluster: Cluster;
const clients: Client[] = [];

beforeAll(async () => {
  cluster = await Cluster.start(2);
});
afterEach(() => clients.splice(0).forEach((c) => c.close()));
afterAll(async () => {
  await cluster.stop();
});

async function on(instance: number, userId: string, roomId: string): Promise<Client> {
  const c = await joined(cluster.instances[instance]!.url, userId, roomId);
  clients.push(c);
  return c;
}
const ids = (messages: { id: string }[]) => messages.map((m) => m.id);

describe("one order per room", () => {
  it("members on both instances see concurrent senders' messages in one order, the history's", async () => {
    const room = "order-1";
    const alice = await on(0, "alice", room);
    const carol = await on(0, "carol", room);
    const bob = await on(1, "bob", room);
    const dave = await on(1, "dave", room);
    // Both instances know the room is shared once a message crosses each way, and every
    // member has it.
    const warmedUp = [carol, dave].map((c) => nextEvent(c, "receive_message", (m) => m.content === "warm-up b"));
    const toBob = nextEvent(bob, "receive_message");
    await alice.emitWithAck("send_message", { message: { userId: "alice", content: "warm-up a" } });
    await toBob;
    const toAlice = nextEvent(alice, "receive_message");
    await bob.emitWithAck("send_message", { message: { userId: "bob", content: "warm-up b" } });
    await toAlice;
    await Promise.all(warmedUp);

    const atCarol = record(carol, "receive_message");
    const atDave = record(dave, "receive_message");
    const atAlice = record(alice, "receive_message");
    const atBob = record(bob, "receive_message");
    const N = 40;
    const acks: Promise<{ id: string }>[] = [];
    for (let i = 0; i < N; i++) {
      acks.push(alice.emitWithAck("send_message", { message: { userId: "alice", content: `a${i}` } }));
      acks.push(bob.emitWithAck("send_message", { message: { userId: "bob", content: `b${i}` } }));
    }
    const acked = await Promise.all(acks);
    await eventually(
      () => atCarol.length === 2 * N && atDave.length === 2 * N,
      10_000,
      "every message at carol and dave",
    );
    await eventually(() => atAlice.length === N && atBob.length === N, 10_000, "each sender's messages at the other");

    const order = ids(atCarol);
    expect(ids(atDave)).toEqual(order);
    expect([...order].sort()).toEqual(order);
    expect(new Set(order)).toEqual(new Set(acked.map((a) => a.id)));
    // Each sender sees the other's messages in that order too, and its own acks name them.
    expect(ids(atAlice)).toEqual(order.filter((id) => atBob.every((m) => m.id !== id)));
    expect(ids(atBob)).toEqual(order.filter((id) => atAlice.every((m) => m.id !== id)));
    // A sender's own messages keep their order.
    const contents = atCarol.map((m) => m.content as string);
    expect(contents.filter((c) => c.startsWith("a"))).toEqual(Array.from({ length: N }, (_, i) => `a${i}`));
    expect(contents.filter((c) => c.startsWith("b"))).toEqual(Array.from({ length: N }, (_, i) => `b${i}`));

    // The history has the same order.
    const reader = await connect(cluster.instances[1]!.url);
    clients.push(reader);
    const ack = await reader.emitWithAck("join_room", { userId: "erin", username: "Erin", roomId: room });
    expect(ids(ack.messages).slice(-2 * N)).toEqual(order);
  });
});

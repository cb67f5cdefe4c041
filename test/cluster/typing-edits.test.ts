import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cluster } from "../helpers/cluster.js";
import { joined, nextEvent, type Client } from "../helpers/clients.js";

/** Typing, edits and deletes reach the room's sockets on every instance. */
let cluster: Cluster;
const clients: Client[] = [];

beforeAll(async () => {
  cluster = await Cluster.start(2, { TYPING_TIMEOUT_MS: "800" });
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

describe("across instances", () => {
  it("relays typing, edits and deletes to members on the other instance, and history agrees", async () => {
    const room = "cross-typing-1";
    const alice = await on(0, "alice", room);
    const bob = await on(1, "bob", room);
    // Bob's instance hosts the room now: a message from alice reaches him.
    const first = nextEvent(bob, "receive_message");
    const sent = await alice.emitWithAck("send_message", { message: { userId: "alice", content: "hello" } });
    await first;

    const typing = nextEvent(bob, "user_typing");
    alice.emit("typing", { isTyping: true });
    expect(await typing).toMatchObject({ roomId: room, userId: "alice", isTyping: true });
    const stopped = nextEvent(bob, "user_typing", (t) => t.isTyping === false, 5000);
    expect(await stopped).toMatchObject({ userId: "alice", isTyping: false });

    const updated = nextEvent(bob, "message_updated");
    expect(await alice.emitWithAck("edit_message", { id: sent.id, content: "hello, edited" })).toMatchObject({
      ok: true,
    });
    expect(await updated).toMatchObject({ id: sent.id, content: "hello, edited" });
    // Bob cannot edit Alice's message from his instance either.
    expect(await bob.emitWithAck("edit_message", { id: sent.id, content: "mine" })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN" },
    });
    const deleted = nextEvent(bob, "message_deleted");
    expect(await alice.emitWithAck("delete_message", { id: sent.id })).toMatchObject({ ok: true });
    expect(await deleted).toMatchObject({ id: sent.id, roomId: room });

    const reader = await joined(cluster.instances[1]!.url, "dave", room);
    clients.push(reader);
    const ack = await reader.emitWithAck("join_room", { userId: "dave", username: "Dave", roomId: room });
    expect(ack.messages).toEqual([{ id: sent.id, roomId: room, deleted: true, deletedAt: expect.any(Number) }]);
  });
});

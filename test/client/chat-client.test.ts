import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChatClient, type ChatClientOptions, type ClientMessage } from "../../client/src/index.js";
import { Cluster } from "../helpers/cluster.js";
import { RedisServer } from "../helpers/redis-server.js";
import { startService, type RunningService } from "../helpers/service.js";

/** The typed client against a real service and a real Redis. */
const clients: ChatClient[] = [];

function open(url: string, userId: string, roomId: string, extra: Partial<ChatClientOptions> = {}): ChatClient {
  const c = new ChatClient({
    url,
    userId,
    username: userId.toUpperCase(),
    roomId,
    ackTimeoutMs: 2000,
    socket: { transports: ["websocket"], forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 200 },
    ...extra,
  });
  clients.push(c);
  return c;
}

/** Resolves once `check` holds for the client (checked at every change), or fails naming `what`. */
function until(client: ChatClient, check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const off = client.on("change", () => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

const contents = (c: ChatClient) => c.messages.map((m: ClientMessage) => ("deleted" in m ? "(deleted)" : m.content));
const sent = (c: ChatClient) => c.messages.filter((m) => m.state === "sent");
const connected = (c: ChatClient) => until(c, () => c.connectionState === "connected", `${c.socket.id} connected`);
/** Cuts the client's connection as a network would (it reconnects by itself). */
const dropConnection = (c: ChatClient) => c.socket.io.engine.close();

afterEach(() => clients.splice(0).forEach((c) => c.close()));

describe("ChatClient, one instance", () => {
  let redisServer: RedisServer;
  let svc: RunningService;
  let seq = 0;
  const newRoom = () => `client-${++seq}`;

  beforeAll(async () => {
    redisServer = await RedisServer.start();
    svc = await startService({ REDIS_PORT: String(redisServer.port), HISTORY_LIMIT: "5" });
  });
  afterAll(async () => {
    await svc.stop();
    await redisServer.stop();
  });

  it("rejoins after a dropped connection and catches up on exactly what it missed", async () => {
    const room = newRoom();
    const alice = open(svc.url, "alice", room);
    const bob = open(svc.url, "bob", room);
    await Promise.all([connected(alice), connected(bob)]);
    bob.send("one");
    await until(alice, () => contents(alice).includes("one"), "one at alice");
    dropConnection(alice);
    await until(alice, () => alice.connectionState === "reconnecting", "alice reconnecting");
    bob.send("two");
    bob.send("three");
    await until(bob, () => sent(bob).length === 3, "bob's sends acknowledged");
    await until(alice, () => contents(alice).length === 3, "alice caught up");
    expect(contents(alice)).toEqual(["one", "two", "three"]);
    expect(alice.presence.get("bob")).toBe("BOB");
  });

  it("sends what was typed while offline once the room is joined again, exactly once", async () => {
    const room = newRoom();
    const alice = open(svc.url, "alice", room);
    const bob = open(svc.url, "bob", room);
    await Promise.all([connected(alice), connected(bob)]);
    dropConnection(alice);
    await until(alice, () => alice.connectionState === "reconnecting", "alice reconnecting");
    alice.send("typed offline");
    expect(alice.messages.map((m) => m.state)).toEqual(["pending"]);
    await until(alice, () => sent(alice).length === 1, "the offline message acknowledged");
    await until(bob, () => contents(bob).includes("typed offline"), "the offline message at bob");
    expect(contents(bob)).toEqual(["typed offline"]);
    expect(alice.messages[0]!.id).toBe(bob.messages[0]!.id);
  });

  it("shows edits, deletes and typing, and refusals as failed sends", async () => {
    const room = newRoom();
    const alice = open(svc.url, "alice", room);
    const bob = open(svc.url, "bob", room);
    await Promise.all([connected(alice), connected(bob)]);
    alice.setTyping(true);
    await until(bob, () => bob.typing.get("alice") === "ALICE", "alice typing at bob");
    alice.send("draft");
    await until(bob, () => contents(bob).includes("draft") && bob.typing.size === 0, "draft at bob, typing ended");
    await until(alice, () => sent(alice).length === 1, "draft acknowledged");
    const id = sent(alice)[0]!.id;
    await alice.edit(id, "final");
    await until(bob, () => contents(bob)[0] === "final", "the edit at bob");
    await expect(bob.edit(id, "mine now")).rejects.toMatchObject({ code: "FORBIDDEN" });
    await alice.delete(id);
    await until(bob, () => contents(bob)[0] === "(deleted)", "the delete at bob");
    expect(contents(alice)).toEqual(["(deleted)"]);

    alice.send("x".repeat(6000)); // over MAX_MESSAGE_LENGTH
    await until(alice, () => alice.messages.some((m) => m.state === "failed"), "the refused send failed");
    const failed = alice.messages.find((m) => m.state === "failed");
    expect(failed && "error" in failed ? failed.error?.code : undefined).toBe("MESSAGE_TOO_LONG");
  });

  it("tells the app when a rejoin could not catch up completely", async () => {
    const room = newRoom();
    const alice = open(svc.url, "alice", room);
    const bob = open(svc.url, "bob", room);
    await Promise.all([connected(alice), connected(bob)]);
    bob.send("seen");
    await until(alice, () => contents(alice).includes("seen"), "seen at alice");
    let gaps = 0;
    alice.on("discontinuity", () => gaps++);
    // Offline until told otherwise (a dropped connection would come back at once).
    alice.socket.disconnect();
    for (let i = 0; i < 7; i++) bob.send(`missed ${i}`); // HISTORY_LIMIT is 5
    await until(bob, () => sent(bob).length === 8, "bob's sends acknowledged");
    alice.socket.connect();
    await until(alice, () => contents(alice).includes("missed 6"), "the newest at alice");
    expect(gaps).toBe(1);
  });
});

describe("ChatClient, two instances", () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start(2);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("holds one order on every instance, the history's", async () => {
    const room = "client-order";
    const [a, b] = cluster.instances.map((i) => i.url) as [string, string];
    const alice = open(a, "alice", room);
    const bob = open(b, "bob", room);
    await Promise.all([connected(alice), connected(bob)]);
    for (let i = 0; i < 20; i++) {
      alice.send(`a${i}`);
      bob.send(`b${i}`);
    }
    await until(alice, () => sent(alice).length === 40, "40 messages at alice");
    await until(bob, () => sent(bob).length === 40, "40 messages at bob");
    expect(sent(alice).map((m) => m.id)).toEqual(sent(bob).map((m) => m.id));
    const late = open(b, "carol", room);
    await until(late, () => sent(late).length === 40, "the history at carol");
    expect(sent(late).map((m) => m.id)).toEqual(sent(alice).map((m) => m.id));
  });

  it("retries a send across a server restart and delivers it once", async () => {
    const room = "client-restart";
    const server = cluster.instances[0]!;
    const alice = open(server.url, "alice", room);
    const bob = open(cluster.instances[1]!.url, "bob", room);
    await Promise.all([connected(alice), connected(bob)]);
    await server.kill("SIGTERM");
    await until(alice, () => alice.connectionState !== "connected", "alice cut off");
    alice.send("while the server restarts");
    await server.restart();
    await until(alice, () => sent(alice).length === 1, "acknowledged after the restart");
    await until(bob, () => contents(bob).includes("while the server restarts"), "delivered to bob");
    expect(contents(bob)).toEqual(["while the server restarts"]);
  });
});

describe("ChatClient with token auth", () => {
  const SECRET = "a-test-secret-of-enough-length";
  let svc: RunningService;

  beforeAll(async () => {
    svc = await startService({ AUTH_JWT_SECRET: SECRET });
  });
  afterAll(async () => {
    await svc.stop();
  });

  it("asks for a fresh token at every connection", async () => {
    const { SignJWT } = await import("jose");
    let issued = 0;
    const token = () => {
      issued++;
      return new SignJWT({ username: "Ada" })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("ada")
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(SECRET));
    };
    const ada = open(svc.url, "ada", "client-auth", { token });
    await connected(ada);
    expect(issued).toBe(1);
    dropConnection(ada);
    await until(ada, () => ada.connectionState === "reconnecting", "ada reconnecting");
    await connected(ada);
    expect(issued).toBe(2);
  });
});

import { afterAll, beforeAll, describe, it } from "vitest";
import { createElement } from "react";
import TestRenderer, { act } from "react-test-renderer";
import { useChat, type ChatState } from "../../client/src/react.js";
import { RedisServer } from "../helpers/redis-server.js";
import { startService, type RunningService } from "../helpers/service.js";
import { eventually } from "../helpers/clients.js";

/** The React binding, rendered (react-test-renderer) against a real service. */
let redisServer: RedisServer;
let svc: RunningService;

beforeAll(async () => {
  redisServer = await RedisServer.start();
  svc = await startService({ REDIS_PORT: String(redisServer.port) });
});
afterAll(async () => {
  await svc.stop();
  await redisServer.stop();
});

/** Renders a component using useChat and keeps the latest state it rendered with. */
function renderChat(userId: string, roomId: string) {
  const seen: { state?: ChatState } = {};
  function Chat() {
    seen.state = useChat({
      url: svc.url,
      userId,
      username: userId.toUpperCase(),
      roomId,
      socket: { transports: ["websocket"], forceNew: true },
    });
    return createElement("ul", null, ...seen.state.messages.map((m) => createElement("li", { key: m.id }, m.id)));
  }
  let renderer!: TestRenderer.ReactTestRenderer;
  act(() => {
    renderer = TestRenderer.create(createElement(Chat));
  });
  return { seen, unmount: () => act(() => renderer.unmount()) };
}

describe("useChat", () => {
  it("renders the room's messages, presence and connection, and sends through the outbox", async () => {
    (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
    const alice = renderChat("alice", "react-1");
    const bob = renderChat("bob", "react-1");
    await eventually(() => alice.seen.state?.connectionState === "connected", 5000, "alice connected");
    await eventually(() => bob.seen.state?.presence.has("alice") === true, 5000, "alice present for bob");
    alice.seen.state!.send("from a hook");
    await eventually(
      () => bob.seen.state!.messages.some((m) => "content" in m && m.content === "from a hook"),
      5000,
      "the message rendered at bob",
    );
    alice.unmount();
    bob.unmount();
  });
});

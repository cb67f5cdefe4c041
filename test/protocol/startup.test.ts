import { afterAll, describe, expect, it } from "vitest";
import { ServiceProcess, runToExit } from "../helpers/process.js";
import { joined, nextEvent, systemEvent } from "../helpers/clients.js";
import { testEnv } from "../helpers/service.js";

const started: ServiceProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.kill("SIGKILL")));
});

describe("start-up", () => {
  it("listens within 5 s in memory mode when Redis is unreachable, and serves chat", async () => {
    const t0 = Date.now();
    // Port 1 refuses connections; REDIS_CONNECT_TIMEOUT_MS stays at its default here.
    const svc = await ServiceProcess.start({ REDIS_PORT: "1", REDIS_CONNECT_TIMEOUT_MS: "" });
    started.push(svc);
    expect(Date.now() - t0).toBeLessThan(5000);
    const health = await (await fetch(`${svc.url}/health`)).json();
    expect(health).toMatchObject({ status: "ok", service: "chat-service", mode: "memory" });
    await svc.waitForLog((l) => l.level === 40 && String(l.msg).includes("redis unreachable at start"));

    const alice = await joined(svc.url, "alice", "r");
    const arrived = nextEvent(alice, "system_message", systemEvent("connect", "bob"));
    const bob = await joined(svc.url, "bob", "r");
    await arrived;
    const got = nextEvent(bob, "receive_message");
    alice.emit("send_message", { message: { userId: "alice", content: "memory mode works" } });
    expect((await got).content).toBe("memory mode works");
    alice.close();
    bob.close();
  });

  it("listens within 5 s when the Redis host does not answer at all", async () => {
    const t0 = Date.now();
    // 10.255.255.1 is unroutable: the connection attempt hangs instead of being refused.
    const svc = await ServiceProcess.start({ REDIS_HOST: "10.255.255.1", REDIS_CONNECT_TIMEOUT_MS: "" });
    started.push(svc);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await fetch(`${svc.url}/health`)).status).toBe(200);
  });

  it("SIGTERM exits promptly with code 0", async () => {
    const svc = await ServiceProcess.start({ REDIS_PORT: "1" });
    expect(await svc.kill("SIGTERM")).toBe(0);
  });
});

describe("configuration", () => {
  it.each([
    ["PORT", "not-a-port"],
    ["PORT", "70000"],
    ["DISCONNECT_GRACE_MS", "-5"],
    ["REDIS_TLS_ENABLED", "maybe"],
    ["CORS_ORIGINS", "not a url"],
    ["REDIS_URL", "http://wrong"],
    ["LOG_LEVEL", "loud"],
    ["MAX_MESSAGE_LENGTH", "0"],
  ])("a bad %s (%s) stops start-up with a message naming it", async (name, value) => {
    const { code, output } = await runToExit(testEnv({ [name]: value }));
    expect(code).toBe(1);
    expect(output).toContain(name);
  });
});

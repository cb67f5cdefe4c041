import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { io } from "socket.io-client";
import { startService, type RunningService } from "../helpers/service.js";
import { SOCKET_PATH, connect } from "../helpers/clients.js";

let svc: RunningService;

beforeAll(async () => {
  // No Redis here: these checks hold in memory mode too.
  svc = await startService({ CORS_ORIGINS: "http://localhost:5173", FRONTEND_ORIGIN: "https://chat.example.org" });
});
afterAll(() => svc.stop());

/** Tries a handshake from `origin` over one transport; resolves whether it connected. */
function handshake(transport: "websocket" | "polling", origin?: string, url = svc.url): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = io(url, {
      path: SOCKET_PATH,
      transports: [transport],
      forceNew: true,
      reconnection: false,
      ...(origin ? { extraHeaders: { Origin: origin } } : {}),
    });
    socket.once("connect", () => {
      socket.close();
      resolve(true);
    });
    socket.once("connect_error", () => {
      socket.close();
      resolve(false);
    });
  });
}

describe("HTTP", () => {
  it("GET /health answers the seed's liveness body", async () => {
    const res = await fetch(`${svc.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", service: "chat-service", mode: "memory" });
  });

  it("GET /ready reports readiness, mode and instance", async () => {
    const res = await fetch(`${svc.url}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ready", mode: "memory", instanceId: svc.service.instanceId });
  });

  it("answers unknown paths with 404", async () => {
    expect((await fetch(`${svc.url}/nope`)).status).toBe(404);
  });
});

describe("origin allow-list", () => {
  for (const transport of ["websocket", "polling"] as const) {
    it(`refuses a foreign browser origin over ${transport}`, async () => {
      expect(await handshake(transport, "https://evil.example.com")).toBe(false);
    });
    it(`accepts allowed origins and no origin over ${transport}`, async () => {
      expect(await handshake(transport, "http://localhost:5173")).toBe(true);
      expect(await handshake(transport, "https://chat.example.org")).toBe(true);
      expect(await handshake(transport)).toBe(true);
    });
  }

  it("accepts pages the service served itself (same origin) only while it serves the demo page", async () => {
    // Without the demo page, Origin = Host proves nothing (DNS rebinding): refused.
    const self = `http://127.0.0.1:${svc.port}`;
    expect(await handshake("websocket", self)).toBe(false);
    expect(await handshake("polling", self)).toBe(false);
    const demo = await startService({ CORS_ORIGINS: "http://localhost:5173", DEMO_PAGE: "true" });
    try {
      const demoSelf = `http://127.0.0.1:${demo.port}`;
      expect(await handshake("websocket", demoSelf, demo.url)).toBe(true);
      expect(await handshake("polling", demoSelf, demo.url)).toBe(true);
      expect(await handshake("websocket", `http://127.0.0.1:${demo.port + 1}`, demo.url)).toBe(false);
    } finally {
      await demo.stop();
    }
  });

  it("sends CORS headers to allowed origins only", async () => {
    const url = `${svc.url}${SOCKET_PATH}/?EIO=4&transport=polling`;
    const ok = await fetch(url, { headers: { Origin: "http://localhost:5173" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    const bad = await fetch(url, { headers: { Origin: "https://evil.example.com" } });
    expect(bad.status).toBe(403);
    expect(bad.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("still serves after refusals", async () => {
    const c = await connect(svc.url);
    expect(c.connected).toBe(true);
    c.close();
  });
});

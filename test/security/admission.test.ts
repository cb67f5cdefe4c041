import { afterEach, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { io } from "socket.io-client";
import { startService, type RunningService } from "../helpers/service.js";
import {
  SOCKET_PATH,
  connect,
  tryConnect,
  disconnected,
  eventually,
  join,
  nextEvent,
  type Client,
} from "../helpers/clients.js";

/** Who may hold a connection, and for how long. */
const services: RunningService[] = [];
const clients: Client[] = [];

async function service(env: Record<string, string>): Promise<RunningService> {
  const svc = await startService(env);
  services.push(svc);
  return svc;
}

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(services.splice(0).map((s) => s.stop()));
});

describe("admission", () => {
  it("refuses connections past the instance's cap with a clear connect_error", async () => {
    const svc = await service({ MAX_CONNECTIONS: "2" });
    expect(await tryConnect(svc.url, {}, clients)).toBe("connected");
    expect(await tryConnect(svc.url, {}, clients)).toBe("connected");
    expect(await tryConnect(svc.url, {}, clients)).toMatch(/^server full/);
    clients.shift()!.close();
    // Once the server has seen the close, there is room again.
    await eventually(
      async () => (await tryConnect(svc.url, {}, clients)) === "connected",
      5000,
      "a connection after one closed",
    );
  });

  it("closes a connection that does not join in time, and keeps the ones that did", async () => {
    // Long enough for the member to join on a loaded machine.
    const svc = await service({ JOIN_TIMEOUT_MS: "1000" });
    const idle = await connect(svc.url);
    const member = await connect(svc.url);
    clients.push(idle, member);
    await join(member, "member", "admission-1");
    const notice = nextEvent(idle, "chat_error");
    expect(await disconnected(idle)).toBe("io server disconnect");
    expect(await notice).toMatchObject({ code: "JOIN_TIMEOUT" });
    expect(member.connected).toBe(true);
  });

  it("counts connections per client address as the trusted proxy reported it, not as the client wrote it", async () => {
    const svc = await service({ TRUST_PROXY: "true", RATE_CONNECTIONS_PER_MINUTE: "3" });
    // The proxy (here: the test, on loopback) appends the address it saw; the client wrote the rest.
    const via = (spoofed: string) => ({ extraHeaders: { "X-Forwarded-For": `${spoofed}, 203.0.113.7` } });
    for (let i = 0; i < 3; i++) expect(await tryConnect(svc.url, via(`10.0.0.${i}`), clients)).toBe("connected");
    expect(await tryConnect(svc.url, via("10.0.0.99"), clients)).toMatch(/^rate limited/);
    // Someone else behind the same proxy is not affected.
    expect(await tryConnect(svc.url, { extraHeaders: { "X-Forwarded-For": "203.0.113.8" } }, clients)).toBe(
      "connected",
    );
  });
});

describe("token lifetime", () => {
  const SECRET = "a-test-secret-of-enough-length";
  const sign = (exp?: number) => {
    const jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setIssuedAt();
    if (exp !== undefined) jwt.setExpirationTime(exp);
    return jwt.sign(new TextEncoder().encode(SECRET));
  };

  it("refuses a token without an expiry unless told otherwise", async () => {
    const strict = await service({ AUTH_JWT_SECRET: SECRET });
    expect(await tryConnect(strict.url, { auth: { token: await sign() } }, clients)).toMatch(
      /^unauthorized: token has no expiry/,
    );
    const lenient = await service({ AUTH_JWT_SECRET: SECRET, AUTH_REQUIRE_EXP: "false" });
    expect(await tryConnect(lenient.url, { auth: { token: await sign() } }, clients)).toBe("connected");
  });

  it("closes a connection when its token expires; the client reconnects with a fresh one", async () => {
    const svc = await service({ AUTH_JWT_SECRET: SECRET });
    let tokens = 0;
    const c = io(svc.url, {
      path: SOCKET_PATH,
      transports: ["websocket"],
      forceNew: true,
      reconnectionDelay: 50,
      // The first token lives one to two seconds (exp is in whole seconds); the next ones longer.
      auth: (cb) =>
        void sign(Math.floor(Date.now() / 1000) + (tokens++ === 0 ? 2 : 600)).then((token) => cb({ token })),
    });
    clients.push(c);
    await nextEvent(c, "connect" as never, () => true, 5000);
    await join(c, "alice", "expiry-1");
    const expired = nextEvent(c, "chat_error", () => true, 5000);
    const reason = new Promise((resolve) => c.once("disconnect", resolve));
    expect(await expired).toMatchObject({ code: "TOKEN_EXPIRED" });
    // Closed as a transport, so the client reconnects by itself, with a fresh token.
    expect(await reason).toBe("transport close");
    await nextEvent(c, "connect" as never, () => true, 5000);
    expect(tokens).toBe(2);
  });
});

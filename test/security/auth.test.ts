import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, importPKCS8 } from "jose";
import { startService, type RunningService } from "../helpers/service.js";
import { connect, tryConnect, join, nextEvent, systemEvent, type Client } from "../helpers/clients.js";

const SECRET = "a-test-secret-of-enough-length";
const hs256 = (claims: Record<string, unknown>, { sub = "alice", exp = "5m", secret = SECRET } = {}) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));

describe("HS256 tokens", () => {
  let svc: RunningService;
  const clients: Client[] = [];
  beforeAll(async () => {
    svc = await startService({ AUTH_JWT_SECRET: SECRET, AUTH_ROOMS_CLAIM: "rooms" });
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await svc.stop();
  });

  it("refuses a handshake without a token", async () => {
    expect(await tryConnect(svc.url, {})).toMatch(/^unauthorized: a token is required/);
  });

  it("refuses an expired token", async () => {
    const token = await hs256({ rooms: ["r1"] }, { exp: "-1m" });
    expect(await tryConnect(svc.url, { auth: { token } })).toBe("unauthorized: token expired");
  });

  it("refuses a token signed with another key, or garbage", async () => {
    const forged = await hs256({ rooms: ["r1"] }, { secret: "another-secret-of-enough-length" });
    expect(await tryConnect(svc.url, { auth: { token: forged } })).toBe("unauthorized: invalid token");
    expect(await tryConnect(svc.url, { auth: { token: "not.a.jwt" } })).toBe("unauthorized: invalid token");
    expect(await tryConnect(svc.url, { auth: { token: 42 } })).toMatch(/^unauthorized/);
  });

  it("refuses a token whose algorithm is none", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    const body = Buffer.from(JSON.stringify({ sub: "alice", rooms: ["r1"] })).toString("base64url");
    expect(await tryConnect(svc.url, { auth: { token: `${header}.${body}.` } })).toBe("unauthorized: invalid token");
  });

  it("accepts a valid token, and join_room only as its subject and in its rooms", async () => {
    const token = await hs256({ rooms: ["r1"], username: "Alice From Token" });
    const alice = await connect(svc.url, { auth: { token } });
    clients.push(alice);
    const asBob = await alice.emitWithAck("join_room", { userId: "bob", username: "Bob", roomId: "r1" });
    expect(asBob).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const otherRoom = await alice.emitWithAck("join_room", { userId: "alice", username: "A", roomId: "r2" });
    expect(otherRoom).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const existing = await join(alice, "alice", "r1", "whatever");
    expect(existing).toMatchObject({ userId: "alice", username: "Alice From Token" });
  });

  it("holds a token's user id and name to the identifier rules", async () => {
    const badSubject = await hs256({ rooms: ["r1"] }, { sub: "x\ud800" });
    expect(await tryConnect(svc.url, { auth: { token: badSubject } })).toMatch(/^unauthorized: .*not a valid user id/);
    // A name that would deceive a reader is ignored: the join's name is used.
    const token = await hs256({ rooms: ["r1"], username: "\u202eevil" }, { sub: "dave" });
    const dave = await connect(svc.url, { auth: { token } });
    clients.push(dave);
    const existing = await join(dave, "dave", "r1", "Dave");
    expect(existing).toMatchObject({ userId: "dave", username: "Dave" });
  });

  it("accepts the token from an Authorization header too", async () => {
    const token = await hs256({ rooms: ["r1"] }, { sub: "carol" });
    const carol = await connect(svc.url, { extraHeaders: { Authorization: `Bearer ${token}` } });
    clients.push(carol);
    const bobToken = await hs256({ rooms: ["r1"] }, { sub: "bob" });
    const bob = await connect(svc.url, { auth: { token: bobToken } });
    clients.push(bob);
    await join(bob, "bob", "r1");
    const seen = nextEvent(bob, "system_message", systemEvent("connect", "carol"));
    await join(carol, "carol", "r1");
    await seen;
  });
});

describe("public-key tokens", () => {
  for (const [alg, type, options] of [
    ["RS256", "rsa", { modulusLength: 2048 }],
    ["ES256", "ec", { namedCurve: "P-256" }],
  ] as const) {
    it(`verifies ${alg} tokens with AUTH_JWT_PUBLIC_KEY`, async () => {
      const { publicKey, privateKey } = generateKeyPairSync(type as "rsa", {
        ...(options as { modulusLength: number }),
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      });
      // Written with \n escapes, as in a one-line environment variable.
      const svc = await startService({ AUTH_JWT_PUBLIC_KEY: publicKey.replace(/\n/g, "\\n") });
      try {
        const key = await importPKCS8(privateKey, alg);
        const token = await new SignJWT({})
          .setProtectedHeader({ alg })
          .setSubject("dana")
          .setExpirationTime("5m")
          .sign(key);
        const dana = await connect(svc.url, { auth: { token } });
        await join(dana, "dana", "room");
        dana.close();
        // An HS256 token made with the public key as its secret must not pass (key confusion).
        const confused = await new SignJWT({})
          .setProtectedHeader({ alg: "HS256" })
          .setSubject("dana")
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(publicKey));
        expect(await tryConnect(svc.url, { auth: { token: confused } })).toBe("unauthorized: invalid token");
        const other = generateKeyPairSync(type as "rsa", {
          ...(options as { modulusLength: number }),
          privateKeyEncoding: { type: "pkcs8", format: "pem" },
          publicKeyEncoding: { type: "spki", format: "pem" },
        });
        const wrongKey = await new SignJWT({})
          .setProtectedHeader({ alg })
          .setSubject("dana")
          .setExpirationTime("5m")
          .sign(await importPKCS8(other.privateKey, alg));
        expect(await tryConnect(svc.url, { auth: { token: wrongKey } })).toBe("unauthorized: invalid token");
      } finally {
        await svc.stop();
      }
    });
  }

  it("reads the userId from a configured claim (PeerPrep's user service: id)", async () => {
    const svc = await startService({ AUTH_JWT_SECRET: SECRET, AUTH_USER_ID_CLAIM: "id" });
    try {
      const token = await new SignJWT({ id: "6650f0c2a1b2c3d4e5f60718", username: "eve" })
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("5m")
        .sign(new TextEncoder().encode(SECRET));
      const eve = await connect(svc.url, { auth: { token } });
      const ack = await eve.emitWithAck("join_room", {
        userId: "6650f0c2a1b2c3d4e5f60718",
        username: "x",
        roomId: "r",
      });
      expect(ack).toMatchObject({ ok: true });
      eve.close();
    } finally {
      await svc.stop();
    }
  });
});

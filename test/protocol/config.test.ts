import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";

describe("configuration", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({});
    expect(c.port).toBe(5286);
    expect(c.redis).toMatchObject({ host: "redis", port: 6379, tls: false, keyPrefix: "" });
    expect(c.presence.graceMs).toBe(10_000);
    expect(c.allowedOrigins).toEqual(["http://localhost:5173"]);
  });

  it("accepts .env.example as it is, and it documents every variable", () => {
    const text = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");
    // It shows the real defaults: read as it is, it configures what no file at all does.
    expect(loadConfig(parseEnv(text))).toEqual(loadConfig({}));
    const source = readFileSync(new URL("../../src/config/config.ts", import.meta.url), "utf8");
    const variables = [...source.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
    expect(variables.length).toBeGreaterThan(10);
    for (const v of variables) expect(text).toContain(`${v}=`);
  });

  it("merges the production front-end origin into the allow-list", () => {
    const c = loadConfig({
      CORS_ORIGINS: "http://localhost:5173, http://a.test",
      FRONTEND_ORIGIN: "https://d1.cloudfront.net/",
    });
    expect(c.allowedOrigins).toEqual(["http://localhost:5173", "http://a.test", "https://d1.cloudfront.net"]);
  });

  it("refuses an allow-list entry that is not a full origin, naming it", () => {
    expect(() => loadConfig({ CORS_ORIGINS: "localhost:5173" })).toThrow(
      /CORS_ORIGINS.*"localhost:5173" is not an origin/s,
    );
    expect(() => loadConfig({ CORS_ORIGINS: "http://a.test/path" })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ FRONTEND_ORIGIN: "d1.cloudfront.net" })).toThrow(/FRONTEND_ORIGIN/);
  });

  it("refuses a public key that does not parse, or of a type it cannot verify, naming the variable", () => {
    const garbage = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----";
    expect(() => loadConfig({ AUTH_JWT_PUBLIC_KEY: garbage })).toThrow(/AUTH_JWT_PUBLIC_KEY: cannot be used/);
    const secp256k1 = generateKeyPairSync("ec", { namedCurve: "secp256k1" }).publicKey.export({
      type: "spki",
      format: "pem",
    });
    expect(() => loadConfig({ AUTH_JWT_PUBLIC_KEY: String(secp256k1) })).toThrow(
      /AUTH_JWT_PUBLIC_KEY: cannot be used.*secp256k1/,
    );
    const ed25519 = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" });
    expect(loadConfig({ AUTH_JWT_PUBLIC_KEY: String(ed25519) }).auth?.publicKey).toContain("BEGIN PUBLIC KEY");
  });

  it("defaults message limits to what a person in a two-person chat needs", () => {
    expect(loadConfig({}).rateLimits).toMatchObject({ messagesPerSecond: 5, messagesBurst: 20 });
  });

  it("reads TRUST_PROXY as Express does: off, one proxy, a hop count or addresses", () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: "true" }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: "2" }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: "loopback, 10.0.0.0/8" }).trustProxy).toEqual(["loopback", "10.0.0.0/8"]);
  });

  it("accepts a short HS256 secret (the service warns about it) and turns auth on", () => {
    expect(loadConfig({ AUTH_JWT_SECRET: "secret" }).auth).toMatchObject({ secret: "secret", userIdClaim: "sub" });
    expect(loadConfig({}).auth).toBeUndefined();
  });
});

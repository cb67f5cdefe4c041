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
    const c = loadConfig(parseEnv(text));
    expect(c.redis.host).toBe("localhost");
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

  it("accepts a short HS256 secret (the service warns about it) and turns auth on", () => {
    expect(loadConfig({ AUTH_JWT_SECRET: "secret" }).auth).toMatchObject({ secret: "secret", userIdClaim: "sub" });
    expect(loadConfig({}).auth).toBeUndefined();
  });
});

/**
 * The demo page in real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * two users chat, one refreshes and keeps the conversation without the other seeing a leave,
 * then one leaves and the other sees it. Skipped when Chromium is missing, except in CI.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { RedisServer } from "../helpers/redis-server.js";
import { startService, type RunningService } from "../helpers/service.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM} (CI installs it)`);
const GRACE_MS = 3000;

let redisServer: RedisServer;
let svc: RunningService;
let browser: Browser;

beforeAll(async () => {
  if (!available) return;
  redisServer = await RedisServer.start();
  svc = await startService({
    REDIS_PORT: String(redisServer.port),
    DEMO_PAGE: "true",
    DISCONNECT_GRACE_MS: String(GRACE_MS),
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await svc?.stop();
  await redisServer?.stop();
});

async function enter(name: string, room: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(svc.url);
  await page.fill("#name", name);
  await page.fill("#room", room);
  await page.click("#join button");
  await page.waitForSelector("#status:text('connected')");
  return page;
}

const say = async (page: Page, text: string) => {
  await page.fill("#text", text);
  await page.click("#send button:text('Send')");
};
const log = (page: Page) => page.locator("#log");

describe.skipIf(!available)("demo page in Chromium", () => {
  it("two users chat; a refresh keeps the conversation and announces nothing; a leave is seen", async () => {
    const alice = await enter("Alice", "browser-room");
    const bob = await enter("Bob", "browser-room");
    await expect.poll(() => log(alice).textContent()).toContain("Bob has entered the chat.");
    await expect.poll(() => alice.locator("#users").textContent()).toContain("Bob");

    await say(alice, "hello bob");
    await expect.poll(() => log(bob).textContent()).toContain("hello bob");
    await say(bob, "hi alice");
    await expect.poll(() => log(alice).textContent()).toContain("hi alice");

    await bob.reload();
    await bob.waitForSelector("#status:text('connected')");
    await expect.poll(() => log(bob).textContent()).toContain("hello bob");
    await expect.poll(() => log(bob).textContent()).toContain("hi alice");
    await expect.poll(() => bob.locator("#users").textContent()).toContain("Alice");
    // Bob came back within the grace period: Alice must never see him leave.
    await bob.waitForTimeout(GRACE_MS + 1000);
    expect(await log(alice).textContent()).not.toContain("Bob has left the chat.");
    await say(bob, "still here");
    await expect.poll(() => log(alice).textContent()).toContain("still here");
    expect((await log(bob).textContent())!.match(/hello bob/g)).toHaveLength(1);

    await alice.click("#leave");
    await expect.poll(() => log(bob).textContent(), { timeout: GRACE_MS - 500 }).toContain("Alice has left the chat.");
    await expect.poll(() => bob.locator("#users").textContent()).not.toContain("Alice");
  });
});

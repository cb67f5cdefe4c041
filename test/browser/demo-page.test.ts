/**
 * The demo page in real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * two users chat, one refreshes and keeps the conversation without the other seeing a leave,
 * then one leaves and the other sees it. Skipped when Chromium is missing, except in CI.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { mkdirSync } from "node:fs";
import { ServiceProcess } from "../helpers/process.js";
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

async function enter(name: string, room: string, url = svc.url): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(url);
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

  it("shows typing, edits and deletes to the other page, and delivers once what was typed while the server restarted", async () => {
    // A real process, so the server can be stopped and started again on the same port.
    const server = await ServiceProcess.start({
      REDIS_PORT: String(redisServer.port),
      DEMO_PAGE: "true",
      DISCONNECT_GRACE_MS: String(GRACE_MS),
    });
    try {
      const alice = await enter("Alice", "browser-room-2", server.url);
      const bob = await enter("Bob", "browser-room-2", server.url);
      await expect.poll(() => log(alice).textContent()).toContain("Bob has entered the chat.");

      await alice.type("#text", "hel");
      await expect.poll(() => bob.locator("#typing").textContent()).toContain("Alice is typing");
      await alice.type("#text", "lo");
      await alice.click("#send button:text('Send')");
      await expect.poll(() => log(bob).textContent()).toContain("hello");
      await expect.poll(() => bob.locator("#typing").textContent()).toBe("");

      alice.once("dialog", (dialog) => void dialog.accept("hello, edited"));
      await alice.locator("#messages p.mine button.edit").last().click();
      await expect.poll(() => log(bob).textContent()).toContain("hello, edited (edited)");
      await say(alice, "to be deleted");
      await expect.poll(() => log(bob).textContent()).toContain("to be deleted");
      await alice.locator("#messages p.mine button.delete").last().click();
      await expect.poll(() => log(bob).textContent()).toContain("(message deleted)");
      expect(await log(bob).textContent()).not.toContain("to be deleted");

      await server.kill("SIGTERM");
      await alice.waitForSelector("#status:text('reconnecting')");
      await say(alice, "typed during the restart");
      await expect.poll(() => log(alice).textContent()).toContain("typed during the restart (sending…)");
      await server.restart();
      await expect.poll(() => log(bob).textContent(), { timeout: 20_000 }).toContain("typed during the restart");
      await expect.poll(() => log(alice).textContent(), { timeout: 20_000 }).not.toContain("(sending…)");
      expect((await log(bob).textContent())!.match(/typed during the restart/g)).toHaveLength(1);

      mkdirSync("test/browser/artifacts", { recursive: true });
      await bob.screenshot({ path: "test/browser/artifacts/demo-page.png", fullPage: true });
    } finally {
      await server.kill("SIGKILL");
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startService, type RunningService } from "../helpers/service.js";
import { joined, nextEvent, systemEvent } from "../helpers/clients.js";

let svc: RunningService;
beforeAll(async () => {
  svc = await startService({ METRICS_TOKEN: "scrape-me" });
});
afterAll(() => svc.stop());

/** Parses Prometheus text format into `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(\S+?)(\{.*\})?\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    out.set(`${match[1]}${match[2] ?? ""}`, Number(match[3]));
  }
  return out;
}

const scrape = async () => {
  const res = await fetch(`${svc.url}/metrics`, { headers: { Authorization: "Bearer scrape-me" } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return parse(await res.text());
};

describe("GET /metrics", () => {
  it("needs the token when one is configured", async () => {
    expect((await fetch(`${svc.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${svc.url}/metrics`, { headers: { Authorization: "Bearer nope" } })).status).toBe(401);
  });

  it("reports sockets, users, rooms, messages, notices, refusals, Redis mode and process metrics", async () => {
    const alice = await joined(svc.url, "alice", "m-room");
    const seen = nextEvent(alice, "system_message", systemEvent("connect", "bob"));
    const bob = await joined(svc.url, "bob", "m-room");
    await seen;
    const got = nextEvent(bob, "receive_message");
    await alice.emitWithAck("send_message", { message: { userId: "alice", content: "counted" } });
    await got;
    await alice.emitWithAck("send_message", { message: { userId: "bob", content: "refused" } });
    await alice.emitWithAck("no_such_event", {});
    const sent = await alice.emitWithAck("send_message", { message: { userId: "alice", content: "to edit" } });
    await alice.emitWithAck("edit_message", { id: sent.id, content: "edited" });
    await alice.emitWithAck("delete_message", { id: sent.id });
    await alice.emitWithAck("typing", { isTyping: true });

    const m = await scrape();
    expect(m.get("chat_connected_sockets")).toBe(2);
    expect(m.get("chat_joined_users")).toBe(2);
    expect(m.get("chat_rooms")).toBe(1);
    expect(m.get('chat_messages_in_total{result="accepted"}')).toBe(2);
    expect(m.get('chat_messages_in_total{result="refused"}')).toBe(1);
    expect(m.get("chat_messages_out_total")).toBe(2);
    expect(m.get('chat_message_changes_total{kind="edit"}')).toBe(1);
    expect(m.get('chat_message_changes_total{kind="delete"}')).toBe(1);
    expect(m.get('chat_message_changes_total{kind="typing"}')).toBeGreaterThanOrEqual(1);
    expect(m.get('chat_notices_total{type="connect"}')).toBe(2);
    expect(m.get('chat_refused_events_total{event="send_message",code="FORBIDDEN"}')).toBe(1);
    expect(m.get('chat_refused_events_total{event="unknown",code="UNKNOWN_EVENT"}')).toBe(1);
    expect(m.get("chat_redis_mode")).toBe(0);
    expect(m.has("nodejs_eventloop_lag_seconds")).toBe(true);
    expect(m.has("process_cpu_seconds_total")).toBe(true);
    expect(m.has("process_resident_memory_bytes")).toBe(true);
    alice.close();
    bob.close();
  });
});

describe("GET /ready", () => {
  it("answers 503 once the instance drains", async () => {
    const other = await startService();
    const ready = await fetch(`${other.url}/ready`, { keepalive: true });
    expect(ready.status).toBe(200);
    const stopping = other.stop();
    const res = await fetch(`${other.url}/ready`).catch(() => undefined);
    // Either the drain already refuses new connections, or it answers 503.
    if (res) expect(res.status).toBe(503);
    await stopping;
  });
});

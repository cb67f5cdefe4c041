import { describe, expect, it } from "vitest";
import { createMessageIdGenerator } from "../../src/socket/message-id.js";

describe("message ids", () => {
  it("are fixed-width and sort as issued, within a millisecond, across milliseconds and when the clock steps back", () => {
    const next = createMessageIdGenerator("abc123");
    const t = 1_764_300_000_000;
    const ids = [t, t, t, t + 1, t + 1, t + 40, t + 5, t + 5, t + 41].map((now) => next(now));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{9}-[0-9a-z]{4}-abc123$/);
    // The time part is the issuing millisecond, or the last one while the clock is behind it.
    expect(ids.map((id) => parseInt(id.slice(0, 9), 36) - t)).toEqual([0, 0, 0, 1, 1, 40, 40, 40, 41]);
  });
});

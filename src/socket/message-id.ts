/**
 * Server message ids: `<ms since epoch, base36, 9 chars>-<sequence, base36, 4 chars>-<instance tag>`.
 * Fixed-width, so they sort as strings in the order this instance issued them; the instance
 * tag makes them unique across instances, and the time part orders rooms served by several
 * instances (as far as their clocks agree). No round trip to anything.
 */
export interface MessageIdGenerator {
  (now: number): string;
  /**
   * An id issued elsewhere for a room this instance serves (by the sequencing script): ids
   * issued here from now on sort after it, whatever this clock says.
   */
  observe(id: string): void;
}

export function createMessageIdGenerator(instanceTag: string): MessageIdGenerator {
  let lastMs = 0;
  let seq = 0;
  // The time part is kept while the millisecond lasts: V8's base-36 conversion of a 13-digit
  // number costs ~0.3 µs, more than the rest of the id, and a busy instance issues several ids
  // per millisecond.
  let timePart = "";
  const next = (now: number): string => {
    if (now > lastMs) {
      lastMs = now;
      seq = 0;
      timePart = now.toString(36).padStart(9, "0");
    } else {
      seq++; // same millisecond, or the clock stepped back: keep counting from the last one
    }
    return `${timePart}-${seq.toString(36).padStart(4, "0")}-${instanceTag}`;
  };
  next.observe = (id: string): void => {
    const ms = parseInt(id.slice(0, 9), 36);
    const s = parseInt(id.slice(10, 14), 36);
    if (!Number.isFinite(ms) || !Number.isFinite(s)) return;
    if (ms > lastMs || (ms === lastMs && s > seq)) {
      lastMs = ms;
      seq = s;
      timePart = id.slice(0, 9);
    }
  };
  return next;
}

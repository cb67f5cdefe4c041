/**
 * Server message ids: `<ms since epoch, base36, 9 chars>-<sequence, base36, 4 chars>-<instance tag>`.
 * Fixed-width, so they sort as strings in the order this instance issued them; the instance
 * tag makes them unique across instances, and the time part orders rooms served by several
 * instances (as far as their clocks agree). No round trip to anything.
 */
export function createMessageIdGenerator(instanceTag: string): (now: number) => string {
  let lastMs = 0;
  let seq = 0;
  return (now) => {
    if (now > lastMs) {
      lastMs = now;
      seq = 0;
    } else {
      seq++; // same millisecond, or the clock stepped back: keep counting from the last one
    }
    return `${lastMs.toString(36).padStart(9, "0")}-${seq.toString(36).padStart(4, "0")}-${instanceTag}`;
  };
}

/**
 * Server message ids: `<ms since epoch, base36, fixed width>-<instance tag>-<sequence>`.
 * Unique across instances (the tag), and ordered by time then sequence within an instance,
 * without a round trip to anything.
 */
export function createMessageIdGenerator(instanceTag: string): (now: number) => string {
  let lastMs = 0;
  let seq = 0;
  return (now) => {
    if (now === lastMs) seq++;
    else {
      lastMs = now;
      seq = 0;
    }
    return `${now.toString(36).padStart(9, "0")}-${instanceTag}-${seq.toString(36)}`;
  };
}

import type { Cluster } from "ioredis";

/**
 * A cluster client's slot map in short: each run of slots served by the same nodes, as
 * "<first slot>=<nodes>;". ioredis gives a whole range one array, so a run costs one join.
 */
export function slotMapFingerprint(slots: readonly (readonly string[] | undefined)[]): string {
  let out = "";
  let previous: readonly string[] | undefined;
  let previousKey: string | undefined;
  for (let slot = 0; slot < slots.length; slot++) {
    const nodes = slots[slot];
    if (nodes === previous && slot > 0) continue;
    const key = nodes ? nodes.join(",") : "";
    previous = nodes;
    if (key === previousKey) continue;
    previousKey = key;
    out += `${slot}=${key};`;
  }
  return out;
}

/**
 * Makes `follower` refresh its slot map whenever one of the `sources`' maps changes, so that a
 * client that cannot afford to poll its own often still follows the cluster at once.
 *
 * Why: the sharded subscriber's own refresh compares its whole map with the new one through
 * two JSON.stringify calls over 16,384 slots (ioredis's ClusterSubscriberGroup), 5–25 ms of
 * the event loop on each look; every 2 s, that was the cluster mode's longest stall
 * (bench/RESULTS.md, thirteenth session). The command client's own look costs about a
 * millisecond, and it and the history writer look at once on a MOVED or a lost node; this
 * comparison costs a pass over references. Returns the function that stops following.
 */
export function followSlotMap(sources: readonly Cluster[], follower: Cluster): () => void {
  const stops = sources.map((source) => {
    let seen: string | undefined;
    const onRefresh = () => {
      const now = slotMapFingerprint(source.slots);
      if (now === seen) return;
      seen = now;
      // A failed refresh (the follower not connected yet, the cluster away) is retried by the
      // follower's own reconnects and its slow periodic refresh.
      follower.refreshSlotsCache(() => {});
    };
    source.on("refresh", onRefresh);
    return () => source.off("refresh", onRefresh);
  });
  return () => stops.forEach((stop) => stop());
}

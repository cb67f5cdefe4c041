/**
 * What ioredis's cluster client says, before sending anything, when an auto-pipelined batch
 * no longer goes to one node: the batch was grouped by the slot map, and a refresh (a slot
 * migrated, a replica promoted) changed the map before the batch ran.
 */
const ROUTING_RACE = "All keys in the pipeline should belong to the same slots allocation group";

/** Attempts in all: a second refresh during one operation is already rare. */
const ATTEMPTS = 3;

/**
 * Runs `op`, and runs it again when the cluster client refused it for a slot-map change
 * ({@link ROUTING_RACE}): nothing reached Redis, and the next attempt is routed by the new
 * map. Such a refusal is neither an outage nor Redis refusing the request, so it must never
 * reach the code that decides on memory mode. Any other error is the caller's.
 */
export function retryingRoutingRace<T>(op: () => Promise<T>, attempt = 1): Promise<T> {
  // A catch handler rather than an async function with try/await: this wraps every room
  // operation, and the fast path should cost one promise (it showed in the join storm's profile).
  return op().catch((err: unknown) => {
    if (attempt >= ATTEMPTS || !(err instanceof Error) || err.message !== ROUTING_RACE) throw err;
    return retryingRoutingRace(op, attempt + 1);
  });
}

import { setTimeout as sleep } from "node:timers/promises";

/**
 * What ioredis's cluster client says, before sending anything, when an auto-pipelined batch
 * no longer goes to one node: the batch was grouped by the slot map, and a refresh (a slot
 * migrated, a replica promoted) changed the map before the batch ran.
 */
const ROUTING_RACE = "All keys in the pipeline should belong to the same slots allocation group";

/**
 * Replies of a node that did not run the command because of where its slot is: MOVED (served
 * elsewhere now), ASK (being migrated, the key already gone), TRYAGAIN (a multi-key command
 * meeting a slot half migrated). The cluster client follows them itself, except for a command
 * auto-pipelined with others that succeeded (ioredis retries a pipeline only when all of it
 * failed alike): then the reply reaches the caller, and the client's slot map stays stale.
 */
const REDIRECTED = /^(MOVED|ASK|TRYAGAIN) /;

/** Attempts in all: a second refresh during one operation is already rare. */
const ATTEMPTS = 3;

/** How long a TRYAGAIN waits for the migration to go on (ioredis's own delay is 100 ms). */
const TRYAGAIN_DELAY_MS = 50;

/**
 * The slot-map refreshes of this process's cluster clients (see {@link onRedirected}): a
 * registry rather than a parameter, since the operations retried here are whole store
 * operations several layers above the client they use.
 */
const slotMapRefreshes = new Set<() => Promise<void>>();

/**
 * Registers a cluster client's slot-map refresh, run before an operation redirected by
 * Redis is tried again. Returns the function that unregisters it (when the client closes).
 */
export function onRedirected(refresh: () => Promise<void>): () => void {
  slotMapRefreshes.add(refresh);
  return () => slotMapRefreshes.delete(refresh);
}

/**
 * Runs `op`, and runs it again when a cluster refused it for where its slot is: the client
 * refused it for a slot-map change ({@link ROUTING_RACE}), or a node redirected it
 * ({@link REDIRECTED}, after the slot maps are refreshed). Nothing of the refused command ran
 * in Redis, and the operations wrapped here may run again (the commands of one that ran
 * before the refused one set, rather than add). Such a refusal is neither an outage nor Redis
 * refusing the request, so it must never reach the code that decides on memory mode. Any
 * other error is the caller's.
 */
export function retryingRoutingRace<T>(op: () => Promise<T>, attempt = 1): Promise<T> {
  // A catch handler rather than an async function with try/await: this wraps every room
  // operation, and the fast path should cost one promise (it showed in the join storm's profile).
  return op().catch(async (err: unknown) => {
    if (attempt >= ATTEMPTS || !(err instanceof Error)) throw err;
    if (err.message !== ROUTING_RACE) {
      const redirected = REDIRECTED.exec(err.message)?.[1];
      if (redirected === undefined) throw err;
      if (redirected === "TRYAGAIN") await sleep(TRYAGAIN_DELAY_MS);
      else await Promise.all([...slotMapRefreshes].map((refresh) => refresh().catch(() => {})));
    }
    return retryingRoutingRace(op, attempt + 1);
  });
}

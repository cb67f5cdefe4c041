/** Shards of the grace index in cluster mode: each on its own slot, so no node takes every room's departures. */
export const CLUSTER_GRACE_SHARDS = 8;

/**
 * A room id as a Redis Cluster hash tag: Redis hashes only what lies between the first "{"
 * and the next "}", so braces (and "%", to keep the encoding one-to-one) are percent-encoded.
 */
const hashTag = (id: string): string =>
  `{${id.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}}`;

/** FNV-1a of a string: spreads room ids over the grace shards, the same on every instance. */
function shardOf(id: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

/**
 * Every Redis key and channel the service uses, built in one place under one prefix (empty
 * by default). Scripts receive every key they touch in KEYS, built here.
 *
 * Single node: room state sits at `room:<roomId>:users`, as the protocol states.
 * Cluster: a room's keys (users, history, byte count, dedupe claims) carry the room id as
 * hash tag, `room:{<roomId>}:users`, so each room's scripts touch one slot. The indexes that
 * span rooms are split: the grace index into shards by room, an instance's room index and
 * lease under that instance's tag; the instance registry is one small set touched by
 * heartbeats only (docs/architecture.md, "Redis layer").
 */
export class RedisKeys {
  constructor(
    readonly prefix: string = "",
    readonly cluster = false,
  ) {}

  private roomBase(roomId: string): string {
    return `${this.prefix}room:${this.cluster ? hashTag(roomId) : roomId}`;
  }

  /** Hash of a room's users: field userId, value JSON (see lua/lib.lua). */
  room(roomId: string): string {
    return `${this.roomBase(roomId)}:users`;
  }

  /** Sorted set of a room's recent messages: "<id>\n<JSON>", score 0 (see RedisHistoryStore). */
  history(roomId: string): string {
    return `${this.roomBase(roomId)}:history`;
  }

  /** Total bytes of a room's history members, kept beside it to bound it in bytes. */
  historyBytes(roomId: string): string {
    return `${this.roomBase(roomId)}:history:bytes`;
  }

  /**
   * A sender's clientMessageId, kept for the dedupe window (see lua/claim.lua). The three
   * client-chosen parts are JSON-encoded as one array, so no two triples share a key (joined
   * with ":", room "dd" + user "b:c" and room "dd:b" + user "c" did). In cluster mode the
   * room's tag puts it in the slot of the history it is checked against.
   */
  dedupe(roomId: string, userId: string, clientMessageId: string): string {
    const tag = this.cluster ? `${hashTag(roomId)}:` : "";
    return `${this.prefix}dedupe:${tag}${JSON.stringify([roomId, userId, clientMessageId])}`;
  }

  /** The grace index shard of a room: a sorted set of "<roomId>\n<userId>" scored by the time the departure is due. */
  grace(roomId: string): string {
    return this.cluster
      ? `${this.prefix}presence:grace:{g${shardOf(roomId, CLUSTER_GRACE_SHARDS)}}`
      : `${this.prefix}presence:grace`;
  }

  /** Every shard of the grace index (one on a single node). */
  get graceShards(): string[] {
    if (!this.cluster) return [`${this.prefix}presence:grace`];
    return Array.from({ length: CLUSTER_GRACE_SHARDS }, (_, i) => `${this.prefix}presence:grace:{g${i}}`);
  }

  /** Set of instance ids that have registered (alive or not yet reaped). */
  get instances(): string {
    return `${this.prefix}presence:instances`;
  }

  private instanceBase(instanceId: string): string {
    return `${this.prefix}presence:instance:${this.cluster ? hashTag(instanceId) : instanceId}`;
  }

  /** An instance's lease: exists while the instance is alive. */
  lease(instanceId: string): string {
    return this.instanceBase(instanceId);
  }

  /** Set of rooms where an instance holds sockets. */
  instanceRooms(instanceId: string): string {
    return `${this.instanceBase(instanceId)}:rooms`;
  }

  /**
   * Key prefix of a shared rate limit (rate-limiter-flexible appends ":<user or IP>"): one
   * single-key counter per user or address, so limits spread over every slot.
   */
  rateLimit(kind: "join" | "conn"): string {
    return `${this.prefix}ratelimit:${kind}`;
  }

  /** Channel on which instances tell each other which rooms they host (see RoomHosts). */
  get hostsChannel(): string {
    return `${this.prefix}presence:hosts`;
  }

  /**
   * Channel of the messages of rooms several instances serve, in their one order (see
   * lua/history_sequence.lua). One channel for all rooms on a single node; on a cluster one
   * sharded channel per room, in the room's slot: a classic PUBLISH there crosses the cluster
   * bus to every node, which cost Redis twice the CPU and the p90 tens of milliseconds
   * (bench/RESULTS.md, seventh session).
   */
  sequencedChannel(roomId: string): string {
    return this.cluster ? `${this.prefix}chat:${hashTag(roomId)}:sequenced` : `${this.prefix}chat:sequenced`;
  }

  /** Key prefix of the Socket.IO Redis adapter's channels. */
  get adapterChannel(): string {
    return `${this.prefix}socket.io`;
  }
}

/**
 * Every Redis key and channel the service uses, built in one place under one prefix
 * (empty by default, so room state sits at `room:{roomId}:users` as the protocol states).
 */
export class RedisKeys {
  constructor(readonly prefix: string = "") {}

  /** Hash of a room's users: field userId, value JSON (see lua/lib.lua). */
  room(roomId: string): string {
    return `${this.prefix}room:${roomId}:users`;
  }

  /** Sorted set of a room's recent messages: "<id>\n<JSON>", score 0 (see RedisHistoryStore). */
  history(roomId: string): string {
    return `${this.prefix}room:${roomId}:history`;
  }

  /** Total bytes of a room's history members, kept beside it to bound it in bytes. */
  historyBytes(roomId: string): string {
    return `${this.prefix}room:${roomId}:history:bytes`;
  }

  /**
   * A sender's clientMessageId, kept for the dedupe window (see lua/claim.lua). The three
   * client-chosen parts are JSON-encoded as one array, so no two triples share a key (joined
   * with ":", room "dd" + user "b:c" and room "dd:b" + user "c" did).
   */
  dedupe(roomId: string, userId: string, clientMessageId: string): string {
    return `${this.prefix}dedupe:${JSON.stringify([roomId, userId, clientMessageId])}`;
  }

  /** Sorted set of users in their grace period, scored by the time their departure is due. */
  get grace(): string {
    return `${this.prefix}presence:grace`;
  }

  /** Set of instance ids that have registered (alive or not yet reaped). */
  get instances(): string {
    return `${this.prefix}presence:instances`;
  }

  /** An instance's lease: exists while the instance is alive. */
  lease(instanceId: string): string {
    return `${this.prefix}presence:instance:${instanceId}`;
  }

  /** Set of rooms where an instance holds sockets. */
  instanceRooms(instanceId: string): string {
    return `${this.prefix}presence:instance:${instanceId}:rooms`;
  }

  /** Channel on which instances tell each other which rooms they host (see RoomHosts). */
  get hostsChannel(): string {
    return `${this.prefix}presence:hosts`;
  }

  /** Channel of the messages of rooms several instances serve, in their one order (see lua/history_sequence.lua). */
  get sequencedChannel(): string {
    return `${this.prefix}chat:sequenced`;
  }

  /** Key prefix of the Socket.IO Redis adapter's channels. */
  get adapterChannel(): string {
    return `${this.prefix}socket.io`;
  }
}

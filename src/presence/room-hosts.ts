import type { Redis } from "ioredis";
import type { Logger } from "../logger.js";

type Notice =
  | { type: "hello"; roomId: string; from: string; to: string[] }
  | { type: "ack"; roomId: string; from: string; to: string }
  | { type: "bye"; roomId: string; from: string };

/**
 * Which other instances hold sockets in the rooms this instance hosts, so a broadcast goes
 * through Redis only when somebody elsewhere needs it: a room served by one instance costs
 * no publish at all.
 *
 * Never losing a message to someone joining elsewhere: an instance that starts hosting a room
 * the store says others host sends them `hello` and waits for their `ack` (bounded) before it
 * reads the room's history for its joiner. A host that did not know it yet may have sent
 * messages without publishing; but it stored them before answering `ack` (one connection,
 * in order), so the joiner's history read, made after the ack, contains them.
 *
 * When in doubt (memory mode, after a Redis outage, a room not hosted here), publish.
 */
export class RoomHosts {
  /**
   * Rooms with local sockets → the other instances hosting them. Until `known` (the store
   * answered in shared mode), every broadcast to the room is published.
   */
  private readonly rooms = new Map<string, { hosts: Set<string>; known: boolean }>();
  /** Rooms whose introduction is under way, so a second joiner waits for it too. */
  private readonly introductions = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, Set<string>>();
  private readonly acked = new Map<string, () => void>();

  constructor(
    private readonly options: {
      instanceId: string;
      publisher: Redis;
      subscriber: Redis;
      channel: string;
      ackTimeoutMs: number;
      logger: Logger;
      shared: () => boolean;
      /** Sends anything queued that must reach Redis before an ack (the history batch). */
      beforeAck: () => void;
    },
  ) {}

  /** Subscribes to the hosts channel (queued until Redis answers; restored after reconnects). */
  start(): void {
    const { subscriber, channel } = this.options;
    subscriber.on("message", (from: string, text: string) => {
      if (from === channel) this.onNotice(text);
    });
    subscriber
      .subscribe(channel)
      .catch((err: Error) => this.options.logger.warn({ err: err.message }, "hosts channel"));
  }

  /** Whether a broadcast to the room must go through Redis. */
  needsPublish(roomId: string): boolean {
    const room = this.rooms.get(roomId);
    return room === undefined || !room.known || room.hosts.size > 0;
  }

  /**
   * A local socket is joining the room; returns true when this instance did not host it yet.
   * Called before the store is asked, so a `hello` arriving meanwhile is not lost.
   */
  beginJoin(roomId: string): boolean {
    if (this.rooms.has(roomId)) return false;
    this.rooms.set(roomId, { hosts: new Set(), known: false });
    return true;
  }

  /**
   * The store answered a join. `firstLocal` as returned by {@link beginJoin}. Resolves once
   * the other hosts know about this instance (or did not answer in time), with true when an
   * introduction was made or waited for (history read before it may miss messages).
   */
  async joined(roomId: string, remoteHosts: string[] | undefined, firstLocal: boolean): Promise<boolean> {
    const room = this.rooms.get(roomId);
    if (room && remoteHosts) for (const h of remoteHosts) room.hosts.add(h);
    if (firstLocal) {
      if (room && remoteHosts !== undefined && this.options.shared()) room.known = true;
      if (remoteHosts && remoteHosts.length > 0) {
        const introduction = this.introduce(roomId, remoteHosts, true);
        this.introductions.set(roomId, introduction);
        await introduction;
        if (this.introductions.get(roomId) === introduction) this.introductions.delete(roomId);
        return true;
      }
      return false;
    }
    const pending = this.introductions.get(roomId);
    if (!pending) return false;
    await pending;
    return true;
  }

  /** The last local socket left the room. */
  roomClosed(roomId: string): void {
    this.rooms.delete(roomId);
    if (this.options.shared()) this.publish({ type: "bye", roomId, from: this.options.instanceId });
  }

  /** Forget what is known (Redis lost): every hosted room publishes until it is hosted anew. */
  reset(): void {
    for (const room of this.rooms.values()) room.known = false;
  }

  /** Rooms hosted here. */
  hostedRooms(): string[] {
    return [...this.rooms.keys()];
  }

  /** Tells `hosts` that this instance hosts the room; with `wait`, resolves on their acks. */
  introduce(roomId: string, hosts: string[], wait = false): Promise<void> {
    const { instanceId, ackTimeoutMs } = this.options;
    if (!wait) {
      this.publish({ type: "hello", roomId, from: instanceId, to: hosts });
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const key = roomId;
      const pending = new Set(hosts);
      this.waiting.set(key, pending);
      const timer = setTimeout(() => {
        this.options.logger.warn({ roomId, missing: [...pending] }, "hosts did not acknowledge in time");
        finish();
      }, ackTimeoutMs);
      const finish = () => {
        clearTimeout(timer);
        if (this.waiting.get(key) === pending) this.waiting.delete(key);
        this.acked.delete(key);
        resolve();
      };
      this.acked.set(key, finish);
      this.publish({ type: "hello", roomId, from: instanceId, to: hosts });
    });
  }

  private onNotice(text: string): void {
    let notice: Notice;
    try {
      notice = JSON.parse(text) as Notice;
    } catch {
      return;
    }
    const me = this.options.instanceId;
    if (notice.from === me) return;
    const hosts = this.rooms.get(notice.roomId)?.hosts;
    if (notice.type === "hello" && notice.to.includes(me)) {
      hosts?.add(notice.from);
      this.options.beforeAck();
      this.publish({ type: "ack", roomId: notice.roomId, from: me, to: notice.from });
    } else if (notice.type === "ack" && notice.to === me) {
      const pending = this.waiting.get(notice.roomId);
      if (pending?.delete(notice.from) && pending.size === 0) this.acked.get(notice.roomId)?.();
    } else if (notice.type === "bye") {
      hosts?.delete(notice.from);
    }
  }

  private publish(notice: Notice): void {
    this.options.publisher.publish(this.options.channel, JSON.stringify(notice)).catch(() => {
      // Redis away: the memory-mode rules (always publish) apply until it is back.
    });
  }
}

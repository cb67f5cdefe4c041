import type { RedisClient } from "../redis/connection.js";
import type { Logger } from "../logger.js";

/** `id` names one introduction, so its acks are told apart from those of another joiner's. */
type Notice =
  | { type: "hello"; roomId: string; from: string; to: string[]; id?: string }
  | { type: "ack"; roomId: string; from: string; to: string; id?: string }
  | { type: "bye"; roomId: string; from: string };

/**
 * Which other instances hold sockets in the rooms this instance hosts, so a broadcast goes
 * through Redis only when somebody elsewhere needs it: a room served by one instance costs
 * no publish at all.
 *
 * Never losing a message to someone joining elsewhere: when a socket joins a room the store
 * says other instances host, this instance sends them `hello` and waits for their `ack`
 * (bounded) before it reads the room's history for its joiner. A host that did not know this
 * instance yet may have sent messages without publishing, and any host may still hold the
 * messages it sent just before the socket joined in its history batch; it stores them before
 * answering `ack` (it waits for Redis's answer), so the joiner's history read, made after the
 * ack, contains them. Messages sent after the socket joined reach it live.
 *
 * When in doubt (memory mode, after a Redis outage, a room not hosted here), publish.
 */
export class RoomHosts {
  /**
   * Rooms with local sockets → the other instances hosting them. Until `known` (the store
   * answered in shared mode), every broadcast to the room is published.
   */
  private readonly rooms = new Map<string, { hosts: Set<string>; known: boolean }>();
  /** Introductions waiting for acks: id → the hosts yet to answer, and what to run when all have. */
  private readonly waiting = new Map<string, { hosts: Set<string>; done: () => void }>();
  private introductionSeq = 0;

  constructor(
    private readonly options: {
      instanceId: string;
      publisher: RedisClient;
      subscriber: RedisClient;
      channel: string;
      ackTimeoutMs: number;
      logger: Logger;
      shared: () => boolean;
      /** Stores anything queued that must be in Redis before an ack (the history batch). */
      beforeAck: () => Promise<void>;
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
   * the room's other hosts have flushed what they sent before this socket joined and know
   * this instance hosts it (or did not answer in time), with true when there were such hosts
   * (a history read made before that may miss messages).
   */
  async joined(roomId: string, remoteHosts: string[] | undefined, firstLocal: boolean): Promise<boolean> {
    const room = this.rooms.get(roomId);
    if (room && remoteHosts) for (const h of remoteHosts) room.hosts.add(h);
    if (firstLocal && room && remoteHosts !== undefined && this.options.shared()) room.known = true;
    if (remoteHosts === undefined || remoteHosts.length === 0) return false;
    await this.introduce(roomId, remoteHosts, true);
    return true;
  }

  /**
   * The last local socket left the room. The other hosts are told (`bye`), so they stop
   * publishing for this instance; when there are none, as far as this instance knows, nobody
   * is: most rooms live on one instance, and a mass disconnect sent a thousand byes in one go,
   * one write each (bench/RESULTS.md, departures). An instance whose `hello` arrives after
   * the room closed here gets its `bye` then.
   */
  roomClosed(roomId: string): void {
    const room = this.rooms.get(roomId);
    this.rooms.delete(roomId);
    if (room?.known && room.hosts.size === 0) return;
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
      const id = `${++this.introductionSeq}`;
      const pending = new Set(hosts);
      const timer = setTimeout(() => {
        this.options.logger.warn({ roomId, missing: [...pending] }, "hosts did not acknowledge in time");
        done();
      }, ackTimeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve();
      };
      this.waiting.set(id, { hosts: pending, done });
      this.publish({ type: "hello", roomId, from: instanceId, to: hosts, id });
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
      const { roomId } = notice;
      void this.options.beforeAck().then(() => {
        this.publish({ type: "ack", roomId, from: me, to: notice.from, id: notice.id });
        // No longer hosted here (it closed while the hello was on its way): say so.
        if (!this.rooms.has(roomId)) this.publish({ type: "bye", roomId, from: me });
      });
    } else if (notice.type === "ack" && notice.to === me && notice.id !== undefined) {
      const introduction = this.waiting.get(notice.id);
      if (introduction?.hosts.delete(notice.from) && introduction.hosts.size === 0) introduction.done();
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

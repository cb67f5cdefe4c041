import calculateSlot from "cluster-key-slot";
import type { Cluster } from "ioredis";
import type { RedisClient } from "../redis/connection.js";
import type { RedisKeys } from "../redis/keys.js";
import type { ShardedSubscriptions } from "../redis/sharded-subscriptions.js";
import type { Logger } from "../logger.js";
import type { ChatMessage } from "./events.js";
import { storedForm, toEntry, type StoredMessage } from "../history/message-change.js";

/** Ids remembered per room, so a gap filled from history never delivers a message twice. */
const RECENT_IDS = 64;
/** A gap's history read that fails is tried again this often, at these intervals (ms). */
const FILL_ATTEMPTS = 5;
const FILL_RETRY_MS = 300;
/** Own sends remembered until their copy comes back from Redis (a bound, not a timeout). */
const SENT_HERE_LIMIT = 10_000;

/** A published message as lua/history_sequence.lua writes it. */
interface Published {
  message: ChatMessage;
  /** The newest id the history held before it ("" when none). */
  prev: string;
  socketId: string;
}

/** What this instance has delivered of one hosted room. */
interface RoomLine {
  /** The newest sequenced id delivered here (undefined until the first one: taken unchecked). */
  newest: string | undefined;
  recent: Set<string>;
  /** On a cluster: the slot of the room's channel, and the node that served it when last looked at. */
  slot: number;
  owner: string | undefined;
  /** Set while a gap is read from history; messages arriving meanwhile wait in `queue`. */
  filling: boolean;
  queue: Published[];
}

/**
 * Receives the messages of rooms several instances serve, in the one order Redis gives them
 * (lua/history_sequence.lua stores and publishes each in one script), and hands each to
 * `deliver` (this instance's sockets of the room, but the sender's).
 *
 * A single node has one channel for all rooms. A cluster has one sharded channel per room
 * (in the room's slot, so a publish reaches one node and not the whole cluster bus), which
 * this instance subscribes to while it hosts the room. Sharded subscriptions follow their
 * slot: when it moves (a migration, a failover), messages published before the client has
 * subscribed at the new owner are lost. Each message therefore names the newest id stored
 * before it; a message whose predecessor was never delivered here first gets the missed
 * ones delivered from the history, in order. Once the client has resubscribed after a topology
 * change, the rooms whose slot changed hands are checked too, in case they fell quiet right
 * after the loss.
 */
export class SequencedDelivery {
  private readonly rooms = new Map<string, RoomLine>();
  /** Sequenced messages sent from here: id → sending socket (which a gap fill must skip). */
  private readonly sentHere = new Map<string, string>();

  constructor(
    private readonly options: {
      subscriber: RedisClient;
      /** On a cluster, the rooms' channels are subscribed and released through here. */
      subscriptions: ShardedSubscriptions;
      /** Publishes what a failed send may not have (see publishAgain). */
      publisher: RedisClient;
      keys: RedisKeys;
      /** The one-order path's messages stored after `afterId`; rejects when Redis fails. */
      readSequencedSince: (roomId: string, afterId: string) => Promise<ChatMessage[]>;
      logger: Logger;
    },
  ) {}

  private deliver: (message: ChatMessage, exceptSocketId: string | undefined) => void = () => {};

  /**
   * Listens on the subscriber (and on a single node, subscribes to the one channel), handing
   * each message to `deliver`: this instance's sockets of its room, but `exceptSocketId`.
   */
  start(deliver: (message: ChatMessage, exceptSocketId: string | undefined) => void): void {
    this.deliver = deliver;
    const { subscriber, keys, logger } = this.options;
    if (keys.cluster) {
      subscriber.on("smessage", (_channel: string, text: string) => this.receive(text));
      // The client has resubscribed after its slot map changed: rooms whose slot moved may
      // have lost messages meanwhile.
      subscriber.on("subscribersReady", () => this.checkMovedRooms());
      return;
    }
    const channel = keys.sequencedChannel("");
    subscriber.on("message", (from: string, text: string) => {
      if (from === channel) this.receive(text);
    });
    subscriber
      .subscribe(channel)
      .catch((err: Error) => logger.warn({ err: err.message }, "sequenced channel subscription failed"));
  }

  /**
   * This instance hosts the room from now on. Resolves once its messages reach here (on a
   * cluster, once the room's channel is subscribed; a failure is logged and resolves too).
   */
  host(roomId: string): Promise<void> {
    if (this.rooms.has(roomId)) return Promise.resolve();
    const { subscriptions, keys, logger } = this.options;
    const channel = keys.sequencedChannel(roomId);
    const slot = keys.cluster ? calculateSlot(channel) : 0;
    this.rooms.set(roomId, {
      newest: undefined,
      recent: new Set(),
      slot,
      owner: this.ownerOf(slot),
      filling: false,
      queue: [],
    });
    if (!keys.cluster) return Promise.resolve();
    return subscriptions.subscribe(channel).then(
      () => {},
      (err: Error) => logger.warn({ roomId, err: err.message }, "room channel subscription failed"),
    );
  }

  /** This instance no longer hosts the room: its channel is unsubscribed soon (ShardedSubscriptions). */
  release(roomId: string): void {
    const { subscriptions, keys } = this.options;
    if (this.rooms.delete(roomId) && keys.cluster) subscriptions.release(keys.sequencedChannel(roomId));
  }

  /**
   * Publishes a message whose one-order send failed, perhaps after the script had published
   * it: with no predecessor named, so receivers take it as it comes, and drop it when they
   * have it already (same id). Lost when Redis is away, as any publish then.
   */
  publishAgain(message: ChatMessage, socketId: string): void {
    const { publisher, keys } = this.options;
    const channel = keys.sequencedChannel(message.roomId);
    const text = `${message.id}\n\n${socketId}\n${message.roomId}\n${JSON.stringify(storedForm(message))}`;
    (keys.cluster ? publisher.spublish(channel, text) : publisher.publish(channel, text)).catch(() => {});
  }

  /** A sequenced message sent from `socketId` was stored under `id`. */
  sent(id: string, socketId: string): void {
    if (this.sentHere.size >= SENT_HERE_LIMIT) this.sentHere.delete(this.sentHere.keys().next().value!);
    this.sentHere.set(id, socketId);
  }

  private receive(text: string): void {
    const published = parse(text);
    if (published) this.handle(published);
  }

  private handle(published: Published): void {
    this.sentHere.delete(published.message.id);
    const line = this.rooms.get(published.message.roomId);
    // Not hosted here (a single node's channel carries every room): nobody to deliver to.
    if (!line) return;
    if (line.filling) {
      line.queue.push(published);
      return;
    }
    const { newest } = line;
    if (newest !== undefined && published.prev > newest && !line.recent.has(published.prev)) {
      line.queue.push(published);
      void this.fill(published.message.roomId, line, newest);
      return;
    }
    this.accept(line, published.message, published.socketId);
  }

  /** Delivers a message not delivered here yet, and remembers it. */
  private accept(line: RoomLine, message: ChatMessage, exceptSocketId: string | undefined): void {
    if (line.recent.has(message.id)) return;
    if (line.recent.size >= RECENT_IDS) line.recent.delete(line.recent.values().next().value!);
    line.recent.add(message.id);
    if (line.newest === undefined || message.id > line.newest) line.newest = message.id;
    this.deliver(message, exceptSocketId);
  }

  /**
   * Delivers what the history holds after `after` and before the first waiting message, then
   * the waiting ones (checked again: a gap may follow another).
   */
  private async fill(roomId: string, line: RoomLine, after: string): Promise<void> {
    line.filling = true;
    const trigger = line.queue[0];
    try {
      const until = trigger?.message.id;
      const messages = await this.readWithRetries(roomId, after);
      let filled = 0;
      for (const entry of messages) {
        if (until !== undefined && entry.id >= until) break;
        if (line.recent.has(entry.id)) continue;
        this.accept(line, entry, this.sentHere.get(entry.id));
        filled++;
      }
      if (filled > 0) this.options.logger.warn({ roomId, filled }, "messages lost in transit delivered from history");
    } catch (err) {
      this.options.logger.warn({ roomId, err: (err as Error).message }, "could not read a gap from history");
    } finally {
      line.filling = false;
    }
    // Up to the trigger's predecessor, all is read (or given up): a predecessor that took
    // another path (a room of one instance's batch, a fallback while Redis failed) is no gap.
    if (trigger && (line.newest === undefined || trigger.prev > line.newest)) line.newest = trigger.prev;
    if (this.rooms.get(roomId) !== line) return; // released meanwhile
    const waiting = line.queue.splice(0);
    for (const published of waiting) this.handle(published);
  }

  /** A slot that just moved may fail a read or two (TRYAGAIN, a stale slot map): tried again. */
  private async readWithRetries(roomId: string, after: string): Promise<ChatMessage[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.readSequencedSince(roomId, after);
      } catch (err) {
        if (attempt >= FILL_ATTEMPTS) throw err;
        await new Promise((resolve) => setTimeout(resolve, FILL_RETRY_MS));
      }
    }
  }

  /** The node serving a slot in the subscriber's slot map (cluster mode). */
  private ownerOf(slot: number): string | undefined {
    return this.options.keys.cluster ? (this.options.subscriber as Cluster).slots[slot]?.[0] : undefined;
  }

  /** Reads from history what rooms whose slot changed hands may have missed meanwhile. */
  private checkMovedRooms(): void {
    for (const [roomId, line] of this.rooms) {
      const owner = this.ownerOf(line.slot);
      if (owner === line.owner) continue;
      line.owner = owner;
      if (line.newest !== undefined && !line.filling) void this.fill(roomId, line, line.newest);
    }
  }
}

/** "<id>\n<prev>\n<sending socket>\n<roomId>\n<stored JSON>", or undefined when it does not parse. */
function parse(text: string): Published | undefined {
  const a = text.indexOf("\n");
  const b = text.indexOf("\n", a + 1);
  const c = text.indexOf("\n", b + 1);
  const d = text.indexOf("\n", c + 1);
  if (a < 0 || b < 0 || c < 0 || d < 0) return undefined;
  let stored: StoredMessage;
  try {
    stored = JSON.parse(text.slice(d + 1)) as StoredMessage;
  } catch {
    return undefined;
  }
  const entry = toEntry(text.slice(0, a), text.slice(c + 1, d), stored);
  if ("deleted" in entry) return undefined;
  return { message: entry, prev: text.slice(a + 1, b), socketId: text.slice(b + 1, c) };
}

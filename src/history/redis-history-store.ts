import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import calculateSlot from "cluster-key-slot";
import type { Cluster, Redis, Result } from "ioredis";
import type { Logger } from "../logger.js";
import type { RedisClient } from "../redis/connection.js";
import type { RedisKeys } from "../redis/keys.js";
import { readLuaScript } from "../redis/lua.js";
import { retryingRoutingRace } from "../redis/routing-race.js";
import type { ChatMessage, HistoryEntry } from "../socket/events.js";
import type { ChangeResult, HistoryBounds, HistoryPage, HistoryStore, MessageChange } from "./history-store.js";
import { applyChange, storedForm, toEntry, type StoredMessage } from "./message-change.js";
import type { UnsyncedHistory } from "./memory-history-store.js";

/** The first byte after every UTF-8 character: "(<id>\n\xff" excludes exactly the members of <id>. */
const AFTER_ALL = Buffer.from([0xff]);

declare module "ioredis" {
  interface RedisCommander<Context> {
    historyClaim(claim: string, history: string, ...argv: string[]): Result<[string, string?, number?], Context>;
    historyClaimStored(claim: string, messageId: string, storedId?: string): Result<number, Context>;
    historyReplace(history: string, bytes: string, oldMember: string, newMember: string): Result<number, Context>;
    historyAppend(numKeys: number, ...keysAndArgv: string[]): Result<unknown[], Context>;
    historyAppendRoom(history: string, bytes: string, users: string, ...argv: string[]): Result<unknown[], Context>;
    historySequence(history: string, bytes: string, users: string, ...argv: string[]): Result<string, Context>;
  }
}

/** A room's appends waiting for the next write. */
interface PendingRoom {
  roomId: string;
  members: string[];
  done: ((err?: Error) => void)[];
  /** Claims to mark stored once the write succeeds: [claim key, message id]. */
  claims: [string, string][] | undefined;
}

/** Parses a stored member "<id>\n<JSON>" back into a message; undefined when unreadable. */
function parseMember(member: string): { id: string; stored: StoredMessage } | undefined {
  const newline = member.indexOf("\n");
  try {
    return { id: member.slice(0, newline), stored: JSON.parse(member.slice(newline + 1)) as StoredMessage };
  } catch {
    return undefined; // an unreadable entry is skipped, not fatal
  }
}

/** The sorted-set member of a message: "<id>\n<JSON>" (parsed back by {@link parseMember}). */
const memberOf = (id: string, stored: StoredMessage): string => `${id}\n${JSON.stringify(stored)}`;

/**
 * Each room's error from an append script's reply: {index (1-based), error, ...} for the rooms
 * that failed, empty when all were stored.
 */
function roomErrors(rooms: number, failed: unknown): (Error | undefined)[] {
  const errors = new Array<Error | undefined>(rooms);
  if (!Array.isArray(failed)) return errors;
  for (let i = 0; i + 1 < failed.length; i += 2) errors[Number(failed[i]) - 1] = failure(failed[i + 1]);
  return errors;
}

/** The error of a one-room append's reply, if it failed (see {@link roomErrors}). */
const roomError = (failed: unknown): Error | undefined =>
  Array.isArray(failed) && failed.length >= 2 ? failure(failed[1]) : undefined;

const failure = (reason: unknown) => new Error(`history write failed: ${String(reason)}`);

/**
 * Replies of a node whose role or slots are changing (a failover, a migration, a restart):
 * a per-node append refused for one of them is a moment's, not a refusal worth logging.
 */
const NODE_IN_TRANSITION = /^(READONLY|MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|MASTERDOWN|BUSY)\b/;

/** Marks a member that was edited or deleted (its JSON holds a revision). */
const REVISED = '"revision":"';

/**
 * History in Redis, shared by every instance: a sorted set per room whose members are
 * "<id>\n<JSON of the rest>" (all scores 0, so ordered by id), bounded to the newest `limit`
 * messages and `maxBytes` bytes (the byte count is kept in a key beside it). The room scripts
 * keep it while anybody is present and let it expire after the room empties; an append to a
 * room nobody is in sets that expiry itself.
 */
export class RedisHistoryStore implements HistoryStore {
  /**
   * The current batch: by history key, the members and their appends' callbacks. Only what
   * the write needs is kept: a batch lives until Redis answers, long enough for the young
   * generation's collector to promote whatever it holds (bench/RESULTS.md, lever 13).
   */
  private pending = new Map<string, PendingRoom>();
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  /** Settles once every batch sent so far has (on a cluster, batches to different nodes settle in any order). */
  private lastWrite: Promise<void> = Promise.resolve();
  /** The cluster's per-node append (see sendToNode): the script, and its SHA1. */
  private readonly nodeAppend: { lua: string; sha: string };
  /** Whether a per-node append refused by Redis has been logged (once per process). */
  private perNodeRefusalLogged = false;

  /**
   * `redis` serves reads and dedupe claims; `writer`, a connection of its own, the appends
   * (see RedisConnection). A batch not answered within `timeoutMs` fails its appends.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly writer: RedisClient,
    private readonly keys: RedisKeys,
    private readonly options: HistoryBounds & { flushMs: number; timeoutMs: number; logger?: Logger },
  ) {
    redis.defineCommand("historyClaim", { numberOfKeys: 2, lua: readLuaScript("claim.lua") });
    redis.defineCommand("historyClaimStored", { numberOfKeys: 1, lua: readLuaScript("claim_stored.lua") });
    const lib = readLuaScript("history_lib.lua");
    redis.defineCommand("historyReplace", { numberOfKeys: 2, lua: `${lib}\n${readLuaScript("history_replace.lua")}` });
    const append = `${lib}\n${readLuaScript("history_append.lua")}`;
    // The same script, allowed to reach undeclared keys of other slots of its node (Redis 7):
    // only for sendToNode, so a server that refuses the flag still takes every other call.
    const lua = `#!lua flags=allow-cross-slot-keys\n${append}`;
    this.nodeAppend = { lua, sha: createHash("sha1").update(lua).digest("hex") };
    writer.defineCommand("historyAppend", { lua: append });
    // The same script for one room, its keys declared, as a cluster client needs to route it.
    writer.defineCommand("historyAppendRoom", { numberOfKeys: 3, lua: append });
    writer.defineCommand("historySequence", {
      numberOfKeys: 3,
      lua: `${lib}\n${readLuaScript("history_sequence.lua")}`,
    });
  }

  /**
   * The history scripts' first arguments (lua/history_lib.lua, read_bounds): trim threshold
   * (limit plus a slack), limit, most bytes, retention of a room nobody is in.
   */
  private boundsArgv(): string[] {
    const { limit, maxBytes, retentionMs } = this.options;
    return [String(limit + Math.max(16, Math.floor(limit / 8))), String(limit), String(maxBytes), String(retentionMs)];
  }

  /**
   * How long a claimed message may still be on its way to the history: a window, then a
   * write that fails after `timeoutMs` at most.
   */
  private get inFlightMs(): number {
    return this.options.flushMs + this.options.timeoutMs + 500;
  }

  /**
   * Queues the message for the next write, off the delivery path (which has already
   * happened). Writes are at most one per `flushMs`: a lone message goes out at once, a busy
   * instance sends one write per window for all its messages, which is what makes history
   * cheap under load (fewer, larger writes cost both sides less per message; bench/RESULTS.md).
   * Callbacks, not promises: this runs once per message.
   */
  append(message: ChatMessage, done: (err?: Error) => void): void {
    if (this.options.limit === 0) return done(); // history off
    // Stored without what the member's id prefix and the key already say (id, roomId) and
    // without the web-client aliases (senderId, text), which repeat userId and content.
    // A literal of known shape: cheaper to build and to stringify than a rest copy.
    const room = this.enqueue(message.roomId, memberOf(message.id, storedForm(message)), done);
    if (message.clientMessageId !== undefined) {
      (room.claims ??= []).push([
        this.keys.dedupe(message.roomId, message.userId, message.clientMessageId),
        message.id,
      ]);
    }
  }

  /** Queues a member for the next write (at most one per window). */
  private enqueue(roomId: string, member: string, done: (err?: Error) => void): PendingRoom {
    let room = this.pending.get(roomId);
    if (room) {
      room.members.push(member);
      room.done.push(done);
    } else {
      room = { roomId, members: [member], done: [done], claims: undefined };
      this.pending.set(roomId, room);
    }
    if (this.timer === undefined) {
      const wait = Math.max(0, this.lastFlush + this.options.flushMs - Date.now());
      this.timer = setTimeout(() => void this.flush(), wait);
    }
    return room;
  }

  /**
   * Sends the queued appends now; resolves once Redis has answered them and every earlier
   * batch (never rejects: failures go to the appends' callbacks). Awaited before anything
   * that must reach Redis after them (a history read, a hosts `ack`, shutdown). On a single
   * node, one script call for the whole batch, whatever the number of rooms: per command, the
   * client's cost outweighs what Lua adds in Redis (bench/RESULTS.md, lever 12). On a
   * cluster, where a script's keys must share a slot, one call per room, in one write per
   * node (sendToNode).
   */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const rooms = [...this.pending.values()];
    if (rooms.length === 0) return this.lastWrite;
    this.pending = new Map();
    this.lastFlush = Date.now();
    const writes = this.keys.cluster
      ? [...this.byNode(rooms)].map(([node, group]) => this.write(group, () => this.sendToNode(node, group)))
      : [this.write(rooms, () => this.sendBatch(rooms))];
    this.lastWrite = Promise.all([this.lastWrite, ...writes]).then(() => {});
    return this.lastWrite;
  }

  /** The rooms grouped as the cluster client's slot map routes their keys: by master, "host:port". */
  private byNode(rooms: PendingRoom[]): Map<string, PendingRoom[]> {
    const slots = (this.writer as Cluster).slots;
    const groups = new Map<string, PendingRoom[]>();
    for (const room of rooms) {
      const node = slots[calculateSlot(this.keys.history(room.roomId))]?.[0] ?? "";
      const group = groups.get(node);
      if (group) group.push(room);
      else groups.set(node, [room]);
    }
    return groups;
  }

  /** A room's three keys, as the append script takes them. */
  private roomKeys(roomId: string): [string, string, string] {
    return [this.keys.history(roomId), this.keys.historyBytes(roomId), this.keys.room(roomId)];
  }

  /** One append script call for all `rooms`; resolves with each room's error, if any. */
  private async sendBatch(rooms: PendingRoom[]): Promise<(Error | undefined)[]> {
    const keys: string[] = [];
    const argv = this.boundsArgv();
    for (const { roomId, members } of rooms) {
      keys.push(...this.roomKeys(roomId));
      argv.push(String(members.length), ...members);
    }
    const failed = await retryingRoutingRace(() => this.writer.historyAppend(keys.length, ...keys, ...argv));
    return roomErrors(rooms.length, failed);
  }

  /**
   * One append call for every room of one master, written on that master's own connection.
   * A script's declared keys must share a slot, so the rooms' keys go in its arguments, and
   * the script, flagged allow-cross-slot-keys, reaches them there: keys of several slots, all
   * served by the node it runs on. One call per room instead cost the client a command and
   * Redis a script run per room, about one per message at 2,000/s over 500 rooms
   * (bench/RESULTS.md, sixteenth session). A room that failed (its slot moved or is
   * migrating, its node failed over or is not connected yet, the call was refused or not
   * answered) is sent again alone, its keys declared, through the cluster client, which
   * follows redirections, connects to nodes and loads the script. Appending a member twice
   * changes nothing, and the script writes a room only once it has read all its keys, so a
   * room that failed was left untouched.
   */
  private async sendToNode(nodeKey: string, rooms: PendingRoom[]): Promise<(Error | undefined)[]> {
    const bounds = this.boundsArgv();
    const argv = [...bounds];
    for (const { roomId, members } of rooms) argv.push(...this.roomKeys(roomId), String(members.length), ...members);
    const node = (this.writer as Cluster)
      .nodes("master")
      .find((n) => n.status === "ready" && `${n.options.host}:${n.options.port}` === nodeKey);
    const errors = node
      ? await this.evalOnNode(node, argv).then(
          (failed) => roomErrors(rooms.length, failed),
          (err: Error) => {
            this.logPerNodeRefusal(err);
            return rooms.map(() => err);
          },
        )
      : rooms.map(() => new Error("no ready connection to the room's node"));
    await Promise.all(
      rooms.map(async ({ roomId, members }, i) => {
        if (!errors[i]) return;
        const alone = () =>
          this.writer.historyAppendRoom(...this.roomKeys(roomId), ...bounds, String(members.length), ...members);
        errors[i] = await retryingRoutingRace(alone).then(roomError, (err: Error) => err);
      }),
    );
    return errors;
  }

  /**
   * Logs, once, a per-node append Redis answered with an error: a server that refuses the
   * script's flag, say, where every flush goes room by room (correct, and slower).
   */
  private logPerNodeRefusal(err: Error): void {
    if (this.perNodeRefusalLogged || err.name !== "ReplyError" || NODE_IN_TRANSITION.test(err.message)) return;
    this.perNodeRefusalLogged = true;
    this.options.logger?.warn(
      { err: err.message },
      "a per-node history write was refused; its rooms were written one by one (further refusals are not logged)",
    );
  }

  /** Runs the per-node append on `node`, loading it there first if the node does not have it. */
  private evalOnNode(node: Redis, argv: string[]): Promise<unknown> {
    const { lua, sha } = this.nodeAppend;
    return node.evalsha(sha, 0, ...argv).catch((err: Error) => {
      if (!err.message.startsWith("NOSCRIPT")) throw err;
      return node.eval(lua, 0, ...argv);
    });
  }

  /**
   * Runs `send` for `rooms` and settles their callbacks with its outcome (never rejects): an
   * error of the whole call fails every room, else each room gets its own.
   */
  private write(rooms: PendingRoom[], send: () => Promise<(Error | undefined)[]>): Promise<void> {
    return new Promise<void>((resolve) => {
      let settled = false;
      const settle = (err: Error | undefined, errors: (Error | undefined)[] = []) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        rooms.forEach(({ done, claims }, index) => {
          const roomErr = err ?? errors[index];
          if (!roomErr && claims) this.markStored(claims);
          done.forEach((callback) => callback(roomErr));
        });
        resolve();
      };
      const timer = setTimeout(
        () => settle(new Error(`history write not answered within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      send().then(
        (errors) => settle(undefined, errors),
        (err: Error) => settle(err),
      );
    });
  }

  /**
   * Writes what memory mode accepted into the shared history: the messages (their ids put
   * them in order among the others') and then their claims, marked stored. Rejects when
   * any of it failed; writing again is harmless (members and claims are set, not added).
   */
  async writeBack(unsynced: UnsyncedHistory): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const [roomId, entries] of unsynced.messages) {
      for (const { id, stored } of entries) {
        const member = memberOf(id, stored);
        writes.push(new Promise((resolve, reject) => this.enqueue(roomId, member, (e) => (e ? reject(e) : resolve()))));
      }
    }
    void this.flush();
    await Promise.all(writes);
    const now = Date.now();
    await Promise.all(
      unsynced.claims.map((c) =>
        c.expires > now
          ? this.redis.set(
              this.keys.dedupe(c.roomId, c.userId, c.clientMessageId),
              c.messageId,
              "PX",
              c.expires - now,
              "NX",
            )
          : null,
      ),
    );
  }

  /**
   * Stores a message of a room several instances serve and publishes it on `channel` in the
   * same script (lua/history_sequence.lua), so every instance delivers the room's messages in
   * the history's order. Resolves with the id it was stored under (the proposed one, or the
   * next after the newest stored when that sorts first). Sent at once on the writer
   * connection; appends still queued here have smaller ids, so the history's order holds.
   * The script refuses to act past half the timeout (Redis's clock), so a call that reaches
   * Redis late (resent by the cluster client after a failover, or held in a frozen server's
   * socket) never stores or publishes a message the caller has delivered another way.
   */
  async sequence(message: ChatMessage, socketId: string): Promise<string> {
    const { timeoutMs } = this.options;
    const { roomId } = message;
    const deadline = String(Date.now() + Math.floor(timeoutMs / 2));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`sequenced write not answered within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const id = String(
        await Promise.race([
          retryingRoutingRace(() =>
            this.writer.historySequence(
              ...this.roomKeys(roomId),
              ...this.boundsArgv(),
              message.id,
              JSON.stringify({ ...storedForm(message), sequenced: true }),
              this.keys.cluster ? "SPUBLISH" : "PUBLISH",
              this.keys.sequencedChannel(roomId),
              socketId,
              roomId,
              deadline,
            ),
          ),
          timeout,
        ]),
      );
      if (message.clientMessageId !== undefined) {
        const claim = this.keys.dedupe(roomId, message.userId, message.clientMessageId);
        this.redis.historyClaimStored(claim, message.id, id).catch(() => {}); // best effort, as markStored
      }
      return id;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Marks the claims of stored messages, so their retries are duplicates even once trimmed. */
  private markStored(claims: [string, string][]): void {
    for (const [key, id] of claims) this.redis.historyClaimStored(key, id).catch(() => {}); // best effort: the history check covers it
  }

  async since(roomId: string, afterId?: string): Promise<HistoryPage> {
    // Queued and unanswered appends first: a socket that joins just after a message was sent
    // here gets it from this read.
    await this.flush();
    const key = this.keys.history(roomId);
    // The whole retained history (the set may hold a few more than `limit` until its next
    // trim: the newest `limit`). With `afterId`: what came after it, whether it is still
    // there, and the older messages edited or deleted since it was issued.
    const retained = await this.redis.zrange(key, -this.options.limit, -1);
    if (afterId === undefined) return { messages: this.parse(roomId, retained), complete: true };
    const out: HistoryEntry[] = [];
    let found = false;
    for (const member of retained) {
      const id = member.slice(0, member.indexOf("\n"));
      if (id === afterId) found = true;
      if (id <= afterId && !member.includes(REVISED)) continue;
      const parsed = parseMember(member);
      if (!parsed) continue;
      if (id > afterId || (parsed.stored.revision !== undefined && parsed.stored.revision > afterId)) {
        out.push(toEntry(id, roomId, parsed.stored));
      }
    }
    return found ? { messages: out, complete: true } : { messages: this.parse(roomId, retained), complete: false };
  }

  /**
   * The messages the one-order path stored after `afterId`, as they stand (deleted ones left
   * out), oldest first: what a subscriber that lost some in transit delivers. Rejects when
   * Redis does not answer.
   */
  async sequencedSince(roomId: string, afterId: string): Promise<ChatMessage[]> {
    const retained = await this.redis.zrange(this.keys.history(roomId), -this.options.limit, -1);
    const out: ChatMessage[] = [];
    for (const member of retained) {
      if (member.slice(0, member.indexOf("\n")) <= afterId) continue;
      const parsed = parseMember(member);
      if (!parsed || parsed.stored.deleted || !parsed.stored.sequenced) continue;
      out.push(toEntry(parsed.id, roomId, parsed.stored) as ChatMessage);
    }
    return out;
  }

  private parse(roomId: string, members: string[]): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (const member of members) {
      const parsed = parseMember(member);
      if (parsed) out.push(toEntry(parsed.id, roomId, parsed.stored));
    }
    return out;
  }

  /**
   * Edits or deletes a message: read it, check its author, then swap the member in one
   * script that fails when the member changed meanwhile (then read again).
   */
  async change(change: MessageChange): Promise<ChangeResult> {
    await this.flush(); // the message may still be queued here
    const key = this.keys.history(change.roomId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const [raw] = await this.redis.zrangeBuffer(
        key,
        Buffer.from(`[${change.id}\n`),
        Buffer.concat([Buffer.from(`(${change.id}\n`), AFTER_ALL]),
        "BYLEX",
        "LIMIT",
        0,
        1,
      );
      const member = raw?.toString();
      const parsed = member === undefined ? undefined : parseMember(member);
      if (!parsed) return { ok: false, reason: "NOT_FOUND" };
      const applied = applyChange(parsed.stored, change);
      if (!applied.ok) return applied;
      const replaced = await this.redis.historyReplace(
        key,
        this.keys.historyBytes(change.roomId),
        member!,
        memberOf(change.id, applied.stored),
      );
      if (replaced === 1) return { ok: true, entry: applied.entry };
    }
    throw new Error("message changed concurrently too often");
  }

  async claimClientMessageId(
    roomId: string,
    userId: string,
    clientMessageId: string,
    messageId: string,
  ): Promise<string | null> {
    const claim = this.keys.dedupe(roomId, userId, clientMessageId);
    const history = this.keys.history(roomId);
    const argv = [
      messageId,
      String(this.options.dedupeWindowMs),
      String(this.inFlightMs),
      this.options.limit > 0 ? "1" : "0",
    ];
    for (let flushed = false; ;) {
      const [verdict, firstId, waitMs] = await this.redis.historyClaim(claim, history, ...argv);
      if (verdict === "new") return null;
      if (verdict === "duplicate") return firstId!;
      // The first copy is on its way to the history: ours to write now if it is queued here,
      // else wait for its instance's write (or its failure) and ask again.
      if (!flushed) {
        flushed = true;
        await this.flush();
      } else {
        await sleep(Math.min(Number(waitMs ?? 0) + 10, this.inFlightMs));
      }
    }
  }
}

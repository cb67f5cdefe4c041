import type { HistoryPage, HistoryStore } from "../history/history-store.js";
import type { RoomHosts } from "../presence/room-hosts.js";

/**
 * The join's one rule about messages: **no gap between the history a joiner gets and what
 * reaches it live** (they may overlap; clients dedupe by id). Owned here, whole:
 *
 * 1. This instance marks the room hosted (RoomHosts.beginJoin) before the store is asked, so
 *    an introduction from another host arriving meanwhile is not lost; and, when it did not
 *    host the room yet, listens to the room's one-order channel (split rooms' messages)
 *    before anything is read: what is published before that is stored before it, and the
 *    read has it.
 * 2. The socket enters the room and the store is asked (`enter`, the caller's): from then
 *    on, what this instance delivers reaches the socket live.
 * 3. The history is read. With no other hosts, a read made at once is enough: it follows the
 *    socket's entry and this instance's queued appends (the read flushes them). With other
 *    hosts, they are introduced first and answer once they have stored what they sent before
 *    and know this instance hosts the room (so they publish what they send next): the read
 *    made after that has everything up to where live delivery starts.
 */
export class RoomEntry {
  constructor(
    private readonly hosts: RoomHosts,
    private readonly history: Pick<HistoryStore, "since">,
    /** Listens to the room's one-order channel; resolves once its messages reach this instance. */
    private readonly listen: (roomId: string) => Promise<void>,
  ) {}

  /**
   * Runs `enter` (which must put the socket in the room synchronously, then ask the store)
   * within the rule above; resolves with what `enter` resolved to and the joiner's history.
   */
  async join<T extends { remoteHosts?: string[] }>(
    roomId: string,
    lastMessageId: string | undefined,
    enter: () => Promise<T>,
  ): Promise<{ entered: T; page: HistoryPage }> {
    const firstLocal = this.hosts.beginJoin(roomId);
    const listening = firstLocal ? this.listen(roomId) : undefined;
    const entering = enter();
    const reading = listening
      ? listening.then(() => this.history.since(roomId, lastMessageId))
      : this.history.since(roomId, lastMessageId);
    reading.catch(() => {}); // awaited below only when no introduction supersedes it
    const entered = await entering;
    const introduced = await this.hosts.joined(roomId, entered.remoteHosts, firstLocal);
    const page = introduced ? await this.history.since(roomId, lastMessageId) : await reading;
    return { entered, page };
  }
}

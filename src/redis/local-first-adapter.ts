import type { Adapter, BroadcastOptions } from "socket.io-adapter";

/**
 * The one place that decides whether a broadcast needs Redis: a Socket.IO Redis adapter
 * (classic or sharded) whose broadcasts to a single room stay on this instance when
 * `needsPublish(room)` says no other instance hosts it, as if sent with the `local` flag.
 * Every broadcast goes through here, whoever emits it (`io.to(room)`, a socket, the presence
 * sweeper), so no caller chooses between `io` and `io.local`.
 *
 * Most rooms (two candidates) live on one instance: publishing their messages would cost a
 * PUBLISH, Redis fanning it out and this instance decoding its own message back, about a
 * third of the message path's CPU (docs/architecture.md, "Publishing only when needed").
 *
 * The factory's adapter is given a subclass of its own class (the sharded adapter's class is
 * not exported, so it is derived from the instance), overriding `broadcast` as Socket.IO's
 * own ClusterAdapter subclasses override its hooks.
 */
export function localFirst<Namespace>(
  /** What Socket.IO's `adapter` option takes: a factory of one adapter per namespace. */
  factory: (nsp: Namespace) => Adapter,
  needsPublish: (room: string) => boolean,
): (nsp: Namespace) => Adapter {
  let LocalFirst: (new () => Adapter) | undefined;
  // A function, not an arrow: Socket.IO calls it with `new` (the object returned is the adapter).
  return function (nsp: Namespace) {
    const adapter = factory(nsp);
    if (!LocalFirst) {
      const Base = Object.getPrototypeOf(adapter) as Adapter;
      LocalFirst = class extends (Base.constructor as new () => Adapter) {
        override broadcast(packet: unknown, opts: BroadcastOptions): void {
          if (!opts.flags?.local && opts.rooms.size === 1) {
            const [room] = opts.rooms;
            if (!needsPublish(room as string)) opts.flags = { ...opts.flags, local: true };
          }
          super.broadcast(packet, opts);
        }
      };
    }
    Object.setPrototypeOf(adapter, LocalFirst.prototype);
    return adapter;
  };
}

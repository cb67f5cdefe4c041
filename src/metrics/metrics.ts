import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

/** What the metrics read from the running service when scraped. */
export interface MetricsSources {
  connectedSockets: () => number;
  localUsersAndRooms: () => { users: number; rooms: number };
  redisShared: () => boolean;
}

/** The service's Prometheus metrics, in a registry of their own (plus the default process metrics). */
export class Metrics {
  readonly registry = new Registry();
  readonly messagesIn: Counter<"result">;
  readonly messagesOut: Counter;
  readonly notices: Counter<"type">;
  readonly refused: Counter<"event" | "code">;
  /** Accepted edits, deletes and relayed typing changes. */
  readonly changes: Counter<"kind">;
  readonly redisErrors: Counter<"kind">;
  /**
   * Accepted messages and their deliveries since the last scrape: plain numbers on the
   * message path, handed to the counters when scraped (a labelled `inc()` allocates on every
   * call, and this runs once per message).
   */
  private unreported = { accepted: 0, deliveries: 0 };

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    const unreported = this.unreported;
    this.messagesIn = new Counter({
      name: "chat_messages_in_total",
      help: "send_message events, by result (accepted or refused)",
      labelNames: ["result"],
      registers,
      collect() {
        this.inc({ result: "accepted" }, unreported.accepted);
        unreported.accepted = 0;
      },
    });
    this.messagesOut = new Counter({
      name: "chat_messages_out_total",
      help: "receive_message deliveries to this instance's sockets for messages sent here",
      registers,
      collect() {
        this.inc(unreported.deliveries);
        unreported.deliveries = 0;
      },
    });
    this.notices = new Counter({
      name: "chat_notices_total",
      help: "system_message notices sent, by eventType",
      labelNames: ["type"],
      registers,
    });
    this.refused = new Counter({
      name: "chat_refused_events_total",
      help: "Refused client events, by event and error code",
      labelNames: ["event", "code"],
      registers,
    });
    this.changes = new Counter({
      name: "chat_message_changes_total",
      help: "Accepted edit_message and delete_message events, and typing changes relayed, by kind",
      labelNames: ["kind"],
      registers,
    });
    this.redisErrors = new Counter({
      name: "chat_redis_errors_total",
      help: "Redis failures: failed publishes and switches to memory mode",
      labelNames: ["kind"],
      registers,
    });
  }

  /**
   * Registers the gauges that read the running service when scraped, once its parts exist
   * (the counters above are counted into while they are being built).
   */
  watch(sources: MetricsSources): void {
    const registers = [this.registry];
    new Gauge({
      name: "chat_connected_sockets",
      help: "Socket.IO connections open on this instance",
      registers,
      collect() {
        this.set(sources.connectedSockets());
      },
    });
    new Gauge({
      name: "chat_joined_users",
      help: "Users joined to a room on this instance (in their grace period included)",
      registers,
      collect() {
        this.set(sources.localUsersAndRooms().users);
      },
    });
    new Gauge({
      name: "chat_rooms",
      help: "Rooms with at least one user on this instance",
      registers,
      collect() {
        this.set(sources.localUsersAndRooms().rooms);
      },
    });
    new Gauge({
      name: "chat_redis_mode",
      help: "1 while room state is shared in Redis, 0 while served from memory",
      registers,
      collect() {
        this.set(sources.redisShared() ? 1 : 0);
      },
    });
  }

  /** Counts an accepted message and its deliveries on this instance. */
  messageAccepted(deliveries: number): void {
    this.unreported.accepted++;
    this.unreported.deliveries += deliveries;
  }
}

import type { ChatErrorBody } from "./errors.js";
import type { TokenIdentity } from "../auth/token-verifier.js";

export type Ack = (response: AckResponse) => void;
export type AckResponse = ({ ok: true } & Record<string, unknown>) | { ok: false; error: ChatErrorBody };

/** Events a client sends. Payloads are `unknown`: everything is validated before use. */
export interface ClientToServerEvents {
  join_room: (payload: unknown, ack?: Ack) => void;
  send_message: (payload: unknown, ack?: Ack) => void;
  leave_session: (payload?: unknown, ack?: Ack) => void;
  typing: (payload: unknown, ack?: Ack) => void;
  edit_message: (payload: unknown, ack?: Ack) => void;
  delete_message: (payload: unknown, ack?: Ack) => void;
}

export type {
  ChatHistory,
  ChatMessage,
  HistoryEntry,
  MessageDeleted,
  MessageTombstone,
  MessageUpdated,
  ServerToClientEvents,
  SystemEventType,
  SystemMessage,
  UserTyping,
} from "../../client/dist/protocol.js";

export type InterServerEvents = Record<string, never>;

/** What a socket is: its verified token (when auth is on), and its identity once joined. */
export interface SocketData {
  token?: TokenIdentity;
  userId?: string;
  username?: string;
  roomId?: string;
}

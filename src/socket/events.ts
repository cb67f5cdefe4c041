import type { ChatErrorBody } from "./errors.js";
import type { TokenIdentity } from "../auth/token-verifier.js";
import type { UserRef } from "../store/room-store.js";

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

/** `receive_message`: the seed's fields plus the deployed web client's names (senderId, text). */
export interface ChatMessage {
  id: string;
  roomId: string;
  userId: string;
  username: string;
  content: string;
  timestamp: number;
  serverTimestamp: number;
  senderId: string;
  text: string;
  /** The sender's own id for the message, when it gave one. */
  clientMessageId?: string;
  /** When the author last edited it (server time, ms). */
  editedAt?: number;
}

/** What history returns for a deleted message. */
export interface MessageTombstone {
  id: string;
  roomId: string;
  deleted: true;
  deletedAt: number;
}

/** A message of the history: its current version, or its tombstone. */
export type HistoryEntry = ChatMessage | MessageTombstone;

/** `message_updated`: an edit, sent to the room's other sockets. */
export interface MessageUpdated {
  id: string;
  roomId: string;
  userId: string;
  username: string;
  content: string;
  text: string;
  editedAt: number;
}

/** `message_deleted`: a delete, sent to the room's other sockets. */
export interface MessageDeleted {
  id: string;
  roomId: string;
  deletedAt: number;
}

/** `user_typing`: whether a user of the room is typing. */
export interface UserTyping {
  roomId: string;
  userId: string;
  username: string;
  isTyping: boolean;
}

/** `chat_history`: a room's stored messages, oldest first (sent on every join). */
export interface ChatHistory {
  roomId: string;
  messages: HistoryEntry[];
  /** False when a catch-up by `lastMessageId` could not be complete (see HistoryPage). */
  complete: boolean;
}

export type SystemEventType = "connect" | "reconnect" | "disconnect" | "existing_users";

/** `system_message`: the seed's fields plus `event` (= eventType) and a readable `text`. */
export interface SystemMessage {
  eventType: SystemEventType;
  event: SystemEventType;
  roomId: string;
  userId?: string;
  username?: string;
  users?: UserRef[];
  text: string;
  timestamp: number;
}

export interface ServerToClientEvents {
  receive_message: (message: ChatMessage) => void;
  system_message: (message: SystemMessage) => void;
  chat_error: (error: ChatErrorBody & { event: string }) => void;
  chat_history: (history: ChatHistory) => void;
  user_typing: (typing: UserTyping) => void;
  message_updated: (update: MessageUpdated) => void;
  message_deleted: (deletion: MessageDeleted) => void;
}

export type InterServerEvents = Record<string, never>;

/** What a socket is: its verified token (when auth is on), and its identity once joined. */
export interface SocketData {
  token?: TokenIdentity;
  userId?: string;
  username?: string;
  roomId?: string;
}

/**
 * The PeerPrep chat protocol's payloads (docs/PROTOCOL.md), shared by the server and this
 * client: the server compiles against these declarations, so the two cannot drift apart.
 * Types only: nothing here exists at run time.
 */

/** Why an event was refused (`error.code` of an acknowledgement, `code` of `chat_error`). */
export type ErrorCode =
  | "INVALID_PAYLOAD"
  | "MESSAGE_TOO_LONG"
  | "NOT_JOINED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "UNKNOWN_EVENT"
  | "RATE_LIMITED"
  | "JOIN_TIMEOUT"
  | "TOKEN_EXPIRED"
  | "INTERNAL_ERROR";

export interface ChatErrorBody {
  code: ErrorCode;
  message: string;
}

/** A user as presence lists them. */
export interface UserRef {
  userId: string;
  username: string;
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

/** `chat_history`: a room's retained messages, oldest first (sent on every join). */
export interface ChatHistory {
  roomId: string;
  messages: HistoryEntry[];
  /** False when a catch-up by `lastMessageId` could not be complete: some messages were missed. */
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

/** `chat_error`: a refusal of an event sent without an acknowledgement callback. */
export type ChatErrorEvent = ChatErrorBody & { event: string };

/** Events the server sends. */
export interface ServerToClientEvents {
  receive_message: (message: ChatMessage) => void;
  system_message: (message: SystemMessage) => void;
  chat_error: (error: ChatErrorEvent) => void;
  chat_history: (history: ChatHistory) => void;
  user_typing: (typing: UserTyping) => void;
  message_updated: (update: MessageUpdated) => void;
  message_deleted: (deletion: MessageDeleted) => void;
}

/** A refused event's acknowledgement. */
export interface Refusal {
  ok: false;
  error: ChatErrorBody;
}

/** `join_room`'s payload. */
export interface JoinRoom {
  userId: string;
  username: string;
  roomId: string;
  /** The newest message id this client holds: only later messages (and changes) come back. */
  lastMessageId?: string;
}

export type JoinAck =
  { ok: true; roomId: string; userId: string; users: UserRef[]; messages: HistoryEntry[]; complete: boolean } | Refusal;

/** `send_message`'s payload (the seed's shape; `{message: {senderId, text}}` is accepted too). */
export interface SendMessage {
  message: { userId: string; username?: string; content: string; timestamp?: number; clientMessageId?: string };
}

export type SendAck = { ok: true; id: string; timestamp?: number; duplicate?: true; stored?: false } | Refusal;
export type EditAck = { ok: true; id: string; editedAt: number } | Refusal;
export type DeleteAck = { ok: true; id: string; deletedAt: number } | Refusal;
export type PlainAck = { ok: true } | Refusal;

/** Events a client sends, with their acknowledgements. */
export interface ClientToServerEvents {
  join_room: (payload: JoinRoom, ack: (response: JoinAck) => void) => void;
  send_message: (payload: SendMessage, ack: (response: SendAck) => void) => void;
  leave_session: (ack: (response: PlainAck) => void) => void;
  typing: (payload: { isTyping: boolean }, ack: (response: PlainAck) => void) => void;
  edit_message: (payload: { id: string; content: string }, ack: (response: EditAck) => void) => void;
  delete_message: (payload: { id: string }, ack: (response: DeleteAck) => void) => void;
}

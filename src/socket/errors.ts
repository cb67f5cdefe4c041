/** Why an event was refused; sent as `code` in acknowledgements and `chat_error` events. */
export const ErrorCode = {
  InvalidPayload: "INVALID_PAYLOAD",
  MessageTooLong: "MESSAGE_TOO_LONG",
  NotJoined: "NOT_JOINED",
  Forbidden: "FORBIDDEN",
  /** No such message in the room's retained history. */
  NotFound: "NOT_FOUND",
  UnknownEvent: "UNKNOWN_EVENT",
  RateLimited: "RATE_LIMITED",
  /** The connection did not join a room within JOIN_TIMEOUT_MS and is being closed. */
  JoinTimeout: "JOIN_TIMEOUT",
  /** The connection's token expired; it is being closed (reconnect with a fresh token). */
  TokenExpired: "TOKEN_EXPIRED",
  Internal: "INTERNAL_ERROR",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ChatErrorBody {
  code: ErrorCode;
  message: string;
}

/** A refusal meant for the client: the handler answers it and nothing else happens. */
export class ChatError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  get body(): ChatErrorBody {
    return { code: this.code, message: this.message };
  }
}

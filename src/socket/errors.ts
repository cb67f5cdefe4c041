import type { ChatErrorBody, ErrorCode as ProtocolErrorCode } from "../../client/dist/protocol.js";

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

/** The protocol's list of codes (client/src/protocol.ts) is this one: each must be the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const sameCodes: Same<ErrorCode, ProtocolErrorCode> = true;
void sameCodes;

export type { ChatErrorBody } from "../../client/dist/protocol.js";

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

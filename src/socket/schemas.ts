import { z } from "zod";

/**
 * What identifiers and display names may not contain: C0 and C1 control characters (they
 * break logs, keys and displays) and bidirectional overrides and isolates (they make a name
 * read as something it is not). Lone UTF-16 surrogates are refused by `isWellFormed`.
 */
// eslint-disable-next-line no-control-regex
const forbiddenInNames = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Message content may hold line breaks and tabs, but no other control character. */
// eslint-disable-next-line no-control-regex
const forbiddenInContent = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Longest identifier or display name, in UTF-8 bytes (128 four-byte characters would be 512). */
export const MAX_IDENTIFIER_BYTES = 128;

/** A non-empty, well-formed, printable string of at most {@link MAX_IDENTIFIER_BYTES} bytes. */
const identifier = (what: string) =>
  z
    .string({ message: `${what} must be a string` })
    .min(1, { message: `${what} must not be empty` })
    .refine((v) => Buffer.byteLength(v) <= MAX_IDENTIFIER_BYTES, {
      message: `${what} must be at most ${MAX_IDENTIFIER_BYTES} bytes (UTF-8)`,
    })
    .refine((v) => v.isWellFormed(), { message: `${what} must be valid Unicode (no lone surrogates)` })
    .refine((v) => !forbiddenInNames.test(v), {
      message: `${what} must not contain control characters or bidirectional overrides`,
    });

/** Whether `v` is a valid identifier or display name: the rules of the schemas below. */
const anyIdentifier = identifier("value");
export const isValidIdentifier = (v: string): boolean => anyIdentifier.safeParse(v).success;

/** Message content: well-formed Unicode without control characters other than \n, \r and \t. */
const content = (what: string) =>
  z
    .string({ message: `${what} must be a string` })
    .refine((v) => v.isWellFormed(), { message: `${what} must be valid Unicode (no lone surrogates)` })
    .refine((v) => !forbiddenInContent.test(v), { message: `${what} must not contain control characters` });

export const joinRoomSchema = z.object(
  {
    userId: identifier("userId"),
    username: identifier("username"),
    roomId: identifier("roomId"),
    /** The last message this client saw: only later ones are sent back as history. */
    lastMessageId: identifier("lastMessageId").optional(),
  },
  { message: "join_room expects {userId, username, roomId}" },
);
export type JoinRoomPayload = z.infer<typeof joinRoomSchema>;

/**
 * `send_message` in either shape: the seed's `{userId, username, content, timestamp}` or the
 * deployed web client's `{senderId, text}`. Content length is checked separately, so a long
 * message gets its own error code.
 */
export const sendMessageSchema = z.object(
  {
    message: z
      .object(
        {
          userId: identifier("message.userId").optional(),
          senderId: identifier("message.senderId").optional(),
          username: z.string().optional(),
          content: content("message.content").optional(),
          text: content("message.text").optional(),
          timestamp: z.number().finite().nonnegative().optional(),
          /** Chosen by the client; a retry with the same one is not delivered twice. */
          clientMessageId: identifier("message.clientMessageId").optional(),
        },
        { message: "message must be an object" },
      )
      .refine((m) => m.userId !== undefined || m.senderId !== undefined, {
        message: "message.userId (or senderId) is required",
      })
      .refine((m) => m.content !== undefined || m.text !== undefined, {
        message: "message.content (or text) is required",
      }),
  },
  { message: "send_message expects {message: {...}}" },
);
export type SendMessagePayload = z.infer<typeof sendMessageSchema>;

/** `typing`: whether the user is typing in the socket's room. */
export const typingSchema = z.object(
  { isTyping: z.boolean({ message: "isTyping must be true or false" }) },
  { message: "typing expects {isTyping}" },
);

/** `edit_message`: new content for one of the user's own messages. */
export const editMessageSchema = z.object(
  { id: identifier("id"), content: content("content") },
  { message: "edit_message expects {id, content}" },
);

/** `delete_message`: one of the user's own messages. */
export const deleteMessageSchema = z.object({ id: identifier("id") }, { message: "delete_message expects {id}" });

/** The first problem of a failed parse, as one sentence. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? issue.message : "invalid payload";
}

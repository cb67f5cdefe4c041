import { z } from "zod";

/** Printable text: no control characters (they would break logs, keys and displays). */
// eslint-disable-next-line no-control-regex
const noControlChars = /^[^\u0000-\u001f\u007f]*$/;

const identifier = (what: string) =>
  z
    .string({ message: `${what} must be a string` })
    .min(1, { message: `${what} must not be empty` })
    .max(128, { message: `${what} must be at most 128 characters` })
    .regex(noControlChars, { message: `${what} must not contain control characters` });

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
          username: z.string().max(128).optional(),
          content: z.string({ message: "message.content must be a string" }).optional(),
          text: z.string({ message: "message.text must be a string" }).optional(),
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

/** The first problem of a failed parse, as one sentence. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? issue.message : "invalid payload";
}

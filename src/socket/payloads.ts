import type { UserRef } from "../store/room-store.js";
import type { SystemEventType, SystemMessage } from "./events.js";

const TEXT: Record<Exclude<SystemEventType, "existing_users">, (name: string) => string> = {
  connect: (name) => `${name} has entered the chat.`,
  reconnect: (name) => `${name} has reconnected.`,
  disconnect: (name) => `${name} has left the chat.`,
};

/** A join/leave notice about one user. */
export function userNotice(
  eventType: Exclude<SystemEventType, "existing_users">,
  roomId: string,
  user: UserRef,
): SystemMessage {
  return {
    eventType,
    event: eventType,
    roomId,
    userId: user.userId,
    username: user.username,
    text: TEXT[eventType](user.username),
    timestamp: Date.now(),
  };
}

/** The list of the other users present, sent to a socket on every join (`joiner` = who joined). */
export function existingUsers(roomId: string, joiner: UserRef, users: UserRef[]): SystemMessage {
  const names = users.map((u) => u.username);
  return {
    eventType: "existing_users",
    event: "existing_users",
    roomId,
    userId: joiner.userId,
    username: joiner.username,
    users,
    text: names.length === 0 ? "Nobody else is here yet." : `In the chat: ${names.join(", ")}.`,
    timestamp: Date.now(),
  };
}

const ROOM_PREFIX = "room:";

/** The Socket.IO room of a chat room (prefixed, so it never collides with a socket id). */
export const socketRoom = (roomId: string): string => `${ROOM_PREFIX}${roomId}`;

/** The chat room of a Socket.IO room, or undefined for other rooms (a socket's own). */
export const chatRoomOf = (room: string): string | undefined =>
  room.startsWith(ROOM_PREFIX) ? room.slice(ROOM_PREFIX.length) : undefined;

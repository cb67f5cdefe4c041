export { ChatClient, ChatRefusal, SOCKET_PATH } from "./chat-client.js";
export type { ChatClientEvents, ChatClientOptions, ClientMessage, ConnectionState } from "./chat-client.js";
export type * from "./protocol.js";

import { useCallback, useEffect, useMemo, useRef, useSyncExternalStore } from "react";
import { ChatClient, type ChatClientOptions, type ClientMessage, type ConnectionState } from "./chat-client.js";

export interface ChatState {
  messages: readonly ClientMessage[];
  /** userId → username of everyone in the room, this user included. */
  presence: ReadonlyMap<string, string>;
  /** userId → username of the others typing. */
  typing: ReadonlyMap<string, string>;
  connectionState: ConnectionState;
  /** True after a rejoin that could not catch up completely (cleared by `dismissDiscontinuity`). */
  discontinuity: boolean;
  send: (content: string) => void;
  edit: (id: string, content: string) => Promise<void>;
  remove: (id: string) => Promise<void>;
  setTyping: (isTyping: boolean) => void;
  leave: () => Promise<void>;
  dismissDiscontinuity: () => void;
}

/**
 * One room of the chat service as React state. The client is made when the component mounts
 * (and again when the room or user changes) and closed when it unmounts.
 *
 * ```tsx
 * const chat = useChat({ url, userId, username, roomId, token: () => auth.freshToken() });
 * chat.messages.map((m) => <Message key={m.id} message={m} />);
 * ```
 */
export function useChat(options: ChatClientOptions): ChatState {
  const { url, userId, username, roomId } = options;
  const latest = useRef(options);
  latest.current = options;
  const client = useMemo(
    () => new ChatClient({ ...latest.current, token: latest.current.token }),
    // A new client for a new room or user; other option changes apply to the next one.
    [url, userId, username, roomId],
  );
  useEffect(() => () => client.close(), [client]);

  const discontinuity = useRef(false);
  const version = useRef(0);
  const notifyRef = useRef<() => void>(() => {});
  const subscribe = useCallback(
    (notify: () => void) => {
      notifyRef.current = () => {
        version.current++;
        notify();
      };
      const offChange = client.on("change", () => notifyRef.current());
      const offGap = client.on("discontinuity", () => {
        discontinuity.current = true;
        notifyRef.current();
      });
      return () => {
        offChange();
        offGap();
        notifyRef.current = () => {};
      };
    },
    [client],
  );
  useSyncExternalStore(
    subscribe,
    () => version.current,
    () => version.current,
  );

  return {
    messages: client.messages,
    presence: client.presence,
    typing: client.typing,
    connectionState: client.connectionState,
    discontinuity: discontinuity.current,
    send: (content) => void client.send(content),
    edit: (id, content) => client.edit(id, content),
    remove: (id) => client.delete(id),
    setTyping: (isTyping) => client.setTyping(isTyping),
    leave: () => client.leave(),
    dismissDiscontinuity: () => {
      discontinuity.current = false;
      notifyRef.current();
    },
  };
}

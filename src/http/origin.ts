import type { IncomingMessage } from "node:http";

/**
 * Engine.IO `allowRequest` hook: refuses a handshake from a browser origin outside the
 * allow-list, for the WebSocket upgrade as well as for polling. Requests without an Origin
 * header (servers, CLIs, tests) are allowed.
 */
export function originGuard(allowed: readonly string[]) {
  const set = new Set(allowed);
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const origin = req.headers.origin;
    if (origin === undefined || set.has(origin)) callback(null, true);
    else callback("origin not allowed", false);
  };
}

import type { IncomingMessage } from "node:http";

/**
 * Engine.IO `allowRequest` hook: refuses a handshake from a browser origin outside the
 * allow-list, for the WebSocket upgrade as well as for polling. Requests without an Origin
 * header (servers, CLIs, tests) are allowed. With `sameOrigin` (only while the demo page is
 * served), so are pages this service served itself (the Origin's host is the request's Host);
 * otherwise that exception would let any site reach the service through DNS rebinding.
 */
export function originGuard(allowed: readonly string[], options: { sameOrigin: boolean }) {
  const set = new Set(allowed);
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const origin = req.headers.origin;
    if (origin === undefined || set.has(origin) || (options.sameOrigin && sameOrigin(origin, req.headers.host))) {
      callback(null, true);
    } else callback("origin not allowed", false);
  };
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

import type { IncomingMessage } from "node:http";

/**
 * Engine.IO `allowRequest` hook: refuses a handshake from a browser origin outside the
 * allow-list, for the WebSocket upgrade as well as for polling. Requests without an Origin
 * header (servers, CLIs, tests) are allowed, and so are pages this service served itself
 * (same origin: the Origin's host is the request's Host), such as the demo page.
 */
export function originGuard(allowed: readonly string[]) {
  const set = new Set(allowed);
  return (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void => {
    const origin = req.headers.origin;
    if (origin === undefined || set.has(origin) || sameOrigin(origin, req.headers.host)) callback(null, true);
    else callback("origin not allowed", false);
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

import WebSocket from "ws";

/**
 * Runs a full garbage collection in another Node process (by pid), so that its RSS counts what
 * it keeps rather than what it has not collected yet: SIGUSR1 opens the process's inspector
 * on 127.0.0.1:9229, and `HeapProfiler.collectGarbage` is sent over it. Used by the memory
 * scenario, on the floor and the service alike. One such process at a time (fixed port).
 */
export async function collectGarbage(pid: number, timeoutMs = 10_000): Promise<void> {
  process.kill(pid, "SIGUSR1");
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (url === undefined) {
    url = await fetch("http://127.0.0.1:9229/json/list").then(
      async (r) => ((await r.json()) as { webSocketDebuggerUrl: string }[])[0]?.webSocketDebuggerUrl,
      () => undefined,
    );
    if (url === undefined) {
      if (Date.now() > deadline) throw new Error(`no inspector on process ${pid}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("collectGarbage timed out")), timeoutMs);
      ws.once("error", reject);
      ws.once("open", () => ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" })));
      ws.on("message", (data) => {
        if ((JSON.parse(String(data)) as { id?: number }).id !== 1) return;
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    ws.close();
  }
}

import { createConnection } from "node:net";

export interface MonitoredCommand {
  args: string[];
  /** "lua" for commands a script ran, else the client address. */
  source: string;
  /** When Redis ran it (ms since the epoch, Redis's clock: this machine's). */
  at: number;
}

/**
 * Redis MONITOR on each of `ports` (every master of a cluster), over raw sockets (ioredis's
 * monitor mode can trip over output that arrives with its own OK on a busy server). Resolves
 * once MONITOR is active on all; `commands` holds what any of them saw.
 */
export async function monitor(...ports: number[]): Promise<{ commands: MonitoredCommand[]; stop: () => void }> {
  const watches = await Promise.all(ports.map(monitorOne));
  const commands: MonitoredCommand[] = [];
  for (const w of watches) w.commands.push = (...items: MonitoredCommand[]) => commands.push(...items);
  return { commands, stop: () => watches.forEach((w) => w.stop()) };
}

async function monitorOne(port: number): Promise<{ commands: MonitoredCommand[]; stop: () => void }> {
  const socket = createConnection(port, "127.0.0.1");
  const commands: MonitoredCommand[] = [];
  let buffer = "";
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (line === "+OK") resolve();
        // +<time> [<db> <source>] "arg" "arg" ...
        const match = /^\+([\d.]+) \[\d+ ([^\]]+)\] (.*)$/.exec(line);
        if (!match) continue;
        const args = [...match[3]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, "$1"));
        commands.push({ args, source: match[2]!, at: Number(match[1]) * 1000 });
      }
    });
    socket.write("MONITOR\r\n");
  });
  return { commands, stop: () => socket.destroy() };
}

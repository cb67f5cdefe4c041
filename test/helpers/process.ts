import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";
import { testEnv } from "./service.js";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

/** Every child this test process started; killed when it exits, whatever failed before. */
const children = new Set<ChildProcess>();
process.once("exit", () => children.forEach((c) => c.kill("SIGKILL")));

/** Spawns a child that is killed when this process exits. */
export function spawnTracked(...args: Parameters<typeof spawn>): ChildProcess {
  const child = spawn(...args);
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/**
 * The built service (`dist/main.js`, built by `npm test` first) as a real child process,
 * on its own free port; its JSON log lines are kept for assertions.
 */
export class ServiceProcess {
  readonly logs: Record<string, unknown>[] = [];
  stderr = "";
  private child: ChildProcess | undefined;
  private exit: Promise<number | null> | undefined;

  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  /** Starts an instance and waits until it listens. */
  static async start(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    const p = new ServiceProcess(port, testEnv({ LOG_LEVEL: "info", ...env, PORT: String(port) }));
    await p.restart();
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process (again, on the same port) and waits for its "listening" log line. */
  async restart(): Promise<void> {
    const child = spawnTracked(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? "", ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.exit = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    // Ready when /ready answers 200 (whatever the log level).
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (!this.running) throw new Error(`service exited with ${child.exitCode}: ${this.stderr}`);
      const ok = await fetch(`${this.url}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`service did not become ready: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves with the first log line matching `match` (past or future). */
  async waitForLog(match: (entry: Record<string, unknown>) => boolean, timeoutMs = 10_000, what = String(match)) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for a log line: ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends a signal and waits for the exit; SIGKILL simulates a crash. Returns the exit code. */
  async kill(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    this.child!.kill(signal);
    return this.exit!;
  }
}

/** Runs the built service to completion (for start-up failures); returns its exit code and output. */
export function runToExit(env: Record<string, string>, timeoutMs = 10_000) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawnTracked(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? "", ...env } });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

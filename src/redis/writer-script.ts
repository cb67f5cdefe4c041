import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { RedisClientType } from "redis";

/** The text of a script of lua/ (every Redis script of the service lives there). */
export const readLuaScript = (file: string): string =>
  readFileSync(new URL(file, new URL("../../lua/", import.meta.url)), "utf8");

/**
 * A Lua script (a file of lua/) run on a node-redis connection by its SHA1, sent in full
 * only when Redis does not have it yet (after a restart, a SCRIPT FLUSH, or the first call).
 */
export class WriterScript {
  private readonly source: string;
  private readonly sha1: string;

  /** The script of `files`, concatenated (helpers first). */
  constructor(...files: string[]) {
    this.source = files.map(readLuaScript).join("\n");
    this.sha1 = createHash("sha1").update(this.source).digest("hex");
  }

  async run(client: RedisClientType, keys: string[], argv: string[]): Promise<unknown> {
    const args = [this.sha1, String(keys.length), ...keys, ...argv];
    try {
      return await client.sendCommand(["EVALSHA", ...args]);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith("NOSCRIPT"))) throw err;
      args[0] = this.source;
      return await client.sendCommand(["EVAL", ...args]);
    }
  }
}

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { RedisClientType } from "redis";

const luaDir = new URL("../../lua/", import.meta.url);

/**
 * A Lua script (a file of lua/) run on a node-redis connection by its SHA1, sent in full
 * only when Redis does not have it yet (after a restart, a SCRIPT FLUSH, or the first call).
 */
export class WriterScript {
  private readonly source: string;
  private readonly sha1: string;

  constructor(file: string) {
    this.source = readFileSync(new URL(file, luaDir), "utf8");
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

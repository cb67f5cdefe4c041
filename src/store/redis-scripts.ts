import type { Redis, Result } from "ioredis";
import { readLuaScript } from "../redis/writer-script.js";

const SCRIPTS: Record<string, { file: string; keys: number }> = {
  presenceJoin: { file: "join.lua", keys: 3 },
  presenceDrop: { file: "drop.lua", keys: 3 },
  presenceLeave: { file: "leave.lua", keys: 3 },
  presenceConfirmDue: { file: "confirm_due.lua", keys: 1 },
  presenceHeartbeat: { file: "heartbeat.lua", keys: 2 },
  presenceReapDead: { file: "reap_dead.lua", keys: 2 },
  presenceSync: { file: "sync.lua", keys: 2 },
  presenceDeregister: { file: "deregister.lua", keys: 3 },
  presenceRoomHosts: { file: "room_hosts.lua", keys: 0 },
};

type Arg = string | number;

declare module "ioredis" {
  interface RedisCommander<Context> {
    presenceJoin(k1: string, k2: string, k3: string, ...argv: Arg[]): Result<[string, string[], string[]], Context>;
    presenceRoomHosts(...argv: Arg[]): Result<(string | string[])[], Context>;
    presenceDrop(k1: string, k2: string, k3: string, ...argv: Arg[]): Result<number, Context>;
    presenceLeave(k1: string, k2: string, k3: string, ...argv: Arg[]): Result<[number, string], Context>;
    presenceConfirmDue(k1: string, ...argv: Arg[]): Result<string[], Context>;
    presenceHeartbeat(k1: string, k2: string, ...argv: Arg[]): Result<number, Context>;
    presenceReapDead(k1: string, k2: string, ...argv: Arg[]): Result<string[], Context>;
    presenceSync(k1: string, k2: string, ...argv: Arg[]): Result<[string[], string[]], Context>;
    presenceDeregister(k1: string, k2: string, k3: string, ...argv: Arg[]): Result<number, Context>;
  }
}

/** Registers the Lua scripts on a client (each is lib.lua followed by its own file). */
export function definePresenceScripts(client: Redis): void {
  const lib = readLuaScript("lib.lua");
  for (const [name, { file, keys }] of Object.entries(SCRIPTS)) {
    const body = readLuaScript(file);
    client.defineCommand(name, { numberOfKeys: keys, lua: `${lib}\n${body}` });
  }
}

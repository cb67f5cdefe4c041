import type { Result } from "ioredis";
import type { RedisClient } from "../redis/connection.js";
import { readLuaScript } from "../redis/lua.js";

/** The room scripts: each is lib.lua followed by its own file; `keys` = how many KEYS it takes. */
const ROOM_SCRIPTS: Record<string, { file: string; keys: number }> = {
  roomJoin: { file: "room_join.lua", keys: 3 },
  roomDrop: { file: "room_drop.lua", keys: 1 },
  roomLeave: { file: "room_leave.lua", keys: 3 },
  roomConfirm: { file: "room_confirm.lua", keys: 3 },
  roomRelease: { file: "room_release.lua", keys: 1 },
  roomRestore: { file: "room_restore.lua", keys: 3 },
  roomHosts: { file: "room_hosts.lua", keys: 1 },
};

type Arg = string | number;

declare module "ioredis" {
  interface RedisCommander<Context> {
    roomJoin(
      users: string,
      history: string,
      bytes: string,
      ...argv: Arg[]
    ): Result<[string, string[], string[]], Context>;
    roomDrop(users: string, ...argv: Arg[]): Result<[number, number, number], Context>;
    roomLeave(users: string, history: string, bytes: string, ...argv: Arg[]): Result<[number, string, number], Context>;
    roomConfirm(
      users: string,
      history: string,
      bytes: string,
      ...argv: Arg[]
    ): Result<[string, (string | number)?, number?], Context>;
    roomRelease(users: string, ...argv: Arg[]): Result<(string | number)[], Context>;
    roomRestore(users: string, history: string, bytes: string, ...argv: Arg[]): Result<[number, number], Context>;
    roomHosts(users: string, selfId: string): Result<string[], Context>;
    graceDue(shard: string, limit: number, lateMs: number): Result<string[], Context>; // member, score, ...
    graceForget(shard: string, member: string, score: number): Result<number, Context>;
  }
}

/** Registers the presence scripts on a client (a single node's or a cluster's). */
export function definePresenceScripts(client: RedisClient): void {
  const lib = readLuaScript("lib.lua");
  for (const [name, { file, keys }] of Object.entries(ROOM_SCRIPTS)) {
    client.defineCommand(name, { numberOfKeys: keys, lua: `${lib}\n${readLuaScript(file)}` });
  }
  client.defineCommand("graceDue", { numberOfKeys: 1, lua: readLuaScript("grace_due.lua") });
  client.defineCommand("graceForget", { numberOfKeys: 1, lua: readLuaScript("grace_forget.lua") });
}

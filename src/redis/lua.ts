import { readFileSync } from "node:fs";

/** The text of a script of lua/ (every Redis script of the service lives there). */
export const readLuaScript = (file: string): string =>
  readFileSync(new URL(file, new URL("../../lua/", import.meta.url)), "utf8");

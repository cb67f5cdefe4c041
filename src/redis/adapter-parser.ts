import msgpack from "notepack.io";

/** True when `value` holds binary data anywhere (Buffers, typed arrays, ArrayBuffers). */
function hasBinary(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== "object" || depth > 16) return false;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return true;
  if (Array.isArray(value)) return value.some((v) => hasBinary(v, depth + 1));
  for (const key in value) if (hasBinary((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

/**
 * How the Redis adapter encodes what it publishes: JSON, which V8 writes and reads natively,
 * instead of the default MessagePack, whose encoder and decoder are JavaScript and cost every
 * cross-instance message a few µs on each side (bench/RESULTS.md, lever 14). Binary payloads,
 * which JSON cannot carry, still go as MessagePack; reads accept both, so instances of the
 * previous version (MessagePack only) and this one understand each other during a rollout.
 */
export const adapterParser = {
  encode(message: unknown): string | Buffer {
    return hasBinary(message) ? msgpack.encode(message) : JSON.stringify(message);
  },
  decode(raw: Buffer | string): unknown {
    const first = typeof raw === "string" ? raw.charCodeAt(0) : raw[0];
    // A JSON text here is an array or an object; MessagePack starts those with other bytes.
    return first === 0x5b || first === 0x7b ? JSON.parse(raw.toString()) : msgpack.decode(raw as Buffer);
  },
};

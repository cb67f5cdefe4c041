import msgpack from "notepack.io";
import { describe, expect, it } from "vitest";
import { adapterParser } from "../../src/redis/adapter-parser.js";

// What the Redis adapter publishes for a broadcast: [uid, packet, options].
const broadcast = [
  "a1b2c3",
  { type: 2, data: ["receive_message", { id: "m-1", userId: "alice", content: "hi ☃", timestamp: 1 }], nsp: "/" },
  { rooms: ["room:r1"], except: ["sid1"], flags: { local: false } },
];

describe("the adapter's message encoding", () => {
  it("publishes JSON and reads it back unchanged", () => {
    const encoded = adapterParser.encode(broadcast);
    expect(typeof encoded).toBe("string");
    expect(adapterParser.decode(Buffer.from(encoded))).toEqual(broadcast);
  });

  it("reads MessagePack, as instances of the previous version publish it", () => {
    expect(adapterParser.decode(msgpack.encode(broadcast))).toEqual(broadcast);
  });

  it("keeps binary payloads intact by publishing them as MessagePack", () => {
    const withBinary = [broadcast[0], { type: 5, data: ["file", Buffer.from([0x5b, 1, 2])], nsp: "/" }, {}];
    const encoded = adapterParser.encode(withBinary);
    expect(Buffer.isBuffer(encoded)).toBe(true);
    const decoded = adapterParser.decode(encoded as Buffer) as [string, { data: [string, Buffer] }];
    expect(Buffer.from(decoded[1].data[1])).toEqual(Buffer.from([0x5b, 1, 2]));
  });
});

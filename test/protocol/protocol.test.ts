import assert from "node:assert/strict";
import { SimpleMerkleTree, StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { computeAddress, SigningKey } from "ethers";
import {
  CURVE_ORDER,
  InvalidInputError,
  KeyType,
  asHex,
  buildManifest,
  buildReadingBatch,
  decodeSignature,
  deviceIdOf,
  deviceKey,
  deviceKeyFromPublicKey,
  encodeSignature,
  encodeType,
  fromHex,
  keyHash,
  normalizeLowS,
  parseCurve,
  structHash,
  type Hex,
  type ReadingMessage,
} from "../../src/protocol/index.js";

const K1_ADDRESS_OF_ONE = "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf";

describe("protocol", () => {
  describe("asHex", () => {
    it("accepts and lower-cases hex of the stated length", () => {
      assert.equal(asHex("0xABcd", "x", 2), "0xabcd");
    });
    it("rejects non-hex, odd length and wrong length with InvalidInputError", () => {
      assert.throws(() => asHex("abcd", "x"), InvalidInputError);
      assert.throws(() => asHex("0xabc", "x"), InvalidInputError);
      assert.throws(() => asHex("0xabcd", "x", 3), /must be 3 bytes, got 2/);
    });
  });

  describe("parseCurve", () => {
    it("knows the usual names of both curves", () => {
      assert.equal(parseCurve("P-256"), "p256");
      assert.equal(parseCurve("secp256r1"), "p256");
      assert.equal(parseCurve("prime256v1"), "p256");
      assert.equal(parseCurve("secp256k1"), "secp256k1");
    });
    it("rejects an unknown curve with a message naming the choices", () => {
      assert.throws(() => parseCurve("ed25519"), /use p256 or secp256k1/);
    });
  });

  describe("deviceKey / keyHash / deviceIdOf", () => {
    it("checks key lengths per type", () => {
      assert.throws(() => deviceKey(KeyType.Secp256k1, `0x${"11".repeat(64)}`), /20 bytes/);
      assert.throws(() => deviceKey(KeyType.P256, `0x${"11".repeat(20)}`), /64 bytes/);
      assert.throws(() => deviceKey(KeyType.None, "0x"), /not supported/);
    });
    it("hashes uint8(keyType) ‖ key, and the first key's hash is the device id", () => {
      const k = deviceKey(KeyType.Secp256k1, K1_ADDRESS_OF_ONE);
      assert.equal(keyHash(k), deviceIdOf(k));
      assert.notEqual(
        keyHash(k),
        keyHash(deviceKey(KeyType.P256, `0x${"00".repeat(44)}${K1_ADDRESS_OF_ONE.slice(2)}`)),
      );
    });
  });

  describe("deviceKeyFromPublicKey", () => {
    it("maps a secp256k1 public key to its Ethereum address", () => {
      const pub = new SigningKey(`0x${"00".repeat(31)}01`).publicKey as Hex;
      const k = deviceKeyFromPublicKey("secp256k1", fromHex(pub));
      assert.equal(k.key, K1_ADDRESS_OF_ONE);
      assert.equal(k.key, computeAddress(pub).toLowerCase());
    });
    it("maps a P-256 public key to x ‖ y", () => {
      const pub = new Uint8Array(65);
      pub[0] = 4;
      pub.fill(7, 1);
      assert.equal(deviceKeyFromPublicKey("p256", pub).key, `0x${"07".repeat(64)}`);
    });
    it("rejects compressed or truncated keys", () => {
      assert.throws(() => deviceKeyFromPublicKey("p256", new Uint8Array(33)), /uncompressed/);
    });
  });

  describe("normalizeLowS", () => {
    for (const curve of ["p256", "secp256k1"] as const) {
      const n = CURVE_ORDER[curve];
      it(`${curve}: flips a high s to n - s and keeps a low s`, () => {
        assert.deepEqual(normalizeLowS(curve, { r: 1n, s: n - 1n }), { r: 1n, s: 1n });
        assert.deepEqual(normalizeLowS(curve, { r: 1n, s: n / 2n }), { r: 1n, s: n / 2n });
      });
      it(`${curve}: rejects r or s out of range`, () => {
        assert.throws(() => normalizeLowS(curve, { r: 0n, s: 1n }), InvalidInputError);
        assert.throws(() => normalizeLowS(curve, { r: 1n, s: n }), InvalidInputError);
      });
    }
    it("secp256k1: flipping s flips the recovery id", () => {
      const n = CURVE_ORDER.secp256k1;
      assert.deepEqual(normalizeLowS("secp256k1", { r: 5n, s: n - 2n, recovery: 1 }), {
        r: 5n,
        s: 2n,
        recovery: 0,
      });
    });
  });

  describe("encodeSignature / decodeSignature", () => {
    it("round-trips both layouts", () => {
      const p = encodeSignature(KeyType.P256, { r: 3n, s: 4n });
      assert.equal(fromHex(p).length, 64);
      assert.deepEqual(decodeSignature(KeyType.P256, p), { r: 3n, s: 4n });
      const k = encodeSignature(KeyType.Secp256k1, { r: 3n, s: 4n, recovery: 1 });
      assert.equal(k.slice(-2), "1c");
      assert.deepEqual(decodeSignature(KeyType.Secp256k1, k), { r: 3n, s: 4n, recovery: 1 });
    });
    it("refuses a secp256k1 signature without its recovery id, and bad v", () => {
      assert.throws(() => encodeSignature(KeyType.Secp256k1, { r: 3n, s: 4n }), /recovery id/);
      const bad = `${encodeSignature(KeyType.P256, { r: 3n, s: 4n })}1d` as Hex;
      assert.throws(() => decodeSignature(KeyType.Secp256k1, bad), /27 or 28/);
    });
  });

  describe("encodeType", () => {
    it("gives the exact type strings of DeviceMessageLib", () => {
      assert.equal(
        encodeType("Register"),
        "Register(bytes32 deviceId,address operator,uint256 nonce,uint256 deadline)",
      );
      assert.equal(encodeType("Endorse"), "Endorse(bytes32 deviceId,uint32 model)");
    });
  });

  describe("buildManifest", () => {
    const ids = [1, 2, 3, 4, 5].map((i): Hex => `0x${i.toString(16).padStart(64, "0")}`);
    it("gives every device a proof that OpenZeppelin's StandardMerkleTree verifies", () => {
      const m = buildManifest(ids.map((deviceId, i) => ({ deviceId, model: i })));
      for (const e of m.entries) {
        assert.ok(
          StandardMerkleTree.verify(
            m.root,
            ["bytes32", "uint32"],
            [e.deviceId, e.model],
            [...e.proof],
          ),
        );
      }
    });
    it("rejects an empty manifest and duplicate devices", () => {
      assert.throws(() => buildManifest([]), /at least one/);
      assert.throws(
        () =>
          buildManifest([
            { deviceId: ids[0] as Hex, model: 1 },
            { deviceId: ids[0] as Hex, model: 2 },
          ]),
        /twice/,
      );
    });
  });

  describe("buildReadingBatch", () => {
    const deviceId: Hex = `0x${"aa".repeat(32)}`;
    const feedId: Hex = `0x${"bb".repeat(32)}`;
    const readings: ReadingMessage[] = [5n, 6n, 9n].map((sequence, i) => ({
      deviceId,
      feedId,
      sequence,
      timestamp: 1000n - BigInt(i),
      value: BigInt(i) - 1n,
    }));
    it("summarizes the range and proves each reading's struct hash", () => {
      const b = buildReadingBatch(readings);
      assert.equal(b.batch.firstSequence, 5n);
      assert.equal(b.batch.lastSequence, 9n);
      assert.equal(b.batch.count, 3n);
      assert.equal(b.batch.fromTimestamp, 998n);
      assert.equal(b.batch.toTimestamp, 1000n);
      readings.forEach((r, i) => {
        assert.ok(
          SimpleMerkleTree.verify(b.batch.root, structHash("Reading", r), [...(b.proofs[i] ?? [])]),
        );
      });
    });
    it("rejects mixed devices, unordered sequences and empty batches", () => {
      assert.throws(() => buildReadingBatch([]), /at least one/);
      assert.throws(
        () => buildReadingBatch([readings[1] as ReadingMessage, readings[0] as ReadingMessage]),
        /increasing/,
      );
      const other = { ...(readings[1] as ReadingMessage), feedId: deviceId };
      assert.throws(
        () => buildReadingBatch([readings[0] as ReadingMessage, other]),
        /one device and one feed/,
      );
    });
  });
});

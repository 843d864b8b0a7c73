/**
 * Device signature vectors for the verifier tests: valid signatures of fresh keys on both curves and
 * seeded random mutations of them (the contract's every verdict, malformed strings included).
 */
import { createHash, generateKeyPairSync, randomBytes, sign as nodeSign } from "node:crypto";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import {
  CURVE_ORDER,
  KeyType,
  deviceKeyFromPublicKey,
  type Curve,
  type DeviceKey,
  type Hex,
} from "../../src/protocol/index.js";

export interface Vector {
  readonly what: string;
  readonly key: DeviceKey;
  readonly digest: Hex;
  readonly signature: Hex;
}

export interface TestDevice {
  readonly curve: Curve;
  readonly key: DeviceKey;
  /** A low-s signature over `digest` in the on-chain encoding. */
  sign(digest: Uint8Array): Hex;
}

const hex = (bytes: Uint8Array): Hex => `0x${Buffer.from(bytes).toString("hex")}`;
const be32 = (v: bigint): string => v.toString(16).padStart(64, "0");

export function newDevice(curve: Curve): TestDevice {
  if (curve === "secp256k1") {
    const secret = secp256k1.utils.randomSecretKey();
    return {
      curve,
      key: deviceKeyFromPublicKey(curve, secp256k1.getPublicKey(secret, false)),
      sign(digest) {
        // noble's "recovered" form is recovery ‖ r ‖ s, low-s; on chain it is r ‖ s ‖ 27 + recovery.
        const rec = secp256k1.sign(digest, secret, { prehash: false, format: "recovered" });
        return `${hex(rec.subarray(1))}${(27 + (rec[0] ?? 0)).toString(16)}`;
      },
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const xy = Buffer.concat([
    Buffer.from(jwk.x ?? "", "base64url"),
    Buffer.from(jwk.y ?? "", "base64url"),
  ]);
  return {
    curve,
    key: { keyType: KeyType.P256, key: hex(xy) },
    sign(digest) {
      const sig = nodeSign("sha256", digest, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const n = CURVE_ORDER.p256;
      const s = BigInt(`0x${sig.subarray(32).toString("hex")}`);
      return `0x${sig.subarray(0, 32).toString("hex")}${be32(s > n / 2n ? n - s : s)}`;
    },
  };
}

/** A small seeded generator (mulberry32): a failing fuzz case replays from its seed. */
export function rng(seed: number): { int(max: number): number; bytes(n: number): Uint8Array } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (max) => Math.floor(next() * max),
    bytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
}

/** Key type numbers the contract does not know (0 = None), as a message from outside may carry. */
function unsupportedKeyType(pick: number): KeyType {
  const n: unknown = [0, 3, 255][pick];
  return n as KeyType;
}

function setRS(signature: Hex, r: bigint | undefined, s: bigint | undefined): Hex {
  const body = signature.slice(2);
  return `0x${r === undefined ? body.slice(0, 64) : be32(r)}${s === undefined ? body.slice(64, 128) : be32(s)}${body.slice(128)}` as Hex;
}

function setV(signature: Hex, v: number): Hex {
  return `${signature.slice(0, 130)}${v.toString(16).padStart(2, "0")}` as Hex;
}

function flipBit(value: Hex, bit: number): Hex {
  const bytes = Buffer.from(value.slice(2), "hex");
  const at = bit % (bytes.length * 8);
  bytes[at >> 3] = (bytes[at >> 3] ?? 0) ^ (1 << (at & 7));
  return hex(bytes);
}

/**
 * A valid signature and `count` seeded mutations of it: flipped or random v, high-s twins, r and s at
 * and around their bounds or random, another digest or device, flipped bits, other lengths, mixed-case
 * and malformed strings, unsupported key types.
 */
export function mutations(
  device: TestDevice,
  other: TestDevice,
  seed: number,
  count: number,
): Vector[] {
  const g = rng(seed);
  const digestBytes = g.bytes(32);
  const digest = hex(digestBytes);
  const signature = device.sign(digestBytes);
  const key = device.key;
  const n = CURVE_ORDER[device.curve];
  const k1 = device.curve === "secp256k1";
  const v = k1 ? Number.parseInt(signature.slice(130), 16) : 0;
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const vector = (what: string, fields: Partial<Omit<Vector, "what">>): Vector => ({
    what: `${device.curve} ${what} (seed ${String(seed)})`,
    key: fields.key ?? key,
    digest: fields.digest ?? digest,
    signature: fields.signature ?? signature,
  });
  const kinds: (() => Vector)[] = [
    () => vector("valid", {}),
    () => vector("flipped v", { signature: k1 ? setV(signature, 55 - v) : signature }),
    () => vector("random v", { signature: k1 ? setV(signature, g.int(256)) : signature }),
    () =>
      vector("high-s twin", {
        signature: k1
          ? setV(setRS(signature, undefined, n - s), 55 - v)
          : setRS(signature, undefined, n - s),
      }),
    () => vector("high-s, v kept", { signature: setRS(signature, undefined, n - s) }),
    () => vector("random r", { signature: setRS(signature, BigInt(hex(g.bytes(32))), undefined) }),
    () => vector("random s", { signature: setRS(signature, undefined, BigInt(hex(g.bytes(32)))) }),
    () => {
      const edges = [0n, 1n, n - 1n, n, n + 1n, 2n ** 256n - 1n, n / 2n, n / 2n + 1n];
      const pick = edges[g.int(edges.length)] ?? 0n;
      return g.int(2) === 0
        ? vector(`r = ${pick.toString(16)}`, { signature: setRS(signature, pick, undefined) })
        : vector(`s = ${pick.toString(16)}`, { signature: setRS(signature, undefined, pick) });
    },
    () => vector("another digest", { digest: hex(g.bytes(32)) }),
    () => vector("another device's key", { key: other.key }),
    () => vector("another device's signature", { signature: other.sign(digestBytes) }),
    () => vector("flipped signature bit", { signature: flipBit(signature, g.int(520)) }),
    () => vector("flipped digest bit", { digest: flipBit(digest, g.int(256)) }),
    () => vector("flipped key bit", { key: { ...key, key: flipBit(key.key, g.int(512)) } }),
    () => vector("random signature", { signature: hex(g.bytes(k1 ? 65 : 64)) }),
    () => vector("upper-case hex", { key: { ...key, key: `0x${key.key.slice(2).toUpperCase()}` } }),
    () => vector("short signature", { signature: signature.slice(0, -2 * (1 + g.int(8))) as Hex }),
    () => vector("long signature", { signature: `${signature}${"00".repeat(1 + g.int(3))}` }),
    () => vector("short key", { key: { ...key, key: key.key.slice(0, -2) as Hex } }),
    () => vector("31-byte digest", { digest: digest.slice(0, -2) as Hex }),
    () => {
      const bad = [" ", "zz", "0", "\n", "G", ",", "İ"][g.int(7)] ?? "";
      const where = g.int(3);
      return vector(
        `malformed ${["key", "digest", "signature"][where] ?? ""} (${JSON.stringify(bad)})`,
        {
          ...(where === 0 ? { key: { ...key, key: `${key.key}${bad}` as Hex } } : {}),
          ...(where === 1 ? { digest: `${digest}${bad}` as Hex } : {}),
          ...(where === 2 ? { signature: `${signature}${bad}` as Hex } : {}),
        },
      );
    },
    () => vector("no 0x prefix", { signature: signature.slice(2) as Hex }),
    () =>
      vector("unsupported key type", {
        key: { keyType: unsupportedKeyType(g.int(3)), key: key.key },
      }),
    () =>
      vector("other curve's key type", {
        key: { keyType: k1 ? KeyType.P256 : KeyType.Secp256k1, key: key.key },
      }),
  ];
  const out: Vector[] = [vector("valid", {})];
  for (let i = 1; i < count; i++)
    out.push((kinds[g.int(kinds.length)] ?? kinds[0] ?? (() => out[0] as Vector))());
  return out;
}

/** A P-256 key that is not on the curve: (x, y + 1) of a real one. */
export function offCurve(device: TestDevice): DeviceKey {
  const xy = Buffer.from(device.key.key.slice(2), "hex");
  const last = xy.length - 1;
  xy[last] = ((xy[last] ?? 0) + 1) & 0xff;
  return { keyType: KeyType.P256, key: hex(xy) };
}

export function randomDigest(): Uint8Array {
  return new Uint8Array(createHash("sha256").update(randomBytes(32)).digest());
}

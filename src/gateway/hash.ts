import { keccak_256 } from "@noble/hashes/sha3.js";
import {
  InvalidInputError,
  domainSeparator,
  typeHash,
  type Domain,
  type Hex,
  type ReadingMessage,
} from "../protocol/index.js";

/**
 * The EIP-712 hashes of a Reading without ethers' generic encoder (the gateway's hot path): equal to
 * protocol's structHash("Reading", r) and digest(domain, "Reading", r), which the tests check.
 */

const READING_TYPEHASH = Buffer.from(typeHash("Reading").slice(2), "hex");
const UINT64_MAX = (1n << 64n) - 1n;
const INT256_MIN = -(1n << 255n);
const INT256_MAX = (1n << 255n) - 1n;

function word(value: bigint): Buffer {
  const v = value < 0n ? (1n << 256n) + value : value;
  return Buffer.from(v.toString(16).padStart(64, "0"), "hex");
}

function bytes32(hex: Hex, what: string): Buffer {
  const b = Buffer.from(hex.slice(2), "hex");
  if (b.length !== 32 || hex.length !== 66) {
    throw new InvalidInputError(`${what} must be 32 bytes of hex`);
  }
  return b;
}

/** hashStruct(Reading); throws InvalidInputError when a field is out of its Solidity type's range. */
export function readingStructHash(r: ReadingMessage): Buffer {
  if (r.sequence < 0n || r.sequence > UINT64_MAX || r.timestamp < 0n || r.timestamp > UINT64_MAX) {
    throw new InvalidInputError("sequence and timestamp must fit in uint64");
  }
  if (r.value < INT256_MIN || r.value > INT256_MAX) {
    throw new InvalidInputError("value must fit in int256");
  }
  return Buffer.from(
    keccak_256(
      Buffer.concat([
        READING_TYPEHASH,
        bytes32(r.deviceId, "deviceId"),
        bytes32(r.feedId, "feedId"),
        word(r.sequence),
        word(r.timestamp),
        word(r.value),
      ]),
    ),
  );
}

/** A digest function bound to one domain: keccak256(0x1901 ‖ domainSeparator ‖ structHash). */
export function readingDigester(domain: Domain): (structHash: Buffer) => Hex {
  const prefix = Buffer.concat([
    Buffer.from([0x19, 0x01]),
    Buffer.from(domainSeparator(domain).slice(2), "hex"),
  ]);
  return (structHash) =>
    `0x${Buffer.from(keccak_256(Buffer.concat([prefix, structHash]))).toString("hex")}`;
}

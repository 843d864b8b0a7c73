import { InvalidInputError } from "./errors.js";

export type Hex = `0x${string}`;

const HEX = /^0x[0-9a-fA-F]*$/;

/** Checks that `value` is 0x-prefixed hex (of `bytes` bytes when given) and returns it lower-cased. */
export function asHex(value: string, what: string, bytes?: number): Hex {
  if (!HEX.test(value) || value.length % 2 !== 0) {
    throw new InvalidInputError(
      `${what} must be 0x-prefixed hex with an even number of digits, got "${value}"`,
    );
  }
  if (bytes !== undefined && value.length !== 2 + 2 * bytes) {
    throw new InvalidInputError(
      `${what} must be ${String(bytes)} bytes, got ${String((value.length - 2) / 2)}`,
    );
  }
  return value.toLowerCase() as Hex;
}

export function toHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

export function fromHex(hex: Hex): Uint8Array {
  return new Uint8Array(Buffer.from(hex.slice(2), "hex"));
}

export function bigintToHex32(value: bigint): Hex {
  return `0x${value.toString(16).padStart(64, "0")}`;
}

export function concatHex(...parts: Hex[]): Hex {
  return `0x${parts.map((p) => p.slice(2)).join("")}`;
}

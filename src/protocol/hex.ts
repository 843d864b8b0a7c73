import { InvalidHexError, type HexProblem } from "./errors.js";

export type Hex = `0x${string}`;

export interface HexOptions {
  /** The exact length in bytes; any whole number of bytes when omitted. */
  readonly bytes?: number | undefined;
}

/** Strict hex: a lower-case 0x prefix, then hex digits only (either case). */
const STRICT_HEX = /^0x[0-9a-fA-F]*$/;
const HEX_DIGIT = /[0-9a-fA-F]/;
/** How much of a bad value an error message quotes (a payload can be megabytes). */
const SHOWN = 80;

function problemOf(value: unknown, bytes: number | undefined): HexProblem | undefined {
  if (typeof value !== "string") return "not-a-string";
  if (STRICT_HEX.test(value)) {
    if (value.length % 2 !== 0) return "odd-length";
    if (bytes !== undefined && value.length !== 2 + 2 * bytes) return "wrong-length";
    return undefined;
  }
  return value.startsWith("0x") ? "non-hex" : "no-prefix";
}

function shown(value: string): string {
  return JSON.stringify(value.length > SHOWN ? `${value.slice(0, SHOWN)}…` : value);
}

function explain(value: unknown, what: string, problem: HexProblem, bytes?: number): string {
  const head = `${what} must be 0x-prefixed hex`;
  if (typeof value !== "string") {
    const got = value === undefined || value === null ? "nothing" : `a ${typeof value}`;
    return `${head}, got ${got}: pass it as a string such as "0x12ab"`;
  }
  const digits = value.length - 2;
  switch (problem) {
    case "no-prefix": {
      const rest = value.startsWith("0X") ? value.slice(2) : value;
      return /^[0-9a-fA-F]+$/.test(rest)
        ? `${head}, got ${shown(value)} without the 0x prefix: write it as 0x${rest.slice(0, SHOWN)}${rest.length > SHOWN ? "…" : ""}`
        : `${head}, got ${shown(value)}, which is not hex: give the value as 0x followed by hex digits`;
    }
    case "non-hex": {
      // UTF-16 units are enough: the position is of the first unit that is not an ASCII hex digit.
      let at = 2;
      while (at < value.length && HEX_DIGIT.test(value.charAt(at))) at++;
      return `${head}, got ${shown(value)} with ${JSON.stringify(value.charAt(at))} at position ${String(at)}: use only 0-9 and a-f after 0x (look for a space, a quote or a second value pasted in)`;
    }
    case "odd-length":
      return `${head} with an even number of digits, got ${String(digits)} digits in ${shown(value)}: hex encodes whole bytes, so a digit is missing or extra`;
    case "wrong-length":
      return `${what} must be ${String(bytes)} bytes, got ${String(digits / 2)} (${String(2 * (bytes ?? 0))} hex digits after 0x, not ${String(digits)}): check that it is the right value, not cut short or padded`;
    case "not-a-string":
      return `${head}: pass it as a string such as "0x12ab"`;
  }
}

/** Whether `value` is strict 0x-prefixed hex of whole bytes (exactly `bytes` bytes when given). */
export function isHex(value: unknown, bytes?: number): value is Hex {
  return problemOf(value, bytes) === undefined;
}

/**
 * The one hex parser of DeviceTrust's TypeScript: every hex string that comes from outside (a
 * message, a file, a command line, the chain) goes through it or its byte form, parseHexBytes.
 * Accepts exactly `0x` followed by an even number of hex digits (either case), of `options.bytes`
 * bytes when given, and returns it lower-cased. Anything else (no prefix, a non-hex character, an odd
 * number of digits, another length, not a string) throws an InvalidHexError whose message names the
 * field (`what`), says what is wrong and how to fix it. Nothing is ever dropped or truncated.
 */
export function parseHex(value: unknown, what: string, options: HexOptions = {}): Hex {
  const problem = problemOf(value, options.bytes);
  if (problem !== undefined) {
    throw new InvalidHexError(what, problem, explain(value, what, problem, options.bytes));
  }
  return (value as Hex).toLowerCase() as Hex;
}

/** parseHex, as bytes. */
export function parseHexBytes(value: unknown, what: string, options: HexOptions = {}): Uint8Array {
  // Only strict hex reaches Buffer.from, which would otherwise stop at the first non-hex digit.
  return new Uint8Array(Buffer.from(parseHex(value, what, options).slice(2), "hex"));
}

/** parseHex with the length as a third argument (the form most callers use). */
export function asHex(value: string, what: string, bytes?: number): Hex {
  return parseHex(value, what, { bytes });
}

export function toHex(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes).toString("hex")}`;
}

/** The bytes of a hex value; throws InvalidHexError (never truncates) unless it is strict hex. */
export function fromHex(hex: Hex, what = "hex value"): Uint8Array {
  return parseHexBytes(hex, what);
}

export function bigintToHex32(value: bigint): Hex {
  return `0x${value.toString(16).padStart(64, "0")}`;
}

export function concatHex(...parts: Hex[]): Hex {
  return `0x${parts.map((p) => p.slice(2)).join("")}`;
}

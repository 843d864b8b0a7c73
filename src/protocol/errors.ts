/**
 * Every error DeviceTrust's TypeScript throws on purpose. `code` is stable (match on it, not on the
 * message); the message says what to do.
 */
export class DeviceTrustError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DeviceTrustError";
    this.code = code;
  }
}

/** Input that cannot be what the caller meant: a malformed key, signature, id or argument. */
export class InvalidInputError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_INPUT", message, options);
    this.name = "InvalidInputError";
  }
}

/** What is wrong with a string that should be 0x-prefixed hex (see parseHex). */
export type HexProblem = "not-a-string" | "no-prefix" | "non-hex" | "odd-length" | "wrong-length";

/**
 * A value that is not strict 0x-prefixed hex (of the expected length): thrown by parseHex, the one hex
 * parser. Its code stays INVALID_INPUT (it is invalid input like any other); `field` names the value
 * and `problem` says what is wrong with it.
 */
export class InvalidHexError extends InvalidInputError {
  readonly field: string;
  readonly problem: HexProblem;

  constructor(field: string, problem: HexProblem, message: string) {
    super(message);
    this.name = "InvalidHexError";
    this.field = field;
    this.problem = problem;
  }
}

/** An error's message for logs and sentences (anything thrown, not only Errors). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

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

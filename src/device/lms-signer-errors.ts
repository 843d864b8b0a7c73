import { DeviceTrustError } from "../protocol/index.js";

/** What is wrong with an LMS signer's state (see LmsStateError). */
export type LmsStateProblem =
  /** The state file (or the watermark it is checked against) does not exist. */
  | "missing"
  /** The file is not a state record: unparseable, another format, a checksum that does not match. */
  | "corrupt"
  /** The record is another key's. */
  | "wrong-key"
  /** The state file is behind the watermark, or changed under the signer: restored from a backup. */
  | "rolled-back"
  /** Another live process holds the state. */
  | "locked"
  /** create() found a key or state file where it would write one. */
  | "exists";

/**
 * The LMS signer refused to open or to go on: signing from this state could use a one-time key twice
 * (which lets anyone forge signatures of the key). Nothing was signed.
 */
export class LmsStateError extends DeviceTrustError {
  readonly path: string;
  readonly problem: LmsStateProblem;

  constructor(
    path: string,
    problem: LmsStateProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("LMS_STATE", message, options);
    this.name = "LmsStateError";
    this.path = path;
    this.problem = problem;
  }
}

/** Every one-time key of the LMS key has signed (or was skipped): it can never sign again. */
export class LmsKeyExhaustedError extends DeviceTrustError {
  readonly leaves: number;

  constructor(publicKey: string, leaves: number) {
    super(
      "LMS_KEY_EXHAUSTED",
      `the LMS key ${publicKey} is exhausted: all ${String(leaves)} of its one-time keys (leaves 0..${String(leaves - 1)}) have signed or were skipped, and an LMS key cannot sign twice with one. Create a new key (LmsStatefulSigner.create) and publish its public key`,
    );
    this.name = "LmsKeyExhaustedError";
    this.leaves = leaves;
  }
}

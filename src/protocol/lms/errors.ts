import { InvalidInputError } from "../errors.js";

/** What is wrong with the bytes of an LMS or HSS public key or signature (see LmsParseError). */
export type LmsProblem =
  /** Fewer bytes than its typecodes call for. */
  | "truncated"
  /** More bytes than its typecodes call for. */
  | "trailing-bytes"
  /** An LMS typecode that is none of LMS_PARAMS. */
  | "unknown-lms-type"
  /** An LM-OTS typecode that is none of LMOTS_PARAMS. */
  | "unknown-lmots-type"
  /** A leaf index q at or above 2^h. */
  | "q-out-of-range"
  /** Typecodes that cannot go together: an LMS and an LM-OTS set of different hashes, or a signature's
   * typecodes that are not its public key's. */
  | "type-mismatch"
  /** An HSS level count outside 1..8, or a signature whose level count is not its key's. */
  | "levels-out-of-range";

/**
 * Bytes that are not a valid LMS or HSS public key or signature: thrown by the strict parsers
 * (parseLmsPublicKey, parseLmsSignature, parseHssPublicKey, parseHssSignature). Its code stays
 * INVALID_INPUT (it is invalid input like any other); `field` names the value and `problem` says what is
 * wrong with it. The verifiers (lmsVerify, hssVerify) return false instead of throwing on a signature.
 */
export class LmsParseError extends InvalidInputError {
  readonly field: string;
  readonly problem: LmsProblem;

  constructor(field: string, problem: LmsProblem, message: string) {
    super(message);
    this.name = "LmsParseError";
    this.field = field;
    this.problem = problem;
  }
}

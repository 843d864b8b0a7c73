import { KeyType } from "../protocol/index.js";
import type { SignatureInput } from "./signature-input.js";
import type { Secp256k1Backend } from "./secp256k1-recover.js";
import type { SignatureVerifierOptions } from "./verifier.js";

/**
 * How a VerifyPool talks to its workers. A batch travels as one ArrayBuffer (transferred, not copied)
 * of fixed-size records, one per signature, read on the caller's thread (readSignatureInput):
 *
 *   [0]        key type (1 secp256k1, 2 P-256)
 *   [1]        problem: 0 none, 1 "malformed", 2 "bad-signature-length" (judged after the key)
 *   [2, 66)    key: a 20-byte address or a 64-byte P-256 x‖y
 *   [66, 98)   digest
 *   [98, 163)  signature: 65 bytes r‖s‖v or 64 bytes r‖s
 *
 * Verdicts come back as one byte each (VERDICT_CODE), in record order.
 */
export const RECORD_BYTES = 163;
const KEY_AT = 2;
const DIGEST_AT = 66;
const SIGNATURE_AT = 98;

const PROBLEM_CODE = { malformed: 1, "bad-signature-length": 2 } as const;

/** Writes `inputs` as records into a fresh ArrayBuffer (to transfer). */
export function encodeInputs(inputs: readonly SignatureInput[]): ArrayBuffer {
  const buffer = new ArrayBuffer(inputs.length * RECORD_BYTES);
  const bytes = new Uint8Array(buffer);
  for (const [i, input] of inputs.entries()) {
    const at = i * RECORD_BYTES;
    bytes[at] = input.keyType;
    bytes[at + 1] = input.problem === undefined ? 0 : PROBLEM_CODE[input.problem];
    bytes.set(input.key, at + KEY_AT);
    bytes.set(input.digest, at + DIGEST_AT);
    bytes.set(input.signature, at + SIGNATURE_AT);
  }
  return buffer;
}

const EMPTY = new Uint8Array(0);

/** The `index`th record of `bytes`, as views into it (no copy). */
export function decodeInput(bytes: Uint8Array, index: number): SignatureInput {
  const at = index * RECORD_BYTES;
  const keyType = bytes[at] === KeyType.P256 ? KeyType.P256 : KeyType.Secp256k1;
  const p256 = keyType === KeyType.P256;
  const code = bytes[at + 1];
  const problem = code === 1 ? "malformed" : code === 2 ? "bad-signature-length" : undefined;
  return {
    keyType,
    key: bytes.subarray(at + KEY_AT, at + KEY_AT + (p256 ? 64 : 20)),
    problem,
    digest: problem === undefined ? bytes.subarray(at + DIGEST_AT, at + DIGEST_AT + 32) : EMPTY,
    signature:
      problem === undefined
        ? bytes.subarray(at + SIGNATURE_AT, at + SIGNATURE_AT + (p256 ? 64 : 65))
        : EMPTY,
  };
}

/** What a pool gives each worker at start. */
export interface VerifyWorkerData {
  readonly verifier: SignatureVerifierOptions;
}

export interface ToWorker {
  readonly type: "verify";
  readonly id: number;
  readonly count: number;
  readonly records: ArrayBuffer;
}

export type FromWorker =
  | { readonly type: "ready"; readonly backend: Secp256k1Backend }
  | { readonly type: "verdicts"; readonly id: number; readonly verdicts: ArrayBuffer }
  | { readonly type: "failed"; readonly id: number; readonly message: string };

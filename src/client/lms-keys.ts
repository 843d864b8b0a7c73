import { keccak256 } from "ethers";
import {
  InvalidInputError,
  LMOTS_PARAMS,
  LMS_ON_CHAIN_ATTEMPTS,
  LMS_PARAMS,
  lmotsByName,
  lmsByName,
  lmsSignatureBytes,
  parseHexBytes,
  pqKeyCommitment,
  toHex,
  type Hex,
  type LmotsName,
  type LmsName,
} from "../protocol/index.js";
import { LmsStatefulSigner } from "../device/lms-signer.js";
import { DEFAULT_SCRYPT, type ScryptParams } from "../device/key-file-crypto.js";

/**
 * LMS key files for makers (firmware manifests) and devices (a post-quantum way back): created with their
 * state beside them, and used to sign one 32-byte digest at a time. The signer's state keeps every leaf
 * single-use across crashes (src/device/lms-signer.ts); back up the key file alone, never the state.
 */

/** The parameter sets the chain verifies most cheaply: SHA-256/192, a 2^10-leaf tree, Winternitz 4. */
export const DEFAULT_LMS: LmsName = "LMS_SHA256_M24_H10";
export const DEFAULT_LMOTS: LmotsName = "LMOTS_SHA256_N24_W4";

export interface LmsKeygenOptions {
  /** The key file to create; its state is `${out}.state`. Neither may exist. */
  readonly out: string;
  readonly password: string;
  /** LMS parameter set by RFC name (default DEFAULT_LMS). */
  readonly lms?: string | undefined;
  /** LM-OTS parameter set by RFC name (default DEFAULT_LMOTS). */
  readonly lmots?: string | undefined;
  /** scrypt cost of the key file (default DEFAULT_SCRYPT); tests lower it. */
  readonly scrypt?: ScryptParams | undefined;
}

export interface LmsKeygenResult {
  readonly keyFile: string;
  readonly stateFile: string;
  readonly lms: LmsName;
  readonly lmots: LmotsName;
  /** RFC 8554 §5.3 public key: what a maker registers (setLmsKey) and a device commits to. */
  readonly publicKey: Hex;
  /** keccak256 of the public key, as FirmwareSignatures.lmsKeyOf keeps it. */
  readonly publicKeyHash: Hex;
  /** keccak256(uint8(1) ‖ public key), as PqKeyRecovery keeps a device's commitment. */
  readonly commitment: Hex;
  /** Signatures the key makes in all (2^h). */
  readonly leaves: number;
  readonly signatureBytes: number;
}

function paramsOf(lmsName: string, lmotsName: string) {
  const lms = lmsByName(lmsName);
  if (lms === undefined) {
    throw new InvalidInputError(
      `unknown --lms "${lmsName}": use one of ${LMS_PARAMS.map((p) => p.name).join(", ")}`,
    );
  }
  const lmots = lmotsByName(lmotsName);
  if (lmots === undefined) {
    throw new InvalidInputError(
      `unknown --lmots "${lmotsName}": use one of ${LMOTS_PARAMS.map((p) => p.name).join(", ")}`,
    );
  }
  if (lms.m !== lmots.n) {
    throw new InvalidInputError(
      `${lms.name} cannot use ${lmots.name}: pair an M24 tree with N24 one-time keys, M32 with N32`,
    );
  }
  return { lms, lmots };
}

/** Creates an LMS key file (its SEED sealed under `password`) and its state at leaf 0. */
export async function lmsKeygen(options: LmsKeygenOptions): Promise<LmsKeygenResult> {
  if (options.out === "") throw new InvalidInputError("--out is required: the key file to create");
  const { lms, lmots } = paramsOf(options.lms ?? DEFAULT_LMS, options.lmots ?? DEFAULT_LMOTS);
  const signer = await LmsStatefulSigner.create({ key: options.out }, options.password, {
    lms,
    lmots,
    scrypt: options.scrypt ?? DEFAULT_SCRYPT,
  });
  try {
    return {
      keyFile: signer.paths.key,
      stateFile: signer.paths.state,
      lms: lms.name,
      lmots: lmots.name,
      publicKey: signer.publicKeyHex,
      publicKeyHash: keccak256(signer.publicKeyHex) as Hex,
      commitment: pqKeyCommitment("lms", signer.publicKeyHex),
      leaves: signer.leaves,
      signatureBytes: lmsSignatureBytes(lms, lmots),
    };
  } finally {
    signer.close();
  }
}

export interface LmsSignDigestOptions {
  readonly keyFile: string;
  readonly password: string;
  /** The 32-byte digest to sign (an EIP-712 digest: a release manifest, a RecoverKey). */
  readonly digest: string;
  /** Randomizers to try (default LMS_ON_CHAIN_ATTEMPTS: the signature is cheapest to verify on chain). */
  readonly attempts?: number | undefined;
}

export interface LmsSignDigestResult {
  readonly digest: Hex;
  /** The leaf that signed: never used again. */
  readonly q: number;
  readonly signature: Hex;
  readonly publicKey: Hex;
  /** Signatures the key has left. */
  readonly remaining: number;
}

/** Signs one 32-byte digest with the next unused leaf of an LMS key file (its state moves first). */
export async function lmsSignDigest(options: LmsSignDigestOptions): Promise<LmsSignDigestResult> {
  if (options.keyFile === "") {
    throw new InvalidInputError("--lms-key is required: the LMS key file (maker lms-keygen)");
  }
  const digest = parseHexBytes(options.digest, "--digest", { bytes: 32 });
  const signer = await LmsStatefulSigner.open({ key: options.keyFile }, options.password);
  try {
    const { q, signature } = signer.sign(digest, {
      attempts: options.attempts ?? LMS_ON_CHAIN_ATTEMPTS,
    });
    return {
      digest: toHex(digest),
      q,
      signature: toHex(signature),
      publicKey: signer.publicKeyHex,
      remaining: signer.remaining,
    };
  } finally {
    signer.close();
  }
}

import {
  DeviceTrustError,
  InvalidInputError,
  keyTypeOf,
  deviceKey,
  digest,
  keyHash,
  lmsVerify,
  mlDsa44Verify,
  parseHex,
  parseHexBytes,
  parsePqScheme,
  pqKeyCommitment,
  pqSchemeName,
  type DeviceKey,
  type Domain,
  type Hex,
  type PqSchemeName,
} from "../protocol/index.js";
import { isValidDeviceSignature } from "./signature.js";

/**
 * Post-quantum signatures off chain, and the off-chain check of a key recovery. PqKeyRecovery verifies LMS
 * on chain; an ML-DSA-44 signature no contract can afford to verify until the EVM has a precompile for it
 * (EIP-8051 proposes one), so for a device committed to an ML-DSA-44 key a verifier or gateway runs
 * verifyPqRecovery, with the rules the contract applies, against the device's commitment read from
 * PqKeyRecovery.pqCommitmentOf, and governance acts on a request that passes.
 */

/**
 * Whether `signature` is `publicKey`'s signature of `message` in `scheme` (LMS: RFC 8554; ML-DSA-44: FIPS
 * 204). A signature that is malformed or does not verify is false; a malformed public key throws
 * InvalidInputError (it is the caller's configuration, not an attacker's input).
 */
export function verifyPqSignature(
  scheme: PqSchemeName | number,
  publicKey: Uint8Array | Hex,
  message: Uint8Array | Hex,
  signature: Uint8Array | Hex,
): boolean {
  const name = typeof scheme === "number" ? pqSchemeName(scheme) : scheme;
  const bytes = (v: Uint8Array | Hex, what: string) =>
    v instanceof Uint8Array ? v : parseHexBytes(v, what);
  const key = bytes(publicKey, "post-quantum public key");
  const msg = bytes(message, "message");
  let sig: Uint8Array;
  try {
    sig = bytes(signature, "post-quantum signature");
  } catch {
    return false;
  }
  return name === "lms" ? lmsVerify(key, msg, sig) : mlDsa44Verify(key, msg, sig);
}

/** Why a recovery request is refused: one reason per rule, named after PqKeyRecovery's errors. */
export const PQ_RECOVERY_PROBLEMS = [
  "Expired",
  "NotCommitted",
  "SchemeMismatch",
  "WrongPqKey",
  "StaleNonce",
  "InvalidPqSignature",
  "StaleRegistryNonce",
  "InvalidNewKeySignature",
] as const;
export type PqRecoveryProblem = (typeof PQ_RECOVERY_PROBLEMS)[number];

/** A recovery request that PqKeyRecovery (or, for ML-DSA-44, governance) must refuse. */
export class PqRecoveryError extends DeviceTrustError {
  readonly problem: PqRecoveryProblem;

  constructor(problem: PqRecoveryProblem, message: string) {
    super("PQ_RECOVERY_INVALID", `${problem}: ${message}`);
    this.name = "PqRecoveryError";
    this.problem = problem;
  }
}

/**
 * A request to move a device to a new key with its committed post-quantum key: what PqKeyRecovery.recoverKey
 * takes, with the two nonces the signatures are over.
 */
export interface PqRecoveryRequest {
  readonly deviceId: Hex;
  readonly newKey: DeviceKey;
  readonly deadline: bigint;
  readonly scheme: PqSchemeName;
  /** PqKeyRecovery's nonce of the committed key, which the post-quantum key signed in RecoverKey. */
  readonly nonce: bigint;
  readonly pqPublicKey: Hex;
  /** The committed key's signature of the RecoverKey digest (its 32 bytes are the message). */
  readonly pqSignature: Hex;
  /** The registry's nonce of the device, which the new key signed in RotateKey. */
  readonly registryNonce: bigint;
  /** The new key's signature of RotateKey{deviceId, keyHash(newKey), registryNonce, deadline}: possession. */
  readonly newKeySignature: Hex;
}

/** A device's commitment as PqKeyRecovery.pqCommitmentOf returns it (scheme 0: none). */
export interface PqCommitmentState {
  /** keccak256(uint8(scheme) ‖ public key), hex. */
  readonly commitment: string;
  readonly scheme: number | bigint;
  readonly nonce: number | bigint;
}

export interface PqRecoveryContext {
  /** The registry's EIP-712 domain (every message of the recovery is under it). */
  readonly domain: Domain;
  /** The device's commitment, read from PqKeyRecovery.pqCommitmentOf. */
  readonly commitment: PqCommitmentState;
  /** Unix seconds to judge the deadline against (the latest block's time); unchecked when omitted. */
  readonly now?: bigint | undefined;
  /** The device's registry nonce now (deviceInfo.nonce); unchecked when omitted. */
  readonly registryNonce?: bigint | undefined;
}

/** What a passing request was checked over. */
export interface PqRecoveryCheck {
  readonly newKeyHash: Hex;
  /** The RecoverKey digest the post-quantum key signed. */
  readonly recoverDigest: Hex;
  /** The RotateKey digest the new key signed. */
  readonly rotateDigest: Hex;
  readonly commitment: Hex;
}

/**
 * Checks a recovery request with PqKeyRecovery's rules, off chain: the deadline (when `now` is given), a
 * commitment of the request's scheme, the public key as the committed one, the nonce as the commitment's,
 * the post-quantum signature of RecoverKey{deviceId, keyHash(newKey), nonce, deadline}; then, as the
 * registry's recoverKey does, the new key's possession signature of RotateKey over the registry's nonce
 * (checked to be the device's current one when `registryNonce` is given). Throws a PqRecoveryError naming
 * the first rule broken. Whether the new key is unused on chain is the registry's to say (keyOwner).
 */
export function verifyPqRecovery(
  request: PqRecoveryRequest,
  context: PqRecoveryContext,
): PqRecoveryCheck {
  const { domain, commitment } = context;
  if (context.now !== undefined && context.now > request.deadline) {
    throw new PqRecoveryError(
      "Expired",
      `the deadline ${request.deadline.toString()} passed at ${context.now.toString()}: sign a new request with a later deadline`,
    );
  }
  if (Number(commitment.scheme) === 0) {
    throw new PqRecoveryError(
      "NotCommitted",
      `device ${request.deviceId} never committed to a post-quantum key: it cannot be recovered this way`,
    );
  }
  const committed = pqSchemeName(commitment.scheme);
  if (committed !== request.scheme) {
    throw new PqRecoveryError(
      "SchemeMismatch",
      `device ${request.deviceId} committed to a ${committed} key, and the request is signed with ${request.scheme}: sign with the committed key`,
    );
  }
  const given = pqKeyCommitment(request.scheme, request.pqPublicKey);
  if (given !== commitment.commitment.toLowerCase()) {
    throw new PqRecoveryError(
      "WrongPqKey",
      `the public key's commitment ${given} is not device ${request.deviceId}'s ${commitment.commitment}: sign with the key the device committed to`,
    );
  }
  if (BigInt(commitment.nonce) !== request.nonce) {
    throw new PqRecoveryError(
      "StaleNonce",
      `the request signs nonce ${request.nonce.toString()}, and the committed key's next nonce is ${String(commitment.nonce)}: sign a new request with that nonce`,
    );
  }
  const newKeyHash = keyHash(request.newKey);
  const recoverDigest = digest(domain, "RecoverKey", {
    deviceId: request.deviceId,
    newKeyHash,
    nonce: request.nonce,
    deadline: request.deadline,
  });
  if (!verifyPqSignature(request.scheme, request.pqPublicKey, recoverDigest, request.pqSignature)) {
    throw new PqRecoveryError(
      "InvalidPqSignature",
      `the ${request.scheme} signature is not the committed key's of RecoverKey ${recoverDigest} (this device, new key, nonce, deadline, chain and registry)`,
    );
  }
  if (context.registryNonce !== undefined && context.registryNonce !== request.registryNonce) {
    throw new PqRecoveryError(
      "StaleRegistryNonce",
      `the new key signed registry nonce ${request.registryNonce.toString()}, and the device's is ${context.registryNonce.toString()}: the new key signs RotateKey again`,
    );
  }
  const rotateDigest = digest(domain, "RotateKey", {
    deviceId: request.deviceId,
    newKeyHash,
    nonce: request.registryNonce,
    deadline: request.deadline,
  });
  if (!isValidDeviceSignature(request.newKey, rotateDigest, request.newKeySignature)) {
    throw new PqRecoveryError(
      "InvalidNewKeySignature",
      `the new key ${newKeyHash} did not sign RotateKey ${rotateDigest}: the new key must prove possession`,
    );
  }
  return { newKeyHash, recoverDigest, rotateDigest, commitment: given };
}

/** A request as JSON carries it: bigints as decimal strings, the new key as {keyType, key}. */
export interface PqRecoveryRequestJson {
  readonly deviceId: string;
  readonly newKey: { readonly keyType: number; readonly key: string };
  readonly deadline: string;
  readonly scheme: string;
  readonly nonce: string;
  readonly pqPublicKey: string;
  readonly pqSignature: string;
  readonly registryNonce: string;
  readonly newKeySignature: string;
}

export function pqRecoveryRequestToJson(request: PqRecoveryRequest): PqRecoveryRequestJson {
  return {
    deviceId: request.deviceId,
    newKey: { keyType: request.newKey.keyType, key: request.newKey.key },
    deadline: request.deadline.toString(),
    scheme: request.scheme,
    nonce: request.nonce.toString(),
    pqPublicKey: request.pqPublicKey,
    pqSignature: request.pqSignature,
    registryNonce: request.registryNonce.toString(),
    newKeySignature: request.newKeySignature,
  };
}

function uint(value: unknown, what: string): bigint {
  if (typeof value === "bigint" && value >= 0n) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string" && /^\d+$/.test(value)) return BigInt(value);
  throw new InvalidInputError(
    `${what} must be a whole number (a decimal string), got ${String(value)}`,
  );
}

/** A request from its JSON (pqRecoveryRequestToJson, or what `device recover-key` prints): checked field by field. */
export function parsePqRecoveryRequest(value: unknown): PqRecoveryRequest {
  if (typeof value !== "object" || value === null) {
    throw new InvalidInputError(
      "a recovery request is a JSON object: see device recover-key --json",
    );
  }
  const r = value as Record<string, unknown>;
  const newKey = r.newKey as Record<string, unknown> | undefined;
  if (typeof newKey !== "object" || typeof newKey.key !== "string") {
    throw new InvalidInputError("the request's newKey must be {keyType, key}");
  }
  return {
    deviceId: parseHex(r.deviceId, "deviceId", { bytes: 32 }),
    newKey: deviceKey(keyTypeOf(Number(newKey.keyType)), newKey.key),
    deadline: uint(r.deadline, "deadline"),
    scheme: parsePqScheme(String(r.scheme)),
    nonce: uint(r.nonce, "nonce"),
    pqPublicKey: parseHex(r.pqPublicKey, "pqPublicKey"),
    pqSignature: parseHex(r.pqSignature, "pqSignature"),
    registryNonce: uint(r.registryNonce, "registryNonce"),
    newKeySignature: parseHex(r.newKeySignature, "newKeySignature"),
  };
}

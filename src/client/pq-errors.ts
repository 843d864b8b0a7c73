import {
  FirmwareSignatures__factory,
  PqKeyRecovery__factory,
} from "../../types/ethers-contracts/index.js";
import {
  ContractError,
  contractError,
  decodeRevertData,
  decodeWithSentences,
  findRevertData,
  s,
  when,
  type ErrorSentences,
} from "./decode-error.js";

/**
 * Sentences for the custom errors of PqKeyRecovery, FirmwareSignatures and the LmsLib they verify with.
 * `decodePqError` tries these first, then decode-error.ts's (a recovery's rotation reverts in the
 * registry: a key already used, the new key's signature, the recovery role).
 */

const SCHEMES: Readonly<Record<number, string>> = { 0: "None", 1: "LMS", 2: "ML-DSA-44" };

function scheme(value: unknown): string {
  return SCHEMES[Number(value)] ?? `scheme ${s(value)}`;
}

const EXPLAIN: ErrorSentences = {
  // ------------------------------------------------------------ PqKeyRecovery
  PqKeyRecoveryAlreadyCommitted: (a) =>
    `device ${s(a[0])} already committed to a post-quantum key, and its elliptic-curve key commits once (a forger of that key must not move the way back): only the committed key replaces itself (ReplacePqKey)`,
  PqKeyRecoveryNotCommitted: (a) =>
    `device ${s(a[0])} never committed to a post-quantum key, so no post-quantum signature can recover it: while its key is sound, commit one (device commit-pq-key)`,
  PqKeyRecoveryBadCommitment: (a) =>
    `${scheme(a[0])} with commitment ${s(a[1])} is no commitment: use scheme 1 (LMS) or 2 (ML-DSA-44) and keccak256(scheme ‖ public key), which is never zero`,
  PqKeyRecoveryExpired: (a) =>
    `the signed deadline ${when(a[0])} passed at ${when(a[1])}: sign again with a later --deadline`,
  PqKeyRecoveryInvalidDeviceSignature: (a) =>
    `the commitment is not signed by device ${s(a[0])}'s current key over this scheme, commitment, deadline, chain and registry, or the device is not Active: sign it with the key the device holds now (device show)`,
  PqKeyRecoveryWrongPqKey: (a) =>
    `the post-quantum public key given (commitment ${s(a[2])}) is not the one device ${s(a[0])} committed to (${s(a[1])}): sign with the committed key (--pq-key)`,
  PqKeyRecoveryInvalidPqSignature: (a) =>
    `the post-quantum signature does not verify over device ${s(a[0])}'s message (new key, the commitment's nonce, deadline, chain and registry): sign it again with the committed key`,
  PqKeyRecoverySchemeNotOnChain: (a) =>
    `no contract verifies ${scheme(a[0])} signatures yet (that needs an EVM precompile, EIP-8051): a recovery is checked off chain instead (verifyPqRecovery; device recover-key prints the request) for governance to act on; a replacement (ReplacePqKey) has no such path, so keep the committed key, which still recovers the device, until the chain verifies it`,
  // ------------------------------------------------------------ FirmwareSignatures
  FirmwareSignaturesNotMaker: (a) =>
    `${s(a[0])} is not the signing key of an active maker: register the LMS key from the maker's account (--from)`,
  FirmwareSignaturesUnknownFirmware: (a) =>
    `firmware ${s(a[0])} does not exist: publish it first (firmware publish), or check the id (firmware list)`,
  FirmwareSignaturesNoLmsKey: (a) =>
    `maker ${s(a[0])} registered no LMS key: register its public key first (maker lms-register --lms-key <file>)`,
  FirmwareSignaturesWrongLmsKey: (a) =>
    `the LMS key given (hash ${s(a[2])}) is not maker ${s(a[0])}'s registered key (${s(a[1])}): sign with the registered key file, or register this one (maker lms-register)`,
  FirmwareSignaturesWrongVersion: (a) =>
    `firmware ${s(a[0])} was not published as version "${s(a[1])}": sign the manifest of the version it was published as (--firmware-version)`,
  FirmwareSignaturesInvalidSignature: (a) =>
    `the LMS signature is not the maker's key's signature of firmware ${s(a[0])}'s manifest digest: sign the digest manifestDigest returns (maker lms-sign)`,
  FirmwareSignaturesAlreadySigned: (a) =>
    `firmware ${s(a[0])} is already PQ-signed: nothing to do (a release is signed once)`,
  // ------------------------------------------------------------ LmsLib
  LmsPublicKeyLength: (a) =>
    `the LMS public key is ${s(a[1])} bytes, and its type calls for ${s(a[0])}: pass the key exactly as its key file holds it`,
  LmsUnsupportedType: (a) =>
    `LMS type ${s(a[0])} is not one the chain verifies (LMS_SHA256_M32_H5..H25, LMS_SHA256_M24_H5..H25): create the key with one of those (maker lms-keygen --lms)`,
  LmsUnsupportedOtsType: (a) =>
    `LM-OTS type ${s(a[0])} is not one the chain verifies (LMOTS_SHA256_N32_W1..W8, LMOTS_SHA256_N24_W1..W8): create the key with one of those (--lmots)`,
  LmsHashMismatch: (a) =>
    `LMS type ${s(a[0])} and LM-OTS type ${s(a[1])} use different hashes (SP 800-208 forbids it): pair M24 with N24, M32 with N32`,
  LmsSignatureLength: (a) =>
    `the LMS signature is ${s(a[1])} bytes, and the key's types call for ${s(a[0])}: pass the whole signature, made by this key`,
  LmsOtsTypeMismatch: (a) =>
    `the signature's LM-OTS type ${s(a[1])} is not the key's ${s(a[0])}: it was made by another key`,
  LmsTypeMismatch: (a) =>
    `the signature's LMS type ${s(a[1])} is not the key's ${s(a[0])}: it was made by another key`,
  LmsLeafOutOfRange: (a) =>
    `the signature's leaf ${s(a[0])} is not below the key's ${s(a[1])} leaves: it was made by another key, or is corrupt`,
};

/** The custom-error names explained above. */
export const EXPLAINED_PQ_ERRORS: readonly string[] = Object.keys(EXPLAIN);

const INTERFACES = [
  PqKeyRecovery__factory.createInterface(),
  FirmwareSignatures__factory.createInterface(),
];

/** The ContractError of a PqKeyRecovery, FirmwareSignatures or LmsLib custom error (for a check made before sending). */
export function pqContractError(
  name: string,
  args: readonly unknown[],
  cause?: unknown,
): ContractError {
  return contractError(name, args, cause, EXPLAIN);
}

/** Revert data of a PqKeyRecovery, FirmwareSignatures or LmsLib error, else of the registry, decoded. */
export function decodePqRevertData(data: string, cause?: unknown): ContractError | undefined {
  return decodeWithSentences(data, INTERFACES, EXPLAIN, cause) ?? decodeRevertData(data, cause);
}

/** The decoded contract error inside `err` (these contracts' errors first, then decode-error.ts's). */
export function decodePqError(err: unknown): ContractError | undefined {
  if (err instanceof ContractError) return err;
  const data = findRevertData(err);
  return data === undefined ? undefined : decodePqRevertData(data, err);
}

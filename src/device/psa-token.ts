import {
  ES256_PROTECTED_HEADER,
  InvalidInputError,
  KeyType,
  checkCoseSign1Signing,
  coseSign1ToBeSigned,
  decodeSignature,
  encodeCoseSign1,
  encodePsaClaims,
  encodeSignature,
  normalizeLowS,
  parseHexBytes,
  toHex,
  type Hex,
  type PsaClaims,
} from "../protocol/index.js";
import type { KeyStore } from "./key-store.js";

/**
 * Arm PSA Initial Attestation Tokens (RFC 9783) made by a device: the claims (src/protocol/psa-claims.ts)
 * as the payload of a COSE_Sign1 signed with ES256 by the device's P-256 key (src/protocol/cose.ts), every
 * byte in core deterministic CBOR (the verifier and the contracts also take the other serializations RFC
 * 9783 §5 allows, as other attesters emit them):
 *
 *   d2 84 43 a1 01 26 a0 59 <len16> <claims map> 58 40 <r‖s>   (a payload under 256 bytes: 58 <len8>)
 *
 * The key is a device key store (software, PKCS#11, TPM: KeyStore.signCoseSign1) or any ES256 signer
 * callback (a TF-M Initial Attestation service, a test key). Signatures come out low-s, as the chain
 * requires. Appraise tokens with src/verify/psa-token.ts; DeviceTrust's measurement of a token is
 * psaMeasurement (src/protocol/psa-claims.ts).
 */

/** An ES256 signer: signs the encoded Sig_structure, returns r‖s (64 bytes; any s, normalised here). */
export type PsaTokenSignFunction = (toBeSigned: Uint8Array) => Promise<Uint8Array | Hex>;

/** What signs a token: a P-256 device key store, or an ES256 signer callback. */
export type PsaTokenSigner = KeyStore | PsaTokenSignFunction;

async function signWith(signer: PsaTokenSigner, toBeSigned: Uint8Array): Promise<Uint8Array> {
  if (typeof signer !== "function") {
    if (signer.signCoseSign1 === undefined) {
      throw new InvalidInputError(
        `the ${signer.kind} key store cannot sign COSE messages: use a P-256 software, PKCS#11 or TPM key store`,
      );
    }
    // Key stores return the canonical low-s r‖s already.
    return parseHexBytes(await signer.signCoseSign1(toBeSigned), "ES256 signature", { bytes: 64 });
  }
  checkCoseSign1Signing("p256", toBeSigned);
  const out = await signer(toBeSigned);
  const raw = typeof out === "string" ? parseHexBytes(out, "ES256 signature") : out;
  if (raw.length !== 64) {
    throw new InvalidInputError(
      `an ES256 signature is r‖s, 64 bytes; the signer returned ${String(raw.length)} bytes (DER? convert it to IEEE P1363)`,
    );
  }
  const low = normalizeLowS("p256", decodeSignature(KeyType.P256, toHex(raw)));
  return parseHexBytes(encodeSignature(KeyType.P256, low), "ES256 signature");
}

/**
 * Builds and signs a PSA attestation token over `claims` (checked against RFC 9783's rules first: an
 * InvalidInputError names the claim that breaks one). Returns the encoded COSE_Sign1, tag 18 included.
 */
export async function buildPsaToken(
  claims: PsaClaims,
  signer: PsaTokenSigner,
): Promise<Uint8Array> {
  const payload = encodePsaClaims(claims);
  const toBeSigned = coseSign1ToBeSigned(ES256_PROTECTED_HEADER, payload);
  const signature = await signWith(signer, toBeSigned);
  return encodeCoseSign1(ES256_PROTECTED_HEADER, payload, signature);
}

import { createHash } from "node:crypto";
import { toHex, type Hex } from "../hex.js";
import { encodeLmsPublicKey } from "./encoding.js";
import { LmsPrivateKey, lmsVerify } from "./lms.js";
import { lmotsByName, lmsByName, type LmotsName, type LmsName } from "./params.js";

/**
 * Test fixtures for the Solidity side of LMS (an on-chain verifier of firmware manifests): keys made
 * from fixed seeds and signatures made from them, every value RFC 8554-encoded hex. Deterministic
 * (LmsPrivateKey signs with a randomizer derived from its SEED), so regenerating gives the same file.
 * Object keys are in alphabetical order, the order forge's vm.parseJson decodes struct fields in.
 */

export interface LmsFixtureSignature {
  readonly message: Hex;
  readonly q: number;
  readonly signature: Hex;
}

export interface LmsFixtureSet {
  readonly identifier: Hex;
  readonly lmots: LmotsName;
  readonly lmotsType: number;
  readonly lms: LmsName;
  readonly lmsType: number;
  readonly publicKey: Hex;
  readonly root: Hex;
  readonly seed: Hex;
  readonly signatures: readonly LmsFixtureSignature[];
}

export interface LmsFixtures {
  readonly description: string;
  readonly sets: readonly LmsFixtureSet[];
}

function sha256(text: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(text).digest());
}

/** A 32-byte manifest digest stand-in: SHA-256 of a label. */
function digestOf(label: string): Uint8Array {
  return sha256(`devicetrust lms fixture message: ${label}`);
}

function fixtureSet(
  lmsName: LmsName,
  lmotsName: LmotsName,
  messages: readonly (readonly [number, Uint8Array])[],
): LmsFixtureSet {
  const lms = lmsByName(lmsName);
  const lmots = lmotsByName(lmotsName);
  if (lms === undefined || lmots === undefined) throw new Error(`unknown ${lmsName}/${lmotsName}`);
  const seed = sha256(`devicetrust lms fixture seed: ${lmsName}/${lmotsName}`).subarray(0, lmots.n);
  const identifier = sha256(`devicetrust lms fixture I: ${lmsName}/${lmotsName}`).subarray(0, 16);
  const key = LmsPrivateKey.fromSeed({ lms, lmots, seed, identifier });
  const signatures = messages.map(([q, message]) => {
    const signature = key.sign(q, message);
    if (!lmsVerify(key.publicKey, message, signature)) {
      throw new Error(`the ${lmsName} fixture at q = ${String(q)} does not verify`);
    }
    return { message: toHex(message), q, signature: toHex(signature) };
  });
  key.destroy();
  return {
    identifier: toHex(identifier),
    lmots: lmots.name,
    lmotsType: lmots.typecode,
    lms: lms.name,
    lmsType: lms.typecode,
    publicKey: toHex(encodeLmsPublicKey(key.publicKey)),
    root: toHex(key.publicKey.root),
    seed: toHex(seed),
    signatures,
  };
}

/**
 * The fixtures of test/fixtures/lms/h10w4.json: LMS_SHA256_M32_H10 / LMOTS_SHA256_N32_W4 signing four
 * 32-byte digests (the first, second, a middle and the last leaf) and one 100-byte message, and
 * LMS_SHA256_M24_H10 / LMOTS_SHA256_N24_W4 (SP 800-208's SHA-256/192) signing one digest.
 */
export function buildLmsFixtures(): LmsFixtures {
  const long = new Uint8Array(100).map((_, i) => i);
  return {
    description:
      "LMS (RFC 8554) keys from fixed seeds (SHA-256 of a label) and their signatures, RFC 8554-encoded; written by scripts/lms-fixtures.ts (buildLmsFixtures in src/protocol/lms/fixtures.ts)",
    sets: [
      fixtureSet("LMS_SHA256_M32_H10", "LMOTS_SHA256_N32_W4", [
        [0, digestOf("manifest 0")],
        [1, digestOf("manifest 1")],
        [511, digestOf("manifest 511")],
        [1023, digestOf("manifest 1023")],
        [2, long],
      ]),
      fixtureSet("LMS_SHA256_M24_H10", "LMOTS_SHA256_N24_W4", [[0, digestOf("manifest 0")]]),
    ],
  };
}

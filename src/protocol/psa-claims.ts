import { createHash } from "node:crypto";
import { encodeDeterministic } from "./cose.js";
import { InvalidInputError } from "./errors.js";
import { isHex, parseHexBytes, toHex, type Hex } from "./hex.js";
import { measureDigests } from "./measured-boot.js";

/**
 * The claims of an Arm PSA Initial Attestation Token (RFC 9783, an EAT profile), with their registered
 * CWT integer keys, the rules RFC 9783's CDDL gives each value, and their one encoding: a CBOR map in core
 * deterministic encoding (RFC 8949 §4.2.1), which is the COSE_Sign1 payload (src/protocol/cose.ts).
 *
 * The measurement of a PSA token, for DeviceTrust's reference values: the registry holds one bytes32 per
 * firmware release, the final digest of a measured-boot chain (src/protocol/measured-boot.ts). A PSA
 * token lists what the PSA RoT loaded as software components, each with the hash of its image. DeviceTrust
 * folds those measurement values, in token order, with the same chain rule:
 *
 *   m_0 = 32 zero bytes,  m_i = sha256(m_{i-1} ‖ measurementValue_i),  psaMeasurement = m_n
 *
 * So when each component's measurement value is the SHA-256 of its image, listed in boot order, the
 * token's measurement is exactly what `firmware publish` computes from the same images: the maker publishes
 * one reference value per release whatever the evidence (device-signed, TPM quote, PSA token), and the
 * chain compares one digest. The fold commits to the measurement values and their order only; signer ids,
 * versions and types are appraised off chain against the maker's reference values (src/verify/psa-token.ts).
 * Components measured with SHA-384 or SHA-512 (48 or 64 bytes, which RFC 9783 allows) have no DeviceTrust
 * measurement.
 */

/** The profile claim's value for RFC 9783 tokens. */
export const PSA_PROFILE = "tag:psacertified.org,2023:psa#tfm";

/** Claim keys (RFC 9783 §4, the CWT claims registry; 10, 256 and 265 are EAT's nonce, ueid and profile). */
export const PSA_CLAIM_KEYS = {
  nonce: 10,
  instanceId: 256,
  profile: 265,
  clientId: 2394,
  securityLifecycle: 2395,
  implementationId: 2396,
  bootSeed: 2397,
  certificationReference: 2398,
  softwareComponents: 2399,
  verificationServiceIndicator: 2400,
} as const;
export type PsaClaimName = keyof typeof PSA_CLAIM_KEYS;

/** Keys inside a software component map (RFC 9783 §4.4.1; 3 is not assigned). */
export const PSA_COMPONENT_KEYS = {
  measurementType: 1,
  measurementValue: 2,
  version: 4,
  signerId: 5,
  measurementDescription: 6,
} as const;

/**
 * Major security lifecycle states (RFC 9783 §4.3.1): the claim is major ‖ an IMPLEMENTATION DEFINED minor
 * byte, so each state is the range [major, major + 0xff].
 */
export const PSA_LIFECYCLE = {
  unknown: 0x0000,
  assemblyAndTest: 0x1000,
  psaRotProvisioning: 0x2000,
  secured: 0x3000,
  nonPsaRotDebug: 0x4000,
  recoverablePsaRotDebug: 0x5000,
  decommissioned: 0x6000,
} as const;
export type PsaLifecycleState = keyof typeof PSA_LIFECYCLE;

/** The major state of a lifecycle value, or null when the value is in none of RFC 9783's ranges. */
export function psaLifecycleState(value: number): PsaLifecycleState | null {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) return null;
  const major = value & 0xff00;
  for (const [state, start] of Object.entries(PSA_LIFECYCLE)) {
    if (start === major) return state as PsaLifecycleState;
  }
  return null;
}

/**
 * Whether a verifier may trust the PSA RoT in this lifecycle state. RFC 9783 §4.3.1: only in the SECURED or
 * NON_PSA_ROT_DEBUG major states (debug of the non-secure side leaves the PSA RoT and its key intact).
 * `securedOnly` narrows it to SECURED, for verifiers that also rely on the non-secure firmware.
 */
export function psaLifecycleTrusted(value: number, securedOnly = false): boolean {
  const state = psaLifecycleState(value);
  return state === "secured" || (!securedOnly && state === "nonPsaRotDebug");
}

/** One entry of the software components claim. */
export interface PsaSoftwareComponent {
  /** 1: the component's role ("BL", "PRoT", "ARoT", "App", "TS"). */
  readonly measurementType?: string | undefined;
  /** 2: the hash of the component's image at boot (32, 48 or 64 bytes). */
  readonly measurementValue: Hex;
  /** 4: the version from the component's signed manifest. */
  readonly version?: string | undefined;
  /** 5: the hash of the public key of the authority that signed the component (32, 48 or 64 bytes). */
  readonly signerId: Hex;
  /** 6: how the measurement was computed, when not the profile's default. */
  readonly measurementDescription?: string | undefined;
}

/** The claims of a PSA token; the profile claim is implied (always PSA_PROFILE). */
export interface PsaClaims {
  /** 10: the verifier's challenge (32, 48 or 64 bytes); DeviceTrust uses a 32-byte freshness value. */
  readonly nonce: Hex;
  /** 256: UEID of type RAND: 0x01 ‖ a 32-byte hash of the attestation key (33 bytes; see psaInstanceId). */
  readonly instanceId: Hex;
  /** 2394: the caller's partition id: negative from the non-secure side, positive from the secure side, never 0. */
  readonly clientId: number;
  /** 2395: the PSA RoT's lifecycle state (see PSA_LIFECYCLE). */
  readonly securityLifecycle: number;
  /** 2396: the immutable PSA RoT's implementation (32 bytes). */
  readonly implementationId: Hex;
  /** 2397: a random value of this boot (8 to 32 bytes). */
  readonly bootSeed?: Hex | undefined;
  /** 2398: the PSA Certified reference, EAN-13 "-" five digits (e.g. "1234567890123-12345"). */
  readonly certificationReference?: string | undefined;
  /** 2399: what the PSA RoT loaded, in load order (at least one). */
  readonly softwareComponents: readonly PsaSoftwareComponent[];
  /** 2400: a hint where to verify the token. */
  readonly verificationServiceIndicator?: string | undefined;
}

/** A claim that breaks RFC 9783's rules: which claim, and why. */
export interface PsaClaimFault {
  readonly claim: PsaClaimName;
  readonly message: string;
}

const HASH_SIZES = [32, 48, 64] as const;
const CERTIFICATION_REFERENCE = /^[0-9]{13}-[0-9]{5}$/;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
/** UEID type RAND (EAT). */
const UEID_RAND = 0x01;

function byteLength(value: unknown): number | null {
  return isHex(value) ? (value.length - 2) / 2 : null;
}

function hashProblem(value: unknown, what: string): string | undefined {
  const n = byteLength(value);
  if (n === null) return `${what} is not 0x-prefixed hex`;
  if (!(HASH_SIZES as readonly number[]).includes(n))
    return `${what} is ${String(n)} bytes, not a 32-, 48- or 64-byte hash`;
  return undefined;
}

function componentProblem(c: PsaSoftwareComponent, i: number): string | undefined {
  const at = `software component #${String(i + 1)}`;
  if (typeof c !== "object" || (c as unknown) === null) return `${at} is not a map`;
  const texts = [
    ["measurementType", c.measurementType],
    ["version", c.version],
    ["measurementDescription", c.measurementDescription],
  ] as const;
  for (const [name, value] of texts) {
    if (value !== undefined && typeof value !== "string") return `${at}'s ${name} is not text`;
  }
  return (
    hashProblem(c.measurementValue, `${at}'s measurement value`) ??
    hashProblem(c.signerId, `${at}'s signer id`)
  );
}

/** The first claim that breaks RFC 9783's rules, or undefined when all hold. */
export function checkPsaClaims(claims: PsaClaims): PsaClaimFault | undefined {
  const fault = (claim: PsaClaimName, message: string | undefined) =>
    message === undefined ? undefined : { claim, message };
  const instanceBytes = byteLength(claims.instanceId);
  const implementationBytes = byteLength(claims.implementationId);
  const seedBytes = claims.bootSeed === undefined ? undefined : byteLength(claims.bootSeed);
  const components = claims.softwareComponents as readonly PsaSoftwareComponent[] | undefined;
  const checks = [
    fault("nonce", hashProblem(claims.nonce, "the nonce")),
    fault(
      "instanceId",
      instanceBytes !== 33
        ? `the instance id is ${String(instanceBytes ?? "no hex")} bytes, not 33 (0x01 ‖ 32-byte key hash)`
        : !claims.instanceId.startsWith("0x01")
          ? "the instance id is not a UEID of type RAND (first byte 0x01)"
          : undefined,
    ),
    fault(
      "clientId",
      !Number.isInteger(claims.clientId) ||
        claims.clientId < INT32_MIN ||
        claims.clientId > INT32_MAX ||
        claims.clientId === 0
        ? `client id ${String(claims.clientId)} is not a non-zero 32-bit partition id`
        : undefined,
    ),
    fault(
      "securityLifecycle",
      psaLifecycleState(claims.securityLifecycle) === null
        ? `security lifecycle ${String(claims.securityLifecycle)} is in none of RFC 9783's states`
        : undefined,
    ),
    fault(
      "implementationId",
      implementationBytes !== 32
        ? `the implementation id is ${String(implementationBytes ?? "no hex")} bytes, not 32`
        : undefined,
    ),
    fault(
      "bootSeed",
      seedBytes !== undefined && (seedBytes === null || seedBytes < 8 || seedBytes > 32)
        ? `the boot seed is ${String(seedBytes ?? "no hex")} bytes, not 8 to 32`
        : undefined,
    ),
    fault(
      "certificationReference",
      claims.certificationReference !== undefined &&
        (typeof claims.certificationReference !== "string" ||
          !CERTIFICATION_REFERENCE.test(claims.certificationReference))
        ? `certification reference ${JSON.stringify(claims.certificationReference)} is not EAN-13+5 (13 digits, "-", 5 digits)`
        : undefined,
    ),
    fault(
      "softwareComponents",
      !Array.isArray(components) || components.length === 0
        ? "the software components claim needs at least one component"
        : components.map(componentProblem).find((p) => p !== undefined),
    ),
    fault(
      "verificationServiceIndicator",
      claims.verificationServiceIndicator !== undefined &&
        typeof claims.verificationServiceIndicator !== "string"
        ? "the verification service indicator is not text"
        : undefined,
    ),
  ];
  return checks.find((c) => c !== undefined);
}

function bytes(value: Hex, what: string): Uint8Array {
  return parseHexBytes(value, what);
}

function componentMap(c: PsaSoftwareComponent): Map<number, string | Uint8Array> {
  const m = new Map<number, string | Uint8Array>();
  const k = PSA_COMPONENT_KEYS;
  if (c.measurementType !== undefined) m.set(k.measurementType, c.measurementType);
  m.set(k.measurementValue, bytes(c.measurementValue, "measurement value"));
  if (c.version !== undefined) m.set(k.version, c.version);
  m.set(k.signerId, bytes(c.signerId, "signer id"));
  if (c.measurementDescription !== undefined)
    m.set(k.measurementDescription, c.measurementDescription);
  return m;
}

/**
 * The payload of a PSA token: the claims as a CBOR map with integer keys, profile included, in core
 * deterministic encoding (keys in ascending order, shortest forms, definite lengths). Throws an
 * InvalidInputError naming the first claim that breaks RFC 9783's rules.
 */
export function encodePsaClaims(claims: PsaClaims): Uint8Array {
  const fault = checkPsaClaims(claims);
  if (fault !== undefined) {
    throw new InvalidInputError(`PSA claim ${fault.claim}: ${fault.message}`);
  }
  const k = PSA_CLAIM_KEYS;
  const m = new Map<number, unknown>([
    [k.nonce, bytes(claims.nonce, "nonce")],
    [k.instanceId, bytes(claims.instanceId, "instance id")],
    [k.profile, PSA_PROFILE],
    [k.clientId, claims.clientId],
    [k.securityLifecycle, claims.securityLifecycle],
    [k.implementationId, bytes(claims.implementationId, "implementation id")],
    [k.softwareComponents, claims.softwareComponents.map(componentMap)],
  ]);
  if (claims.bootSeed !== undefined) m.set(k.bootSeed, bytes(claims.bootSeed, "boot seed"));
  if (claims.certificationReference !== undefined)
    m.set(k.certificationReference, claims.certificationReference);
  if (claims.verificationServiceIndicator !== undefined)
    m.set(k.verificationServiceIndicator, claims.verificationServiceIndicator);
  return encodeDeterministic(m);
}

/**
 * The instance id of a P-256 attestation key as DeviceTrust derives it: a UEID of type RAND,
 * 0x01 ‖ sha256(0x04 ‖ x ‖ y). Takes the uncompressed SEC1 key (65 bytes) or x‖y (64 bytes).
 */
export function psaInstanceId(publicKey: Uint8Array): Hex {
  const sec1 =
    publicKey.length === 64
      ? Buffer.concat([Buffer.of(0x04), publicKey])
      : publicKey.length === 65 && publicKey[0] === 0x04
        ? Buffer.from(publicKey)
        : undefined;
  if (sec1 === undefined) {
    throw new InvalidInputError(
      "a P-256 public key is x‖y (64 bytes) or 0x04‖x‖y (65 bytes): check the key's encoding",
    );
  }
  return toHex(Buffer.concat([Buffer.of(UEID_RAND), createHash("sha256").update(sec1).digest()]));
}

/**
 * DeviceTrust's measurement of a PSA token (see the module comment): the measured-boot chain over the
 * components' measurement values in token order, m_i = sha256(m_{i-1} ‖ measurementValue_i) from 32 zero
 * bytes. Every measurement value must be 32 bytes (SHA-256).
 */
export function psaMeasurement(
  components: readonly Pick<PsaSoftwareComponent, "measurementValue">[],
): Hex {
  if (components.length === 0) {
    throw new InvalidInputError("a PSA token's measurement needs at least one software component");
  }
  components.forEach((c, i) => {
    const n = byteLength(c.measurementValue);
    if (n !== 32) {
      throw new InvalidInputError(
        `software component #${String(i + 1)}'s measurement value is ${String(n ?? "no hex")} bytes: ` +
          "DeviceTrust's measurement folds SHA-256 measurement values (32 bytes)",
      );
    }
  });
  return measureDigests(components.map((c) => c.measurementValue)).measurement;
}

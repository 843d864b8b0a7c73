import { verify as verifySignature } from "node:crypto";
import { decode, Tag } from "cbor2";
import {
  COSE_ALG_ES256,
  COSE_HEADER_ALG,
  COSE_HEADER_CRIT,
  COSE_SIGN1_TAG,
  CURVE_ORDER,
  DeviceTrustError,
  InvalidInputError,
  PSA_CLAIM_KEYS,
  PSA_COMPONENT_KEYS,
  PSA_PROFILE,
  checkPsaClaims,
  coseSign1ToBeSigned,
  encodeCoseSign1,
  encodePsaClaims,
  parseHex,
  parseHexBytes,
  psaLifecycleState,
  psaLifecycleTrusted,
  psaMeasurement,
  toHex,
  type Hex,
  type PsaClaimName,
  type PsaClaims,
  type PsaSoftwareComponent,
} from "../protocol/index.js";
import { p256PublicKey } from "./p256-key.js";

/**
 * Arm PSA Initial Attestation Tokens (RFC 9783) as device evidence: parsed strictly — well-formed CBOR
 * with definite lengths only, no duplicate map keys, core deterministic encoding (RFC 8949 §4.2.1: every
 * argument in its shortest form, map keys in bytewise order), a COSE_Sign1 (tag 18) whose only header is
 * the protected {1: -7} (ES256), exactly RFC 9783's claims with their CDDL types, nothing after the last
 * byte — and appraised with the rules the chain applies: the device's ES256 signature (low-s) over the
 * Sig_structure, the nonce against the freshness value, the security lifecycle, the implementation and
 * instance ids, each software component against the maker's reference values, and DeviceTrust's
 * measurement of the token (psaMeasurement, src/protocol/psa-claims.ts) against the registry's reference.
 *
 * A token passes parsing only if it is byte for byte what buildPsaToken (src/device/psa-token.ts) makes
 * of its claims: one shape, which the on-chain decoder can read at fixed places.
 */

/** Why a token, its signature or its appraisal is refused: one reason per rule. */
export const PSA_TOKEN_PROBLEMS = [
  "Malformed",
  "Truncated",
  "TrailingBytes",
  "IndefiniteLength",
  "DuplicateKey",
  "NotDeterministic",
  "NotCoseSign1",
  "UnsupportedAlgorithm",
  "CriticalHeader",
  "UnexpectedHeader",
  "MissingClaim",
  "UnknownClaim",
  "BadClaim",
  "BadSoftwareComponent",
  "WrongProfile",
  "MalformedSignature",
  "HighS",
  "BadKey",
  "BadSignature",
  "WrongNonce",
  "UntrustedLifecycle",
  "WrongImplementationId",
  "WrongInstanceId",
  "UnknownComponent",
  "MeasurementMismatch",
] as const;
export type PsaTokenProblem = (typeof PSA_TOKEN_PROBLEMS)[number];

export class PsaTokenError extends DeviceTrustError {
  constructor(
    readonly problem: PsaTokenProblem,
    message: string,
  ) {
    super("PSA_TOKEN_INVALID", `${problem}: ${message}`);
    this.name = "PsaTokenError";
  }
}

/** A parsed token: its claims, and the bytes its signature covers. */
export interface PsaToken {
  readonly claims: PsaClaims;
  /** The encoded claims map (the COSE payload). */
  readonly payload: Uint8Array;
  /** The encoded Sig_structure the ES256 signature is over. */
  readonly toBeSigned: Uint8Array;
  /** r‖s, 64 bytes. */
  readonly signature: Hex;
}

// ---------------------------------------------------------------------------------------------------
// CBOR, strictly

/** Deep enough for every structure of a token (tag → array → bstr; map → array → map → value). */
const MAX_DEPTH = 8;

/** The smallest argument each additional-information size may carry (RFC 8949 §4.2.1, shortest form). */
const SHORTEST: readonly number[] = [24, 0x100, 0x10000, 0x100000000];

/**
 * Walks one CBOR data item over all of `bytes` and refuses, each with its own problem: a byte string
 * that ends early, an indefinite length, a reserved or invalid initial byte, nesting past MAX_DEPTH, a
 * repeated map key, an argument not in its shortest form or map keys out of bytewise order, and any byte
 * after the item. What it accepts is well-formed, definite-length CBOR in core deterministic encoding
 * (floats aside: none belongs in a token, and the schema refuses them).
 */
function scanCbor(bytes: Uint8Array, what: string): void {
  let offset = 0;
  const fail = (problem: PsaTokenProblem, message: string) =>
    new PsaTokenError(problem, `${what}: ${message}`);
  /** `n` more bytes must be there; returns n. Above 2^53 (an 8-byte argument) it cannot be. */
  const need = (n: number, field: string): number => {
    if (n > bytes.length - offset) {
      throw fail(
        "Truncated",
        `ends inside ${field} at byte ${String(offset)} (${String(bytes.length)} bytes)`,
      );
    }
    return n;
  };

  const head = (): { major: number; ai: number; argument: number; start: number } => {
    const start = offset;
    need(1, "an item's initial byte");
    const initial = bytes[offset++] ?? 0;
    const major = initial >> 5;
    const ai = initial & 0x1f;
    if (ai < 24) return { major, ai, argument: ai, start };
    if (ai === 31) {
      if (major >= 2 && major <= 5) {
        throw fail("IndefiniteLength", `indefinite-length item at byte ${String(start)}`);
      }
      throw fail(
        "Malformed",
        major === 7
          ? `a break at byte ${String(start)} outside any indefinite-length item`
          : `additional information 31 on major type ${String(major)} at byte ${String(start)}`,
      );
    }
    if (ai > 27) {
      throw fail(
        "Malformed",
        `reserved additional information ${String(ai)} at byte ${String(start)}`,
      );
    }
    const size = need(1 << (ai - 24), "an item's argument");
    // Multiplication, not shifts: an 8-byte argument overflows 32-bit shifts (and loses precision past
    // 2^53, where every length is a truncation anyway).
    let argument = 0;
    for (let i = 0; i < size; i++) argument = argument * 256 + (bytes[offset++] ?? 0);
    // Floats (major 7, 25..27) have their own shortest-form rule; the schema refuses them anyway.
    if (major !== 7 && argument < (SHORTEST[ai - 24] ?? 0)) {
      throw fail(
        "NotDeterministic",
        `argument ${String(argument)} at byte ${String(start)} is not in its shortest form`,
      );
    }
    return { major, ai, argument, start };
  };

  const item = (depth: number): void => {
    if (depth > MAX_DEPTH) {
      throw fail("Malformed", `nested deeper than ${String(MAX_DEPTH)} at byte ${String(offset)}`);
    }
    const { major, ai, argument, start } = head();
    switch (major) {
      case 2:
      case 3:
        offset += need(argument, major === 2 ? "a byte string" : "a text string");
        return;
      case 4: {
        // Every element takes at least a byte: a count above what is left is a truncation.
        const count = need(argument, "an array");
        for (let i = 0; i < count; i++) item(depth + 1);
        return;
      }
      case 5: {
        const count = need(argument * 2, "a map") / 2;
        const seen = new Set<string>();
        let previous: Uint8Array | undefined;
        for (let i = 0; i < count; i++) {
          const keyStart = offset;
          item(depth + 1);
          const key = bytes.subarray(keyStart, offset);
          const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
          if (seen.has(id)) {
            throw fail("DuplicateKey", `map at byte ${String(start)} repeats the key 0x${id}`);
          }
          if (previous !== undefined && Buffer.compare(previous, key) > 0) {
            throw fail(
              "NotDeterministic",
              `map at byte ${String(start)} has its keys out of bytewise order`,
            );
          }
          seen.add(id);
          previous = key;
          item(depth + 1);
        }
        return;
      }
      case 6:
        item(depth + 1);
        return;
      case 7:
        if (ai === 24 && argument < 32) {
          throw fail(
            "Malformed",
            `simple value ${String(argument)} in two bytes at byte ${String(start)}`,
          );
        }
        return;
      default:
        return; // 0 and 1: integers, the argument is the value
    }
  };

  item(0);
  if (offset !== bytes.length) {
    throw fail("TrailingBytes", `${String(bytes.length - offset)} bytes after the CBOR item`);
  }
}

/** scanCbor, then cbor2 with the same refusals (tags kept as Tag, maps as Map). */
function decodeStrict(bytes: Uint8Array, what: string): unknown {
  scanCbor(bytes, what);
  try {
    return decode(bytes, {
      rejectDuplicateKeys: true,
      rejectStreaming: true,
      requirePreferred: true,
      preferMap: true,
      ignoreGlobalTags: true,
      maxDepth: MAX_DEPTH,
    });
  } catch (cause: unknown) {
    // scanCbor accepted it, so what cbor2 refuses is content (a text string that is not UTF-8).
    throw new PsaTokenError(
      "Malformed",
      `${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/** A decoded CBOR value for a message. */
function describe(value: unknown): string {
  if (typeof value === "number" || typeof value === "bigint") return value.toString();
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Uint8Array) return toHex(value);
  return typeof value;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function toBytes(value: Uint8Array | Hex, what: string): Uint8Array {
  return typeof value === "string" ? parseHexBytes(value, what) : value;
}

// ---------------------------------------------------------------------------------------------------
// COSE_Sign1

function checkHeaders(protectedBytes: Uint8Array, unprotected: Map<unknown, unknown>): void {
  const decoded =
    protectedBytes.length === 0 ? new Map() : decodeStrict(protectedBytes, "protected header");
  if (!(decoded instanceof Map)) {
    throw new PsaTokenError("NotCoseSign1", "the protected header is not a map");
  }
  const headers = decoded as Map<unknown, unknown>;
  // RFC 9052 §3.1: a recipient must refuse a message with critical headers it does not understand; this
  // profile understands none. crit in the unprotected bucket is itself invalid.
  if (headers.has(COSE_HEADER_CRIT) || unprotected.has(COSE_HEADER_CRIT)) {
    throw new PsaTokenError("CriticalHeader", "the token marks headers critical (label 2)");
  }
  const alg = headers.get(COSE_HEADER_ALG);
  if (alg !== COSE_ALG_ES256) {
    throw new PsaTokenError(
      "UnsupportedAlgorithm",
      `the protected alg is ${alg === undefined ? "missing" : describe(alg)}, not ES256 (-7)`,
    );
  }
  const extra = [...headers.keys()].filter((k) => k !== COSE_HEADER_ALG);
  if (extra.length > 0 || unprotected.size > 0) {
    const labels = [...extra, ...unprotected.keys()].map(describe).join(", ");
    throw new PsaTokenError(
      "UnexpectedHeader",
      `headers other than the protected alg (${labels}): this profile carries no others`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Claims

const CLAIM_OF_KEY = new Map<unknown, PsaClaimName>(
  Object.entries(PSA_CLAIM_KEYS).map(([name, key]) => [key, name as PsaClaimName]),
);
const MANDATORY: readonly PsaClaimName[] = [
  "nonce",
  "instanceId",
  "profile",
  "clientId",
  "securityLifecycle",
  "implementationId",
  "softwareComponents",
];
const COMPONENT_KEYS = new Set<unknown>(Object.values(PSA_COMPONENT_KEYS));

function bytesClaim(value: unknown, what: string, problem: PsaTokenProblem): Hex {
  if (!(value instanceof Uint8Array))
    throw new PsaTokenError(problem, `${what} is not a byte string`);
  return toHex(value);
}

function intClaim(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new PsaTokenError("BadClaim", `${what} is not an integer`);
  }
  return value;
}

function textClaim(value: unknown, what: string, problem: PsaTokenProblem): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new PsaTokenError(problem, `${what} is not a text string`);
  return value;
}

function component(value: unknown, i: number): PsaSoftwareComponent {
  const at = `software component #${String(i + 1)}`;
  if (!(value instanceof Map))
    throw new PsaTokenError("BadSoftwareComponent", `${at} is not a map`);
  const m = value as Map<unknown, unknown>;
  for (const key of m.keys()) {
    if (!COMPONENT_KEYS.has(key)) {
      throw new PsaTokenError("BadSoftwareComponent", `${at} has the unknown key ${describe(key)}`);
    }
  }
  const k = PSA_COMPONENT_KEYS;
  for (const [name, key] of [
    ["measurement value", k.measurementValue],
    ["signer id", k.signerId],
  ] as const) {
    if (!m.has(key))
      throw new PsaTokenError("BadSoftwareComponent", `${at} has no ${name} (${String(key)})`);
  }
  const p = "BadSoftwareComponent";
  return {
    measurementType: textClaim(m.get(k.measurementType), `${at}'s measurement type`, p),
    measurementValue: bytesClaim(m.get(k.measurementValue), `${at}'s measurement value`, p),
    version: textClaim(m.get(k.version), `${at}'s version`, p),
    signerId: bytesClaim(m.get(k.signerId), `${at}'s signer id`, p),
    measurementDescription: textClaim(m.get(k.measurementDescription), `${at}'s description`, p),
  };
}

/** Drops the optional fields that are absent, so the claims read as the builder's input would. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function parseClaims(payload: Uint8Array): PsaClaims {
  const decoded = decodeStrict(payload, "payload");
  if (!(decoded instanceof Map))
    throw new PsaTokenError("BadClaim", "the payload is not a claims map");
  const m = decoded as Map<unknown, unknown>;
  for (const key of m.keys()) {
    if (!CLAIM_OF_KEY.has(key)) {
      throw new PsaTokenError(
        "UnknownClaim",
        `claim ${describe(key)} is not one of RFC 9783's: this profile carries no others`,
      );
    }
  }
  const k = PSA_CLAIM_KEYS;
  for (const name of MANDATORY) {
    if (!m.has(k[name])) {
      throw new PsaTokenError(
        "MissingClaim",
        `the token has no ${name} claim (${String(k[name])})`,
      );
    }
  }
  const profile = m.get(k.profile);
  if (profile !== PSA_PROFILE) {
    throw new PsaTokenError(
      "WrongProfile",
      `profile ${profile === undefined ? "missing" : describe(profile)}, not ${PSA_PROFILE}`,
    );
  }
  const components = m.get(k.softwareComponents);
  if (!Array.isArray(components)) {
    throw new PsaTokenError(
      "BadSoftwareComponent",
      "the software components claim is not an array",
    );
  }
  const seed = m.get(k.bootSeed);
  const claims: PsaClaims = compact({
    nonce: bytesClaim(m.get(k.nonce), "the nonce", "BadClaim"),
    instanceId: bytesClaim(m.get(k.instanceId), "the instance id", "BadClaim"),
    clientId: intClaim(m.get(k.clientId), "the client id"),
    securityLifecycle: intClaim(m.get(k.securityLifecycle), "the security lifecycle"),
    implementationId: bytesClaim(m.get(k.implementationId), "the implementation id", "BadClaim"),
    bootSeed: seed === undefined ? undefined : bytesClaim(seed, "the boot seed", "BadClaim"),
    certificationReference: textClaim(
      m.get(k.certificationReference),
      "the certification reference",
      "BadClaim",
    ),
    softwareComponents: (components as unknown[]).map((c, i) => compact(component(c, i))),
    verificationServiceIndicator: textClaim(
      m.get(k.verificationServiceIndicator),
      "the verification service indicator",
      "BadClaim",
    ),
  });
  const fault = checkPsaClaims(claims);
  if (fault !== undefined) {
    throw new PsaTokenError(
      fault.claim === "softwareComponents" ? "BadSoftwareComponent" : "BadClaim",
      fault.message,
    );
  }
  // Everything above held, so the claims encode; any other encoding of them is refused.
  if (!sameBytes(encodePsaClaims(claims), payload)) {
    throw new PsaTokenError(
      "NotDeterministic",
      "the payload is not the deterministic encoding of its claims",
    );
  }
  return claims;
}

/**
 * Parses a PSA token exactly (see the module comment) and returns its claims; throws a PsaTokenError naming
 * the first rule broken. Verifies no signature: see verifyPsaTokenSignature and appraisePsaToken.
 */
export function parsePsaToken(token: Uint8Array | Hex): PsaToken {
  const bytes = toBytes(token, "PSA token");
  const root = decodeStrict(bytes, "token");
  if (!(root instanceof Tag) || root.tag !== COSE_SIGN1_TAG) {
    throw new PsaTokenError("NotCoseSign1", "the token is not a tagged COSE_Sign1 (tag 18)");
  }
  const parts = root.contents;
  if (!Array.isArray(parts) || parts.length !== 4) {
    throw new PsaTokenError("NotCoseSign1", "a COSE_Sign1 is an array of four items");
  }
  const [protectedBytes, unprotected, payload, signature] = parts as unknown[];
  if (
    !(protectedBytes instanceof Uint8Array) ||
    !(unprotected instanceof Map) ||
    !(payload instanceof Uint8Array) ||
    !(signature instanceof Uint8Array)
  ) {
    throw new PsaTokenError(
      "NotCoseSign1",
      "a COSE_Sign1 is [protected bstr, unprotected map, payload bstr (not detached), signature bstr]",
    );
  }
  checkHeaders(protectedBytes, unprotected as Map<unknown, unknown>);
  const claims = parseClaims(payload);
  if (signature.length !== 64) {
    throw new PsaTokenError(
      "MalformedSignature",
      `an ES256 signature is r‖s, 64 bytes, not ${String(signature.length)}`,
    );
  }
  if (!sameBytes(encodeCoseSign1(protectedBytes, payload, signature), bytes)) {
    throw new PsaTokenError(
      "NotDeterministic",
      "the token is not the deterministic encoding of its parts",
    );
  }
  return {
    claims,
    payload: new Uint8Array(payload),
    toBeSigned: coseSign1ToBeSigned(protectedBytes, payload),
    signature: toHex(signature),
  };
}

// ---------------------------------------------------------------------------------------------------
// Signature and appraisal

const P256_N = CURVE_ORDER.p256;

/**
 * Verifies the token's ES256 signature with the device's P-256 key (x‖y, 64 bytes: the key the registry
 * holds). r and s in [1, n) and s low (the chain accepts only low-s, as OpenZeppelin's P256 does).
 */
export function verifyPsaTokenSignature(token: PsaToken, publicKey: Uint8Array | Hex): void {
  const xy = toBytes(publicKey, "device public key");
  const key = xy.length === 64 ? p256PublicKey(xy) : null;
  if (key === null) {
    throw new PsaTokenError(
      "BadKey",
      "the device key is not an uncompressed P-256 point (x‖y, 64 bytes)",
    );
  }
  const raw = parseHexBytes(token.signature, "signature", { bytes: 64 });
  const r = BigInt(toHex(raw.subarray(0, 32)));
  const s = BigInt(toHex(raw.subarray(32)));
  if (r === 0n || r >= P256_N || s === 0n || s >= P256_N) {
    throw new PsaTokenError("MalformedSignature", "r and s must lie in [1, n)");
  }
  if (s > P256_N / 2n) {
    throw new PsaTokenError(
      "HighS",
      "s is above n/2: the chain accepts only low-s (normalise s to n - s)",
    );
  }
  if (!verifySignature("sha256", token.toBeSigned, { key, dsaEncoding: "ieee-p1363" }, raw)) {
    throw new PsaTokenError("BadSignature", "the device key did not sign this token");
  }
}

/** What a maker vouches for in one component: its signer, when the reference names one. */
export interface PsaComponentReference {
  readonly signerId?: Hex | undefined;
}

/**
 * Known-good software: a map from measurement value to what else must hold of the component (every
 * component's measurement value must be a key), or a callback that says whether a component is good.
 */
export type PsaReferenceValues =
  | ReadonlyMap<Hex, PsaComponentReference>
  | ((component: PsaSoftwareComponent, index: number) => boolean);

/** What the verifier holds to appraise a device's token. */
export interface PsaTokenAppraisal {
  /** The device's P-256 key, x‖y (64 bytes). */
  readonly publicKey: Uint8Array | Hex;
  /** The freshness value the nonce must equal (32 bytes: a registry challenge or a recent block hash). */
  readonly nonce: Uint8Array | Hex;
  /** Trust only the SECURED lifecycle state (RFC 9783 also trusts NON_PSA_ROT_DEBUG). */
  readonly securedOnly?: boolean | undefined;
  /** The implementation id the device's PSA RoT must have, when the verifier knows it. */
  readonly implementationId?: Uint8Array | Hex | undefined;
  /** The instance id the device must have (psaInstanceId of its attestation key), when known. */
  readonly instanceId?: Uint8Array | Hex | undefined;
  /** The maker's known-good components. */
  readonly referenceValues?: PsaReferenceValues | undefined;
  /** The registry's reference measurement (bytes32) that psaMeasurement of the token must equal. */
  readonly referenceMeasurement?: Uint8Array | Hex | undefined;
}

/** A token that passed appraisal, with DeviceTrust's measurement of it (null when not all SHA-256). */
export interface AppraisedPsaToken extends PsaToken {
  readonly measurement: Hex | null;
}

function tokenMeasurement(components: readonly PsaSoftwareComponent[]): Hex | null {
  try {
    return psaMeasurement(components);
  } catch (err: unknown) {
    if (err instanceof InvalidInputError) return null;
    throw err;
  }
}

function checkComponents(
  components: readonly PsaSoftwareComponent[],
  reference: PsaReferenceValues,
): void {
  const known =
    typeof reference === "function"
      ? undefined
      : new Map(
          [...reference].map(([value, ref]) => [
            parseHex(value, "reference measurement value"),
            ref,
          ]),
        );
  components.forEach((c, i) => {
    const at = `software component #${String(i + 1)}${c.measurementType === undefined ? "" : ` (${c.measurementType})`}`;
    if (typeof reference === "function") {
      if (!reference(c, i)) {
        throw new PsaTokenError("UnknownComponent", `${at} is not a known-good component`);
      }
      return;
    }
    const ref = known?.get(c.measurementValue);
    if (ref === undefined) {
      throw new PsaTokenError(
        "UnknownComponent",
        `${at} measures ${c.measurementValue}, not a reference value`,
      );
    }
    if (
      ref.signerId !== undefined &&
      parseHex(ref.signerId, "reference signer id") !== c.signerId
    ) {
      throw new PsaTokenError(
        "UnknownComponent",
        `${at} is signed by ${c.signerId}, not by the reference signer`,
      );
    }
  });
}

/**
 * Appraises a token: parses it exactly, verifies the device's signature, then the nonce, the security
 * lifecycle, the implementation and instance ids (when given), every component against the reference
 * values (when given) and the token's measurement against the reference measurement (when given).
 * Returns the token and its measurement; throws a PsaTokenError naming the first rule broken.
 */
export function appraisePsaToken(
  token: Uint8Array | Hex,
  appraisal: PsaTokenAppraisal,
): AppraisedPsaToken {
  const expectedNonce = toBytes(appraisal.nonce, "freshness value");
  if (expectedNonce.length !== 32) {
    throw new InvalidInputError(
      `the freshness value is 32 bytes (a challenge or a block hash), got ${String(expectedNonce.length)}`,
    );
  }
  const parsed = parsePsaToken(token);
  verifyPsaTokenSignature(parsed, appraisal.publicKey);
  const { claims } = parsed;
  if (claims.nonce !== toHex(expectedNonce)) {
    throw new PsaTokenError("WrongNonce", `nonce ${claims.nonce} is not the freshness value`);
  }
  if (!psaLifecycleTrusted(claims.securityLifecycle, appraisal.securedOnly === true)) {
    const state = psaLifecycleState(claims.securityLifecycle) ?? "invalid";
    throw new PsaTokenError(
      "UntrustedLifecycle",
      `lifecycle 0x${claims.securityLifecycle.toString(16).padStart(4, "0")} (${state}) is not ${appraisal.securedOnly === true ? "SECURED" : "SECURED or NON_PSA_ROT_DEBUG"}`,
    );
  }
  const implementationId = appraisal.implementationId;
  if (
    implementationId !== undefined &&
    claims.implementationId !== toHex(toBytes(implementationId, "implementation id"))
  ) {
    throw new PsaTokenError(
      "WrongImplementationId",
      `implementation id ${claims.implementationId} is not the expected PSA RoT`,
    );
  }
  const instanceId = appraisal.instanceId;
  if (instanceId !== undefined && claims.instanceId !== toHex(toBytes(instanceId, "instance id"))) {
    throw new PsaTokenError(
      "WrongInstanceId",
      `instance id ${claims.instanceId} is not this device's`,
    );
  }
  if (appraisal.referenceValues !== undefined) {
    checkComponents(claims.softwareComponents, appraisal.referenceValues);
  }
  const measurement = tokenMeasurement(claims.softwareComponents);
  const reference = appraisal.referenceMeasurement;
  if (reference !== undefined) {
    const expected = toHex(toBytes(reference, "reference measurement"));
    if (measurement !== expected) {
      throw new PsaTokenError(
        "MeasurementMismatch",
        measurement === null
          ? "the token's components are not all SHA-256 measurements: it has no DeviceTrust measurement"
          : `the token measures ${measurement}, not the reference ${expected}`,
      );
    }
  }
  return { ...parsed, measurement };
}

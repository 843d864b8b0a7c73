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
 * Arm PSA Initial Attestation Tokens (RFC 9783) as device evidence, parsed with the rules the chain's
 * decoder (contracts/libraries/PsaTokenLib.sol) applies. RFC 9783 §5 lets a constrained attester emit CBOR
 * that is not in preferred serialization and makes the verifier variation-tolerant: arguments in any of
 * their lengths and map keys in any order are taken. Refused: CBOR that is not well-formed, indefinite
 * lengths (RFC 9783 allows definite ones only), a key twice in one map (compared by value, whatever its
 * encoding), floats and simple values (no token item is one), anything after the last byte; a COSE_Sign1
 * that is not tagged 18, headers whose labels are not integers from -128 to 127 or appear twice across the
 * buckets, alg not ES256 (-7) in the protected bucket, crit anywhere, a header value that is not an integer,
 * a string or an array of byte strings; claims RFC 9783 does not define or of the wrong type.
 *
 * Appraisal follows the chain too: the device's ES256 signature (low-s) over the Sig_structure (encoded
 * deterministically, RFC 9052 §9, whatever the token's own encoding), the nonce against the freshness value,
 * the security lifecycle, the implementation and instance ids, each software component against the maker's
 * reference values, and DeviceTrust's measurement of the token (psaMeasurement, src/protocol/psa-claims.ts)
 * against the registry's reference. DeviceTrust's own devices emit core deterministic CBOR
 * (buildPsaToken, src/device/psa-token.ts).
 */

/** Why a token, its signature or its appraisal is refused: one reason per rule. */
export const PSA_TOKEN_PROBLEMS = [
  "Malformed",
  "Truncated",
  "TrailingBytes",
  "IndefiniteLength",
  "DuplicateKey",
  "UnexpectedItem",
  "NotCoseSign1",
  "UnsupportedAlgorithm",
  "CriticalHeader",
  "DuplicateHeader",
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

/**
 * Walks one CBOR data item over all of `bytes` and refuses, each with its own problem: a byte string
 * that ends early, an indefinite length, a reserved or invalid initial byte, nesting past MAX_DEPTH, a
 * map key that repeats one before it (by value: 10 and 0x18 0x0a are one key), a float or simple value,
 * and any byte after the item. What it accepts is well-formed, definite-length CBOR in any serialization.
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
        for (let i = 0; i < count; i++) {
          const id = keyIdentity(depth + 1);
          if (seen.has(id)) {
            throw fail("DuplicateKey", `map at byte ${String(start)} repeats the key ${id}`);
          }
          seen.add(id);
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
        throw fail(
          "UnexpectedItem",
          `a float or simple value (true, false, null…) at byte ${String(start)}: no token item is one`,
        );
      default:
        return; // 0 and 1: integers, the argument is the value
    }
  };

  /**
   * Reads a map key and returns what identifies it by value: an integer by its sign and argument, a string
   * by its kind and content, anything else by its bytes.
   */
  const keyIdentity = (depth: number): string => {
    const keyStart = offset;
    const initial = bytes[offset] ?? 0;
    item(depth);
    const major = initial >> 5;
    if (major <= 1) {
      offset = keyStart;
      const { argument } = head();
      return major === 0 ? String(argument) : String(-1 - argument);
    }
    if (major === 2 || major === 3) {
      const end = offset;
      offset = keyStart;
      head();
      const content = toHex(bytes.subarray(offset, end));
      offset = end;
      return `${major === 2 ? "h" : "t"}'${content}'`;
    }
    return toHex(bytes.subarray(keyStart, offset));
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

function toBytes(value: Uint8Array | Hex, what: string): Uint8Array {
  return typeof value === "string" ? parseHexBytes(value, what) : value;
}

// ---------------------------------------------------------------------------------------------------
// COSE_Sign1

/** The header labels the chain's decoder takes: integers from -128 to 127. */
const MAX_HEADER_LABEL = 127;

/** A header's value the chain's decoder takes: an integer, a string, or an array of byte strings. */
function headerValueAllowed(value: unknown): boolean {
  if (typeof value === "number" || typeof value === "bigint") return true;
  if (typeof value === "string" || value instanceof Uint8Array) return true;
  return Array.isArray(value) && value.every((v) => v instanceof Uint8Array);
}

/**
 * The two header buckets: integer labels from -128 to 127, each once across both; alg in the protected
 * bucket and ES256; no crit; values of the kinds headerValueAllowed names.
 */
function checkHeaders(protectedBytes: Uint8Array, unprotected: Map<unknown, unknown>): void {
  if (protectedBytes.length === 0) {
    throw new PsaTokenError(
      "UnsupportedAlgorithm",
      "the protected header is empty: ES256 (-7) must be named there",
    );
  }
  const decoded = decodeStrict(protectedBytes, "protected header");
  if (!(decoded instanceof Map)) {
    throw new PsaTokenError("NotCoseSign1", "the protected header is not a map");
  }
  const buckets: readonly (readonly [string, Map<unknown, unknown>])[] = [
    ["protected", decoded as Map<unknown, unknown>],
    ["unprotected", unprotected],
  ];
  const seen = new Set<number>();
  for (const [bucket, headers] of buckets) {
    for (const [label, value] of headers) {
      if (
        typeof label !== "number" ||
        !Number.isInteger(label) ||
        label > MAX_HEADER_LABEL ||
        label < -MAX_HEADER_LABEL - 1
      ) {
        throw new PsaTokenError(
          "UnexpectedHeader",
          `the ${bucket} header label ${describe(label)} is not an integer from -128 to 127`,
        );
      }
      if (seen.has(label)) {
        throw new PsaTokenError(
          "DuplicateHeader",
          `header label ${String(label)} appears twice${bucket === "unprotected" ? " (the unprotected bucket repeats a protected one)" : ""}`,
        );
      }
      seen.add(label);
      // RFC 9052 §3.1: a recipient must refuse critical headers it does not understand; none is understood
      // here.
      if (label === COSE_HEADER_CRIT) {
        throw new PsaTokenError("CriticalHeader", "the token marks headers critical (label 2)");
      }
      if (label === COSE_HEADER_ALG) {
        if (value !== COSE_ALG_ES256) {
          throw new PsaTokenError(
            "UnsupportedAlgorithm",
            `the protected alg is ${describe(value)}, not ES256 (-7)`,
          );
        }
      } else if (!headerValueAllowed(value)) {
        throw new PsaTokenError(
          "UnexpectedHeader",
          `the ${bucket} header ${String(label)} is not an integer, a string or an array of byte strings`,
        );
      }
    }
    if (bucket === "protected" && !seen.has(COSE_HEADER_ALG)) {
      throw new PsaTokenError(
        "UnsupportedAlgorithm",
        "the protected header names no alg: ES256 (-7) must be named there",
      );
    }
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
  return claims;
}

/**
 * Parses a PSA token (see the module comment) and returns its claims and the deterministic Sig_structure
 * its signature covers; throws a PsaTokenError naming the first rule broken. Verifies no signature: see
 * verifyPsaTokenSignature and appraisePsaToken.
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

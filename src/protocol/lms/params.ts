/**
 * The parameter sets of LMS (RFC 8554 §4.1 and §5.1, with SHA-256) and of NIST SP 800-208 §4 (SHA-256/192:
 * SHA-256 truncated to its first 24 bytes). Typecodes as IANA registered them, RFC 8554 §8 and SP 800-208
 * Tables 2 and 3.
 */

/** Which hash a parameter set uses: SHA-256 (32 bytes), or SHA-256/192 (its first 24 bytes). */
export type LmsHash = "sha256" | "sha256/192";

export interface LmotsParams {
  readonly name: LmotsName;
  readonly typecode: number;
  readonly hash: LmsHash;
  /** Bytes per hash output (and per chain value). */
  readonly n: number;
  /** The Winternitz parameter: bits per digit (1, 2, 4 or 8). */
  readonly w: number;
  /** Chains per signature: the digits of the message hash and of its checksum. */
  readonly p: number;
  /** How far the checksum is shifted left so that its digits end at bit 16. */
  readonly ls: number;
  /** Bytes of an LM-OTS signature: u32str(type) ‖ C ‖ y[0] ‖ … ‖ y[p-1]. */
  readonly signatureBytes: number;
}

export interface LmsParams {
  readonly name: LmsName;
  readonly typecode: number;
  readonly hash: LmsHash;
  /** Bytes per tree node. */
  readonly m: number;
  /** The tree's height: 2^h one-time keys. */
  readonly h: number;
}

export type LmotsName =
  | "LMOTS_SHA256_N32_W1"
  | "LMOTS_SHA256_N32_W2"
  | "LMOTS_SHA256_N32_W4"
  | "LMOTS_SHA256_N32_W8"
  | "LMOTS_SHA256_N24_W1"
  | "LMOTS_SHA256_N24_W2"
  | "LMOTS_SHA256_N24_W4"
  | "LMOTS_SHA256_N24_W8";

export type LmsName =
  | "LMS_SHA256_M32_H5"
  | "LMS_SHA256_M32_H10"
  | "LMS_SHA256_M32_H15"
  | "LMS_SHA256_M32_H20"
  | "LMS_SHA256_M32_H25"
  | "LMS_SHA256_M24_H5"
  | "LMS_SHA256_M24_H10"
  | "LMS_SHA256_M24_H15"
  | "LMS_SHA256_M24_H20"
  | "LMS_SHA256_M24_H25";

function lmots(name: LmotsName, typecode: number, n: number, w: number, p: number, ls: number) {
  const hash: LmsHash = n === 32 ? "sha256" : "sha256/192";
  return { name, typecode, hash, n, w, p, ls, signatureBytes: 4 + n * (p + 1) } as const;
}

function lms(name: LmsName, typecode: number, m: number, h: number): LmsParams {
  return { name, typecode, hash: m === 32 ? "sha256" : "sha256/192", m, h };
}

/** RFC 8554 Table 1 and SP 800-208 Table 3 (p and ls as Appendix B computes them; the test recomputes them). */
export const LMOTS_PARAMS: readonly LmotsParams[] = [
  lmots("LMOTS_SHA256_N32_W1", 0x01, 32, 1, 265, 7),
  lmots("LMOTS_SHA256_N32_W2", 0x02, 32, 2, 133, 6),
  lmots("LMOTS_SHA256_N32_W4", 0x03, 32, 4, 67, 4),
  lmots("LMOTS_SHA256_N32_W8", 0x04, 32, 8, 34, 0),
  lmots("LMOTS_SHA256_N24_W1", 0x05, 24, 1, 200, 8),
  lmots("LMOTS_SHA256_N24_W2", 0x06, 24, 2, 101, 6),
  lmots("LMOTS_SHA256_N24_W4", 0x07, 24, 4, 51, 4),
  lmots("LMOTS_SHA256_N24_W8", 0x08, 24, 8, 26, 0),
];

/** RFC 8554 Table 2 and SP 800-208 Table 2. */
export const LMS_PARAMS: readonly LmsParams[] = [
  lms("LMS_SHA256_M32_H5", 0x05, 32, 5),
  lms("LMS_SHA256_M32_H10", 0x06, 32, 10),
  lms("LMS_SHA256_M32_H15", 0x07, 32, 15),
  lms("LMS_SHA256_M32_H20", 0x08, 32, 20),
  lms("LMS_SHA256_M32_H25", 0x09, 32, 25),
  lms("LMS_SHA256_M24_H5", 0x0a, 24, 5),
  lms("LMS_SHA256_M24_H10", 0x0b, 24, 10),
  lms("LMS_SHA256_M24_H15", 0x0c, 24, 15),
  lms("LMS_SHA256_M24_H20", 0x0d, 24, 20),
  lms("LMS_SHA256_M24_H25", 0x0e, 24, 25),
];

const LMOTS_BY_TYPE = new Map(LMOTS_PARAMS.map((p) => [p.typecode, p]));
const LMS_BY_TYPE = new Map(LMS_PARAMS.map((p) => [p.typecode, p]));
const LMOTS_BY_NAME = new Map<string, LmotsParams>(LMOTS_PARAMS.map((p) => [p.name, p]));
const LMS_BY_NAME = new Map<string, LmsParams>(LMS_PARAMS.map((p) => [p.name, p]));

/** The LM-OTS parameter set of a typecode, or undefined when it is not one of LMOTS_PARAMS. */
export function lmotsByType(typecode: number): LmotsParams | undefined {
  return LMOTS_BY_TYPE.get(typecode);
}

/** The LMS parameter set of a typecode, or undefined when it is not one of LMS_PARAMS. */
export function lmsByType(typecode: number): LmsParams | undefined {
  return LMS_BY_TYPE.get(typecode);
}

/** A parameter set by its RFC name ("LMOTS_SHA256_N32_W4"), or undefined. */
export function lmotsByName(name: string): LmotsParams | undefined {
  return LMOTS_BY_NAME.get(name);
}

/** A parameter set by its RFC name ("LMS_SHA256_M32_H10"), or undefined. */
export function lmsByName(name: string): LmsParams | undefined {
  return LMS_BY_NAME.get(name);
}

/** Bytes of an LMS signature: u32str(q) ‖ lmots_signature ‖ u32str(type) ‖ path[0] ‖ … ‖ path[h-1]. */
export function lmsSignatureBytes(lmsParams: LmsParams, lmotsParams: LmotsParams): number {
  return 4 + lmotsParams.signatureBytes + 4 + lmsParams.h * lmsParams.m;
}

/** Bytes of an LMS public key: u32str(type) ‖ u32str(otstype) ‖ I ‖ T[1]. */
export function lmsPublicKeyBytes(lmsParams: LmsParams): number {
  return 8 + 16 + lmsParams.m;
}

import { createHash, verify as verifySignature } from "node:crypto";
import {
  CURVE_ORDER,
  DeviceTrustError,
  normalizeLowS,
  parseHexBytes,
  toHex,
  type Hex,
} from "../protocol/index.js";
import { p256PublicKey } from "./p256-key.js";

/**
 * TPM 2.0 quotes (TPM 2.0 Library, Part 2: TPMS_ATTEST, TPMS_QUOTE_INFO, TPMT_SIGNATURE): parsed exactly —
 * every length checked, nothing after the last field — and appraised with the rules the chain applies:
 * the Attestation Key's ECDSA P-256 signature over SHA-256 of the attest structure, the freshness value in
 * extraData, the TPM's clock never going back, and the PCR digest against the reference value.
 */

/** TPM_GENERATED_VALUE: every structure the TPM signs starts with it ("\xFFTCG"). */
export const TPM_GENERATED_VALUE = 0xff544347;
/** TPM_ST_ATTEST_QUOTE. */
export const TPM_ST_ATTEST_QUOTE = 0x8018;
/** The PCR a DeviceTrust device extends with each boot stage's SHA-256: its value is the measurement. */
export const TPM_BOOT_PCR = 16;
/** TPM_ALG_SHA256, TPM_ALG_ECDSA. */
export const TPM_ALG_SHA256 = 0x000b;
export const TPM_ALG_ECDSA = 0x0018;

const P256_N = CURVE_ORDER.p256;

/** Why a quote, its signature or its appraisal is refused: one reason per rule (the contract's errors). */
export const TPM_QUOTE_PROBLEMS = [
  "Truncated",
  "TrailingBytes",
  "WrongLength",
  "BadSafeFlag",
  "BadMagic",
  "NotAQuote",
  "UnsupportedHash",
  "BadSelection",
  "BootPcrNotSelected",
  "UnsupportedSignature",
  "SignatureOutOfRange",
  "BadKey",
  "BadSignature",
  "WrongExtraData",
  "ResetCountWentBack",
  "ClockWentBack",
  "PcrCountMismatch",
  "PcrDigestMismatch",
] as const;
export type TpmQuoteProblem = (typeof TPM_QUOTE_PROBLEMS)[number];

export class TpmQuoteError extends DeviceTrustError {
  constructor(
    readonly problem: TpmQuoteProblem,
    message: string,
  ) {
    super("TPM_QUOTE_INVALID", `${problem}: ${message}`);
    this.name = "TpmQuoteError";
  }
}

/** One bank of a PCR selection: the hash algorithm and the PCR indices selected, in ascending order. */
export interface PcrSelection {
  readonly hashAlg: number;
  readonly pcrs: readonly number[];
}

/** TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE. */
export interface TpmQuote {
  /** TPM2B_NAME of the signing key (its name algorithm and digest of its public area). */
  readonly qualifiedSigner: Hex;
  /** The caller's qualifying data: the freshness value. */
  readonly extraData: Hex;
  /** Milliseconds the TPM has been powered since its last TPM2_Clear. */
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  /** The clock was saved since it last went forward: it cannot have gone back. */
  readonly safe: boolean;
  readonly firmwareVersion: bigint;
  readonly pcrSelection: readonly PcrSelection[];
  /** The digest (with the AK's hash) of the selected PCRs' values, in selection order. */
  readonly pcrDigest: Hex;
}

/** A bounded big-endian reader that names the structure it reads when it runs out. */
class Reader {
  private offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  private take(n: number, field: string): Uint8Array {
    if (this.offset + n > this.bytes.length) {
      throw new TpmQuoteError(
        "Truncated",
        `${this.what} ends inside ${field} (${String(this.bytes.length)} bytes)`,
      );
    }
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  u8(field: string): number {
    return this.take(1, field)[0] ?? 0;
  }

  u16(field: string): number {
    const b = this.take(2, field);
    return ((b[0] ?? 0) << 8) | (b[1] ?? 0);
  }

  u32(field: string): number {
    const b = this.take(4, field);
    return (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
  }

  u64(field: string): bigint {
    return BigInt(hex(this.take(8, field)));
  }

  /** A TPM2B: a 16-bit size, then that many bytes (at most `max`, or exactly `exact`). */
  sized(field: string, max: number, exact?: number): Uint8Array {
    const size = this.u16(`${field}.size`);
    if (size > max || (exact !== undefined && size !== exact)) {
      throw new TpmQuoteError(
        "WrongLength",
        `${field} says ${String(size)} bytes, ${exact === undefined ? `at most ${String(max)}` : `not ${String(exact)}`}`,
      );
    }
    return this.take(size, field);
  }

  end(): void {
    if (this.offset !== this.bytes.length) {
      throw new TpmQuoteError(
        "TrailingBytes",
        `${String(this.bytes.length - this.offset)} bytes after the ${this.what}`,
      );
    }
  }
}

const hex = toHex;

function toBytes(value: Uint8Array | Hex): Uint8Array {
  return typeof value === "string" ? parseHexBytes(value, "TPM bytes") : value;
}

/** Parses a TPMS_ATTEST that must be a quote; refuses any other structure, any length error, any trailing byte. */
export function parseTpmQuote(attest: Uint8Array | Hex): TpmQuote {
  const r = new Reader(toBytes(attest), "TPMS_ATTEST");
  const magic = r.u32("magic");
  if (magic !== TPM_GENERATED_VALUE) {
    throw new TpmQuoteError("BadMagic", `magic 0x${magic.toString(16)}, not TPM_GENERATED_VALUE`);
  }
  const type = r.u16("type");
  if (type !== TPM_ST_ATTEST_QUOTE) {
    throw new TpmQuoteError("NotAQuote", `type 0x${type.toString(16)}, not TPM_ST_ATTEST_QUOTE`);
  }
  // TPM2B_NAME: a hash algorithm and a digest (at most SHA-512's 64 bytes), or a handle.
  const qualifiedSigner = hex(r.sized("qualifiedSigner", 2 + 64));
  // The freshness value DeviceTrust puts there: a 32-byte challenge or block hash.
  const extraData = hex(r.sized("extraData", 64, 32));
  const clock = r.u64("clockInfo.clock");
  const resetCount = r.u32("clockInfo.resetCount");
  const restartCount = r.u32("clockInfo.restartCount");
  const safeByte = r.u8("clockInfo.safe");
  if (safeByte > 1)
    throw new TpmQuoteError(
      "BadSafeFlag",
      `clockInfo.safe is ${String(safeByte)}, not a TPMI_YES_NO`,
    );
  const firmwareVersion = r.u64("firmwareVersion");
  const banks = r.u32("pcrSelect.count");
  // One bank, the one appraised (SHA-256): the chain's rule too.
  if (banks !== 1) {
    throw new TpmQuoteError("BadSelection", `${String(banks)} PCR banks selected, not 1`);
  }
  const pcrSelection: PcrSelection[] = [];
  for (let bank = 0; bank < banks; bank++) {
    const hashAlg = r.u16(`pcrSelections[${String(bank)}].hash`);
    const sizeofSelect = r.u8(`pcrSelections[${String(bank)}].sizeofSelect`);
    if (sizeofSelect < 3 || sizeofSelect > 4) {
      throw new TpmQuoteError(
        "BadSelection",
        `sizeofSelect ${String(sizeofSelect)} (PCR_SELECT_MIN 3, MAX 4)`,
      );
    }
    const select = new Uint8Array(sizeofSelect);
    for (let i = 0; i < sizeofSelect; i++)
      select[i] = r.u8(`pcrSelections[${String(bank)}].pcrSelect`);
    const pcrs: number[] = [];
    select.forEach((byte, i) => {
      for (let bit = 0; bit < 8; bit++) if ((byte >> bit) & 1) pcrs.push(i * 8 + bit);
    });
    pcrSelection.push({ hashAlg, pcrs });
  }
  const pcrDigest = hex(r.sized("pcrDigest", 64, 32));
  r.end();
  return {
    qualifiedSigner,
    extraData,
    clock,
    resetCount,
    restartCount,
    safe: safeByte === 1,
    firmwareVersion,
    pcrSelection,
    pcrDigest,
  };
}

/**
 * An ECDSA P-256 signature as a TPM returns it: a TPMT_SIGNATURE (ECDSA with SHA-256, r and s as TPM2Bs
 * of at most 32 bytes) or DER (tpm2-tools' `-f plain`). r and s in [1, n); s as the TPM gave it (TPMs do
 * not normalise s: low-s is the verifier's business, normalizeLowS).
 */
export function parseTpmSignature(signature: Uint8Array | Hex): { r: bigint; s: bigint } {
  const bytes = toBytes(signature);
  let r: bigint;
  let s: bigint;
  if (bytes[0] === 0x30) {
    ({ r, s } = parseDer(bytes));
  } else {
    const reader = new Reader(bytes, "TPMT_SIGNATURE");
    const sigAlg = reader.u16("sigAlg");
    if (sigAlg !== TPM_ALG_ECDSA) {
      throw new TpmQuoteError("UnsupportedSignature", `sigAlg 0x${sigAlg.toString(16)}, not ECDSA`);
    }
    const hash = reader.u16("hash");
    if (hash !== TPM_ALG_SHA256) {
      throw new TpmQuoteError(
        "UnsupportedHash",
        `signature hash 0x${hash.toString(16)}, not SHA-256`,
      );
    }
    r = BigInt(hex(reader.sized("signatureR", 32)));
    s = BigInt(hex(reader.sized("signatureS", 32)));
    reader.end();
  }
  if (r === 0n || r >= P256_N || s === 0n || s >= P256_N) {
    throw new TpmQuoteError("SignatureOutOfRange", "r and s must lie in [1, n)");
  }
  return { r, s };
}

function parseDer(bytes: Uint8Array): { r: bigint; s: bigint } {
  const reader = new Reader(bytes, "DER signature");
  reader.u8("SEQUENCE");
  const length = reader.u8("SEQUENCE length");
  if (length !== bytes.length - 2) {
    throw new TpmQuoteError(
      "Truncated",
      `DER SEQUENCE of ${String(length)} bytes in ${String(bytes.length)}`,
    );
  }
  const integer = (field: string): bigint => {
    if (reader.u8(`${field} tag`) !== 0x02)
      throw new TpmQuoteError("UnsupportedSignature", `${field} is not an INTEGER`);
    const size = reader.u8(`${field} length`);
    if (size === 0 || size > 33)
      throw new TpmQuoteError("SignatureOutOfRange", `${field} of ${String(size)} bytes`);
    const value = new Uint8Array(size);
    for (let i = 0; i < size; i++) value[i] = reader.u8(field);
    return BigInt(hex(value));
  };
  const r = integer("r");
  const s = integer("s");
  reader.end();
  return { r, s };
}

function bigintBytes(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, "0"), "hex");
}

/** SHA-256 over the PCR values in selection order: what a quote's pcrDigest must be. */
export function pcrDigestOf(pcrValues: readonly (Uint8Array | Hex)[]): Hex {
  const h = createHash("sha256");
  for (const v of pcrValues) h.update(toBytes(v));
  return `0x${h.digest("hex")}`;
}

/**
 * The evidence counter the chain keeps for a TPM device (the registry's bootCount, TpmAttestation.tpmCounter):
 * the reset count in the high 32 bits, the clock in whole seconds in the low 32. It must strictly increase
 * from quote to quote, so a quote is recorded once.
 */
export function tpmEvidenceCounter(resetCount: number, clockMs: bigint): bigint {
  return (BigInt(resetCount) << 32n) | ((clockMs / 1000n) & 0xffffffffn);
}

/** The reset count and clock (whole seconds, in milliseconds) a TPM evidence counter holds. */
export function tpmCounterParts(counter: bigint): { resetCount: number; clock: bigint } {
  return { resetCount: Number(counter >> 32n), clock: (counter & 0xffffffffn) * 1000n };
}

/** What the verifier holds: the device's AK, the freshness value, the last quote it accepted, the reference. */
export interface TpmQuoteAppraisal {
  /** The Attestation Key, uncompressed P-256 x‖y (64 bytes). */
  readonly akPublicKey: Uint8Array | Hex;
  /** The freshness value the quote must carry in extraData (a challenge or a recent block hash). */
  readonly extraData: Uint8Array | Hex;
  /** The selected PCRs' values, in selection order (sha256 bank). */
  readonly pcrValues: readonly (Uint8Array | Hex)[];
  /**
   * The reference digest for those PCRs, when the caller holds one. A device that extends PCR 16 with each
   * boot stage's SHA-256 ends with PCR 16 = the published measurement chain (MeasuredBootLib extends as a
   * TPM does): its reference digest is pcrDigestOf([measurement]).
   */
  readonly referencePcrDigest?: Uint8Array | Hex | undefined;
  /** The clock of the last quote accepted from this TPM, if any (from the chain: tpmCounterParts). */
  readonly last?: { readonly resetCount: number; readonly clock: bigint } | undefined;
}

/**
 * Appraises a quote: parses it and its signature exactly, verifies the AK's signature over SHA-256 of the
 * attest structure, then the freshness value, the clock (a reset count below the last quote's, or within
 * the same reset a clock not after it, is a replay or a rollback), that PCR 16 (the measured boot) is
 * quoted, the PCR values against the digest, the digest against the reference. The rules of the chain's
 * TpmAttestation (contracts/libraries/TpmQuoteLib.sol), which names its errors after these problems. Returns the parsed quote; throws a TpmQuoteError naming the first rule broken.
 */
export function appraiseTpmQuote(
  attest: Uint8Array | Hex,
  signature: Uint8Array | Hex,
  appraisal: TpmQuoteAppraisal,
): TpmQuote {
  const quote = parseTpmQuote(attest);
  const { r, s } = parseTpmSignature(signature);
  const selected = quote.pcrSelection.flatMap((b) => b.pcrs.map(() => b.hashAlg));
  if (selected.some((alg) => alg !== TPM_ALG_SHA256)) {
    throw new TpmQuoteError("UnsupportedHash", "only the SHA-256 PCR bank is appraised");
  }
  if (!quote.pcrSelection.some((bank) => bank.pcrs.includes(TPM_BOOT_PCR))) {
    throw new TpmQuoteError(
      "BootPcrNotSelected",
      `the quote does not cover PCR ${String(TPM_BOOT_PCR)}, which holds the measured boot`,
    );
  }
  const ak = toBytes(appraisal.akPublicKey);
  const key = ak.length === 64 ? p256PublicKey(ak) : null;
  if (key === null) {
    throw new TpmQuoteError("BadKey", "the AK is not an uncompressed P-256 point (x‖y, 64 bytes)");
  }
  const low = normalizeLowS("p256", { r, s });
  const raw = Buffer.concat([bigintBytes(low.r), bigintBytes(low.s)]);
  if (!verifySignature("sha256", toBytes(attest), { key, dsaEncoding: "ieee-p1363" }, raw)) {
    throw new TpmQuoteError("BadSignature", "the AK did not sign this quote");
  }
  if (quote.extraData !== hex(toBytes(appraisal.extraData))) {
    throw new TpmQuoteError(
      "WrongExtraData",
      `extraData ${quote.extraData} is not the freshness value`,
    );
  }
  const last = appraisal.last;
  if (last !== undefined) {
    if (quote.resetCount < last.resetCount) {
      throw new TpmQuoteError(
        "ResetCountWentBack",
        `resetCount ${String(quote.resetCount)} below the last quote's ${String(last.resetCount)}`,
      );
    }
    // Across a reset the clock may repeat values (restored from NV after a power loss): within one
    // reset it moves forward by whole seconds, as the chain's counter keeps it (tpmEvidenceCounter).
    if (quote.resetCount === last.resetCount && quote.clock / 1000n <= last.clock / 1000n) {
      throw new TpmQuoteError(
        "ClockWentBack",
        `clock ${quote.clock.toString()} ms is not a second after the last quote's ${last.clock.toString()} ms within reset ${String(last.resetCount)}`,
      );
    }
  }
  if (selected.length !== appraisal.pcrValues.length) {
    throw new TpmQuoteError(
      "PcrCountMismatch",
      `${String(selected.length)} PCRs selected, ${String(appraisal.pcrValues.length)} values given`,
    );
  }
  if (pcrDigestOf(appraisal.pcrValues) !== quote.pcrDigest) {
    throw new TpmQuoteError(
      "PcrDigestMismatch",
      "the PCR values do not hash to the quote's digest",
    );
  }
  const reference = appraisal.referencePcrDigest;
  if (reference !== undefined && quote.pcrDigest !== hex(toBytes(reference))) {
    throw new TpmQuoteError("PcrDigestMismatch", "the quoted PCRs are not the reference value");
  }
  return quote;
}

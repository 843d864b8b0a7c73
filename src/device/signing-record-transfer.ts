import { readFile, rename, writeFile } from "node:fs/promises";
import { SigningRecordError } from "./signing-record-errors.js";
import { parseInterchange } from "./signing-record-interchange.js";
import { SigningRecord, type FeedMarks, type ImportSummary } from "./signing-record.js";

/**
 * Moving a device's signing record between machines: `exportSigningRecord` writes the record as an
 * interchange file (signing-record-interchange.ts), `importSigningRecord` merges one into a record
 * (creating it for the file's device and deployment if it does not exist). What the
 * `device protection export` and `device protection import` tasks run.
 */

export interface SigningRecordSummary {
  readonly record: string;
  readonly deviceId: string;
  readonly chainId: bigint;
  readonly verifyingContract: string;
  readonly feeds: readonly FeedMarks[];
  /** The highest boot counter attested, if any. */
  readonly bootCount: bigint | null;
}

function summary(record: SigningRecord): SigningRecordSummary {
  return {
    record: record.path,
    deviceId: record.deviceId,
    chainId: record.domain.chainId,
    verifyingContract: record.domain.verifyingContract,
    feeds: record.feeds(),
    bootCount: record.attestation()?.bootCount ?? null,
  };
}

/** Writes the record at `recordPath` to `file` (a temporary file, then renamed: never half a file). */
export async function exportSigningRecord(
  recordPath: string,
  file: string,
): Promise<SigningRecordSummary & { readonly file: string }> {
  const record = SigningRecord.open(recordPath);
  try {
    const text = `${JSON.stringify(record.export(), null, 2)}\n`;
    const tmp = `${file}.${String(process.pid)}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, file);
    return { ...summary(record), file };
  } finally {
    record.close();
  }
}

/**
 * Merges the interchange `file` into the record at `recordPath` (created for the file's device and
 * deployment if missing), all or nothing: SigningRecordImportConflictError when they disagree,
 * SigningRecordMismatchError when they belong to different devices or deployments.
 */
export async function importSigningRecord(
  recordPath: string,
  file: string,
): Promise<SigningRecordSummary & { readonly file: string; readonly imported: ImportSummary }> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, "utf8")) as unknown;
  } catch (cause: unknown) {
    throw new SigningRecordError(
      `cannot read the interchange file ${file}: check the path and that it holds JSON (device protection export writes one)`,
      { cause },
    );
  }
  const interchange = parseInterchange(value, file);
  const m = interchange.metadata;
  const record = SigningRecord.open(recordPath, {
    domain: { chainId: BigInt(m.chainId), verifyingContract: m.verifyingContract },
    deviceId: m.deviceId,
  });
  try {
    const imported = record.import(interchange);
    return { ...summary(record), file, imported };
  } finally {
    record.close();
  }
}

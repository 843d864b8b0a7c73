import { closeSync, existsSync, mkdirSync, openSync, readFileSync, truncateSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { fsyncFolder } from "../device/fsync.js";
import type { Hex, PqSchemeName } from "../protocol/index.js";
import type { PqRecoveryRequestJson } from "../verify/pq.js";
import { GatewayError } from "./types.js";

/** A recovery request the gateway handled, as one line of its record file. */
export interface RecoveryRecord {
  /** The RecoverKey digest the post-quantum key signed: what makes two requests the same. */
  readonly digest: Hex;
  readonly scheme: PqSchemeName;
  /**
   * verified: an ML-DSA-44 request that passed verifyPqRecovery, for governance to act on (no contract
   * verifies ML-DSA yet); recovered: an LMS request PqKeyRecovery carried out (txHash); refused: an LMS
   * request that verified and that the chain refused all the same (reason: its custom error).
   */
  readonly result: "verified" | "recovered" | "refused";
  readonly deviceId: Hex;
  readonly newKeyHash: Hex;
  /** The RotateKey digest the new key signed (the registry checks it in recoverKey). */
  readonly rotateDigest: Hex;
  /** When the gateway handled it (ISO 8601). */
  readonly at: string;
  readonly txHash?: Hex;
  readonly blockNumber?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly request: PqRecoveryRequestJson;
}

/**
 * The gateway's record of the recovery requests it handled: a JSON-lines file, one RecoveryRecord per
 * line, appended and fsynced before the request's message is acknowledged (a crash before that leaves
 * the message with the broker, which redelivers it). It is what governance reads the verified ML-DSA-44
 * requests from, and what makes a request handled once across restarts (by digest). A line a crash cut
 * short was never acknowledged: open() cuts it off.
 */
export class RecoveryRecords {
  readonly path: string;
  private readonly byDigest = new Map<string, RecoveryRecord>();
  private readonly handle: FileHandle;
  /** Appends one after the other: each line is whole and on disk before the next starts. */
  private tail: Promise<void> = Promise.resolve();

  private constructor(path: string, handle: FileHandle, records: readonly RecoveryRecord[]) {
    this.path = path;
    this.handle = handle;
    for (const r of records) this.byDigest.set(r.digest, r);
  }

  /** Opens (creating it and its folder if absent) the record file at `path` and reads what it holds. */
  static async open(path: string): Promise<RecoveryRecords> {
    const folder = dirname(path);
    mkdirSync(folder, { recursive: true });
    const created = !existsSync(path);
    if (created) {
      closeSync(openSync(path, "a", 0o600));
      fsyncFolder(folder);
    }
    const text = readFileSync(path, "utf8");
    const whole = text.lastIndexOf("\n") + 1;
    // Only the last line can be torn (appends are sequential), and it was never acknowledged.
    if (whole < text.length) truncateSync(path, Buffer.byteLength(text.slice(0, whole)));
    const records: RecoveryRecord[] = [];
    const lines = text.slice(0, whole).split("\n");
    for (const [i, line] of lines.entries()) {
      if (line.trim() === "") continue;
      try {
        records.push(JSON.parse(line) as RecoveryRecord);
      } catch (err: unknown) {
        throw new GatewayError(
          "GATEWAY_RECOVERY_RECORDS",
          `line ${String(i + 1)} of the recovery records ${path} is not JSON: repair or move the file (it is what governance reads)`,
          { cause: err },
        );
      }
    }
    return new RecoveryRecords(path, await open(path, "a"), records);
  }

  /** Whether a request with this digest was handled. */
  has(digest: Hex): boolean {
    return this.byDigest.has(digest.toLowerCase());
  }

  /** Every record, in the order handled. */
  all(): RecoveryRecord[] {
    return [...this.byDigest.values()];
  }

  /** Appends `record` and fsyncs the file; resolves once it is on disk. */
  append(record: RecoveryRecord): Promise<void> {
    const line = `${JSON.stringify({ ...record, digest: record.digest.toLowerCase() })}\n`;
    const written = this.tail.then(async () => {
      await this.handle.write(line);
      await this.handle.datasync();
      this.byDigest.set(record.digest.toLowerCase(), record);
    });
    // A failed append fails its caller (its message stays unacknowledged); the next one still runs.
    this.tail = written.catch(() => undefined);
    return written;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.handle.close();
  }
}

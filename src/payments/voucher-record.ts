import type { DatabaseSync, StatementSync } from "node:sqlite";
import { InvalidInputError, type Domain, type Hex } from "../protocol/index.js";
import { VoucherRegressionError } from "./errors.js";
import { amountOf, amountText, inTransaction, openRecordDb } from "./record-db.js";

/**
 * A buyer device's record of the highest voucher it signed per channel: what keeps it from ever signing a
 * LOWER cumulative amount after a higher one (harmless on chain, where the seller closes with the higher
 * one, but a sign of a confused or tampered buyer), and lets it resend its latest voucher after a restart.
 *
 * Why not the device's SigningRecord (src/device/signing-record.ts): that record is bound to the registry's
 * EIP-712 domain and keeps per-(feed, sequence) digests against equivocation, with an EIP-3076-style
 * interchange format; a voucher is signed under the PaymentChannel contract's domain and its rule is a
 * per-channel high-water mark. Its durability is the same: `authorize` checks and commits the new amount in
 * one SQLite transaction (BEGIN IMMEDIATE, WAL, synchronous=FULL) BEFORE the key store signs, so a crash
 * can leave a recorded amount without a signature (harmless: the same amount signs again, to the same
 * digest), never a signature the record does not know. The signature is stored after signing, for `latest`.
 */
export interface VoucherRecordIdentity {
  /** The PaymentChannel contract's domain (verifyingContract: the channel contract). */
  readonly domain: Domain;
  /** The id the buyer device is registered under. */
  readonly deviceId: Hex;
}

/** The latest voucher signed for a channel. */
export interface RecordedVoucher {
  readonly channel: Hex;
  readonly cumulativeAmount: bigint;
  /** Undefined when a crash came between the record and the signature: sign the same amount again. */
  readonly signature: Hex | undefined;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS vouchers (
  channel   TEXT PRIMARY KEY,
  amount    TEXT NOT NULL,
  signature TEXT
) WITHOUT ROWID;
`;

export class VoucherRecord {
  /** The SQLite file, or ":memory:". */
  readonly path: string;
  readonly domain: Domain;
  readonly deviceId: Hex;
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #sign: StatementSync;

  private constructor(db: DatabaseSync, path: string, identity: VoucherRecordIdentity) {
    this.#db = db;
    this.path = path;
    this.domain = {
      chainId: identity.domain.chainId,
      verifyingContract: identity.domain.verifyingContract.toLowerCase() as Hex,
    };
    this.deviceId = identity.deviceId.toLowerCase() as Hex;
    this.#get = db.prepare("SELECT amount, signature FROM vouchers WHERE channel = ?");
    this.#put = db.prepare(
      `INSERT INTO vouchers (channel, amount, signature) VALUES (?, ?, NULL)
       ON CONFLICT (channel) DO UPDATE SET amount = excluded.amount, signature = NULL`,
    );
    this.#sign = db.prepare("UPDATE vouchers SET signature = ? WHERE channel = ? AND amount = ?");
  }

  /** Opens (or creates, with its folder) the record at `path` for `identity`. */
  static open(path: string, identity: VoucherRecordIdentity): VoucherRecord {
    return new VoucherRecord(openRecordDb(path, WHAT, meta(identity), SCHEMA), path, identity);
  }

  /** A record for the life of the process (a VoucherSigner's default). */
  static inMemory(identity: VoucherRecordIdentity): VoucherRecord {
    return VoucherRecord.open(":memory:", identity);
  }

  /** The latest voucher signed for `channel`, if any. */
  latest(channel: Hex): RecordedVoucher | undefined {
    const row = this.#get.get(channel.toLowerCase()) as
      { amount: string; signature: string | null } | undefined;
    if (row === undefined) return undefined;
    return {
      channel: channel.toLowerCase() as Hex,
      cumulativeAmount: amountOf(row.amount),
      signature: row.signature === null ? undefined : (row.signature as Hex),
    };
  }

  /**
   * Checks that `amount` is not below the highest signed for `channel` and commits it durably, in one
   * transaction; throws VoucherRegressionError otherwise (nothing changes). The same amount again is
   * allowed: it is the same voucher.
   */
  authorize(channel: Hex, amount: bigint): void {
    if (amount < 0n || amount >= 1n << 256n) {
      throw new InvalidInputError("cumulativeAmount must be a whole number from 0 to 2^256 - 1");
    }
    const id = channel.toLowerCase();
    inTransaction(this.#db, () => {
      const row = this.#get.get(id) as { amount: string } | undefined;
      const signed = row === undefined ? undefined : amountOf(row.amount);
      if (signed !== undefined && amount < signed) {
        throw new VoucherRegressionError(channel, amount, signed);
      }
      if (signed !== amount) this.#put.run(id, amountText(amount));
    });
  }

  /** Stores the signature of the voucher `authorize` committed (for `latest`). */
  remember(channel: Hex, amount: bigint, signature: Hex): void {
    this.#sign.run(signature, channel.toLowerCase(), amountText(amount));
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

const WHAT = "voucher record";

function meta(identity: VoucherRecordIdentity): Map<string, string> {
  return new Map([
    ["kind", "devicetrust-voucher-record"],
    ["version", "1"],
    ["chainId", identity.domain.chainId.toString()],
    ["verifyingContract", identity.domain.verifyingContract.toLowerCase()],
    ["deviceId", identity.deviceId.toLowerCase()],
  ]);
}

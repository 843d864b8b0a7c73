import type { DatabaseSync, StatementSync } from "node:sqlite";
import { InvalidInputError, type DeviceKey, type Domain, type Hex } from "../protocol/index.js";
import { VoucherNotNewerError, VoucherRecordError } from "./errors.js";
import { amountOf, amountText, inTransaction, openRecordDb } from "./record-db.js";
import { channelIdOf, termsFromJson, termsToJson, type ChannelTerms } from "./terms.js";

/**
 * The seller's durable record of the channels it serves and of the latest voucher it accepted on each: its
 * money. A VoucherVerifier given one (`new VoucherVerifier(domain, { store })`) resumes every channel from it
 * after a restart and commits each voucher here BEFORE it reports it accepted, so an acknowledged voucher
 * survives a crash, and `close` reads it back. The amount per channel never goes lower: `accept` refuses
 * anything at or below it (VoucherNotNewerError), in one transaction. Same file format and durability as the
 * buyer's VoucherRecord (record-db.ts: SQLite, WAL, synchronous=FULL), bound to one seller, chain and
 * channel contract.
 */
export interface SellerStoreIdentity {
  /** The PaymentChannel contract's domain. */
  readonly domain: Domain;
  /** The seller (terms.seller of every channel stored). */
  readonly seller: Hex;
}

/** A channel as the store keeps it: what VoucherVerifier.track takes, and the latest voucher. */
export interface StoredChannel {
  readonly channel: Hex;
  readonly terms: ChannelTerms;
  readonly deposit: bigint;
  readonly expiry: bigint;
  readonly key: DeviceKey;
  /** The highest amount accepted (0 before the first voucher). */
  readonly accepted: bigint;
  /** The signature of the voucher for `accepted`; undefined before the first voucher. */
  readonly signature: Hex | undefined;
}

/** What `track` stores: the channel as its events and the registry describe it. */
export interface ChannelToStore {
  readonly terms: ChannelTerms;
  readonly deposit: bigint;
  readonly expiry: bigint;
  readonly key: DeviceKey;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS channels (
  channel   TEXT PRIMARY KEY,
  terms     TEXT NOT NULL,
  deposit   TEXT NOT NULL,
  expiry    TEXT NOT NULL,
  key       TEXT NOT NULL,
  amount    TEXT NOT NULL,
  signature TEXT
) WITHOUT ROWID;
`;
const WHAT = "seller voucher store";

interface Row {
  channel: string;
  terms: string;
  deposit: string;
  expiry: string;
  key: string;
  amount: string;
  signature: string | null;
}

export class SellerVoucherStore {
  /** The SQLite file, or ":memory:". */
  readonly path: string;
  readonly domain: Domain;
  readonly seller: Hex;
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #all: StatementSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;
  readonly #accept: StatementSync;
  readonly #delete: StatementSync;

  private constructor(db: DatabaseSync, path: string, identity: SellerStoreIdentity) {
    this.#db = db;
    this.path = path;
    this.domain = {
      chainId: identity.domain.chainId,
      verifyingContract: identity.domain.verifyingContract.toLowerCase() as Hex,
    };
    this.seller = identity.seller.toLowerCase() as Hex;
    this.#get = db.prepare("SELECT * FROM channels WHERE channel = ?");
    this.#all = db.prepare("SELECT * FROM channels ORDER BY channel");
    this.#insert = db.prepare(
      `INSERT INTO channels (channel, terms, deposit, expiry, key, amount, signature)
       VALUES (?, ?, ?, ?, ?, ?, NULL)`,
    );
    this.#update = db.prepare(
      "UPDATE channels SET deposit = ?, expiry = ?, key = ? WHERE channel = ?",
    );
    this.#accept = db.prepare("UPDATE channels SET amount = ?, signature = ? WHERE channel = ?");
    this.#delete = db.prepare("DELETE FROM channels WHERE channel = ?");
  }

  /** Opens (or creates, with its folder) the store at `path` for `identity`. */
  static open(path: string, identity: SellerStoreIdentity): SellerVoucherStore {
    const meta = new Map([
      ["kind", "devicetrust-seller-vouchers"],
      ["version", "1"],
      ["chainId", identity.domain.chainId.toString()],
      ["verifyingContract", identity.domain.verifyingContract.toLowerCase()],
      ["seller", identity.seller.toLowerCase()],
    ]);
    return new SellerVoucherStore(openRecordDb(path, WHAT, meta, SCHEMA), path, identity);
  }

  /** A store for the life of the process (tests). */
  static inMemory(identity: SellerStoreIdentity): SellerVoucherStore {
    return SellerVoucherStore.open(":memory:", identity);
  }

  /**
   * Stores a channel, or updates its deposit, expiry and key (a top-up, a rotation); the accepted amount and
   * its voucher are kept as they are. Returns the channel as stored.
   */
  track(channel: ChannelToStore): StoredChannel {
    const { terms } = channel;
    if (terms.seller.toLowerCase() !== this.seller) {
      throw new VoucherRecordError(
        `channel terms name seller ${terms.seller}, but ${this.path} is the store of seller ${this.seller}: open the store of the terms' seller`,
      );
    }
    const id = channelIdOf(terms).toLowerCase() as Hex;
    const fields = [channel.deposit.toString(), channel.expiry.toString(), keyJson(channel.key)];
    inTransaction(this.#db, () => {
      if (this.#get.get(id) === undefined) {
        this.#insert.run(id, JSON.stringify(termsToJson(terms)), ...fields, amountText(0n));
      } else {
        this.#update.run(...fields, id);
      }
    });
    return this.get(id) as StoredChannel;
  }

  /**
   * Commits `amount` and its signature as the channel's latest voucher, durably, if it is above the one
   * stored; throws VoucherNotNewerError otherwise (nothing changes). Checking the voucher is the caller's
   * (VoucherVerifier.verify).
   */
  accept(channel: Hex, amount: bigint, signature: Hex): void {
    const id = channel.toLowerCase() as Hex;
    inTransaction(this.#db, () => {
      const row = this.#row(id);
      const latest = amountOf(row.amount);
      if (amount <= latest) throw new VoucherNotNewerError(id, amount, latest);
      this.#accept.run(amountText(amount), signature, id);
    });
  }

  /** The channel as stored, or undefined if the store does not hold it. */
  get(channel: Hex): StoredChannel | undefined {
    const row = this.#get.get(channel.toLowerCase()) as Row | undefined;
    return row === undefined ? undefined : stored(row);
  }

  /** Every channel stored, by id. */
  channels(): StoredChannel[] {
    return (this.#all.all() as unknown as Row[]).map(stored);
  }

  /** Drops a channel that ended (closed or reclaimed): nothing is left to claim with its vouchers. */
  forget(channel: Hex): void {
    this.#delete.run(channel.toLowerCase());
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  #row(id: Hex): Row {
    const row = this.#get.get(id) as Row | undefined;
    if (row === undefined) {
      throw new InvalidInputError(
        `${this.path} holds no channel ${id}: track it first (channel voucher --accept does, from the chain)`,
      );
    }
    return row;
  }
}

function keyJson(key: DeviceKey): string {
  return JSON.stringify({ keyType: key.keyType, key: key.key });
}

function stored(row: Row): StoredChannel {
  return {
    channel: row.channel as Hex,
    terms: termsFromJson(JSON.parse(row.terms)),
    deposit: BigInt(row.deposit),
    expiry: BigInt(row.expiry),
    key: JSON.parse(row.key) as DeviceKey,
    accepted: amountOf(row.amount),
    signature: row.signature === null ? undefined : (row.signature as Hex),
  };
}

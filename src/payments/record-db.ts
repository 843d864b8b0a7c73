import { existsSync, mkdirSync } from "node:fs";
import { fsyncFolder } from "../device/fsync.js";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { VoucherRecordError } from "./errors.js";

/**
 * The crash-safe SQLite file behind both sides' voucher records: the buyer device's VoucherRecord and the
 * seller's SellerVoucherStore. WAL with synchronous=FULL, so a committed transaction survives a crash or a
 * power loss; a new file's folder entry is fsynced too. The `meta` table binds the file to one identity
 * (chain, channel contract, device or seller): a file of another is refused, never silently reused.
 */

/** A uint256 as 64 hex digits: text order is numeric order. */
export function amountText(value: bigint): string {
  return value.toString(16).padStart(64, "0");
}

/** The inverse of amountText. */
export function amountOf(text: string): bigint {
  return BigInt(`0x${text}`);
}

/**
 * Opens (or creates, with its folder) the record at `path` (":memory:" for one in memory), creates
 * `schema` and checks (or, in a new file, writes) `identity` in its meta table. `what` names the record in
 * errors ("voucher record", "seller voucher store").
 */
export function openRecordDb(
  path: string,
  what: string,
  identity: ReadonlyMap<string, string>,
  schema: string,
): DatabaseSync {
  const created = path !== ":memory:" && !existsSync(path);
  if (created) mkdirSync(dirname(path), { recursive: true });
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    db.exec(
      "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
    );
    db.exec(schema);
  } catch (cause: unknown) {
    throw new VoucherRecordError(
      `cannot open the ${what} ${path}: check that it is a ${what} and that its folder is writable`,
      { cause },
    );
  }
  try {
    checkIdentity(db, path, what, identity);
  } catch (err: unknown) {
    db.close();
    throw err;
  }
  // The database file's folder entry, so a power loss cannot lose the file its WAL belongs to.
  if (created) fsyncFolder(dirname(path));
  return db;
}

function checkIdentity(
  db: DatabaseSync,
  path: string,
  what: string,
  identity: ReadonlyMap<string, string>,
): void {
  const rows = db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[];
  if (rows.length === 0) {
    const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
    db.exec("BEGIN IMMEDIATE");
    for (const [k, v] of identity) put.run(k, v);
    db.exec("COMMIT");
    return;
  }
  const have = new Map(rows.map((r) => [r.key, r.value]));
  for (const [k, v] of identity) {
    if (have.get(k) !== v) {
      throw new VoucherRecordError(
        `${path} is the ${what} of another ${k} (${String(have.get(k))}, not ${v}): open the ${what} of this ${bound(identity)}, or give it a file of its own`,
      );
    }
  }
}

/** What a record is bound to, in words: "chainId, verifyingContract, deviceId". */
function bound(identity: ReadonlyMap<string, string>): string {
  return [...identity.keys()].filter((k) => k !== "kind" && k !== "version").join(", ");
}

/** Runs `body` in one IMMEDIATE transaction: committed when it returns, rolled back when it throws. */
export function inTransaction<T>(db: DatabaseSync, body: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const value = body();
    db.exec("COMMIT");
    return value;
  } catch (err: unknown) {
    db.exec("ROLLBACK");
    throw err;
  }
}

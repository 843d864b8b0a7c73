import { statSync } from "node:fs";
import type { DatabaseSync } from "node:sqlite";

/**
 * An SQLite store's size on disk in bytes: its pages (free ones included: SQLite reuses them without
 * giving them back) plus its write-ahead log, if any. An in-memory database has no log.
 */
export function sqliteSizeBytes(db: DatabaseSync, path: string): number {
  const pages = db.prepare("PRAGMA page_count").get() as { page_count: number };
  const size = db.prepare("PRAGMA page_size").get() as { page_size: number };
  let wal = 0;
  if (path !== ":memory:" && path !== "") {
    try {
      wal = statSync(`${path}-wal`).size;
    } catch {
      // No log file (not yet, or no more): nothing to add.
    }
  }
  return pages.page_count * size.page_size + wal;
}

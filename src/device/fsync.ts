import { closeSync, fsyncSync, openSync } from "node:fs";

/**
 * Flushes a folder's entries to disk: after creating a file in it (a SQLite record), so that the file
 * itself survives a crash, not only its contents. The signing record and the voucher records use it.
 */
export function fsyncFolder(folder: string): void {
  const fd = openSync(folder, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

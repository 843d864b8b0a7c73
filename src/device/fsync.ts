import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

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

const TEMPORARY = ".tmp";

/** The temporary files writeFileDurably leaves beside `path` when a crash interrupts it. */
function isTemporaryOf(path: string, name: string): boolean {
  return name.startsWith(`.${basename(path)}.`) && name.endsWith(TEMPORARY);
}

/**
 * Replaces `path` with `data` so that a crash (power loss included) leaves either the old file or the
 * new one, never a mix, and the new one is on disk when this returns: the data goes to a temporary file
 * beside it, which is fsynced, renamed over `path` (atomic on POSIX), and the folder fsynced (the rename
 * is a folder entry). Synchronous: nothing runs between the write and its durability.
 */
export function writeFileDurably(path: string, data: string | Uint8Array, mode = 0o600): void {
  const folder = dirname(path);
  const temporary = join(
    folder,
    `.${basename(path)}.${String(process.pid)}.${randomBytes(4).toString("hex")}${TEMPORARY}`,
  );
  const fd = openSync(temporary, "wx", mode);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temporary, path);
  } catch (err: unknown) {
    rmSync(temporary, { force: true });
    throw err;
  }
  fsyncFolder(folder);
}

/** Removes the temporary files of writes to `path` that a crash interrupted (call it holding the file). */
export function removeInterruptedWrites(path: string): void {
  const folder = dirname(path);
  for (const name of readdirSync(folder)) {
    if (isTemporaryOf(path, name)) rmSync(join(folder, name), { force: true });
  }
}

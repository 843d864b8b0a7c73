import { basename } from "node:path";
import { InvalidInputError } from "../protocol/index.js";

/**
 * The password of each key file, in the order of `files`, from a password file's text: a JSON object that
 * maps each key file (as given, or its file name) to its password, or else one line per key file in the
 * same order. Throws saying which key file has none.
 */
export function passwordsFromFile(text: string, files: readonly string[], where: string): string[] {
  const map = jsonObject(text, where);
  if (map !== undefined) return files.map((f) => fromMap(map, f, where));
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  if (lines.length !== files.length) {
    throw new InvalidInputError(
      `${where} has ${String(lines.length)} lines for ${String(files.length)} key files: give one password a line, in the order of --key-files (or a JSON object {"<key file>": "<password>"})`,
    );
  }
  return lines;
}

function jsonObject(text: string, where: string): Record<string, unknown> | undefined {
  if (!text.trimStart().startsWith("{")) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch (cause) {
    throw new InvalidInputError(`${where} starts like JSON but is not: fix its syntax`, { cause });
  }
}

function fromMap(map: Record<string, unknown>, file: string, where: string): string {
  const password = map[file] ?? map[basename(file)];
  if (typeof password !== "string" || password === "") {
    throw new InvalidInputError(
      `${where} has no password for key file ${file}: add "${basename(file)}": "<password>"`,
    );
  }
  return password;
}

import { toHex } from "../protocol/index.js";

type Plain = string | number | boolean | null | Plain[] | PlainObject;
interface PlainObject {
  [key: string]: Plain;
}

/** The value as plain JSON data: bigint as a decimal string, bytes as hex, undefined dropped. */
export function toPlain(value: unknown): Plain {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
    return value;
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (typeof value === "object") {
    const out: PlainObject = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined && typeof v !== "function") out[k] = toPlain(v);
    }
    return out;
  }
  return null; // symbols and functions have no JSON form
}

/** Stable machine output (--json): keys in the order the client functions build them, bigint as decimal strings. */
export function formatJson(value: unknown): string {
  return JSON.stringify(toPlain(value), null, 2);
}

function flatten(value: Plain, prefix: string, out: [string, string][]): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value))
      flatten(v, prefix === "" ? k : `${prefix}.${k}`, out);
  } else if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
    value.forEach((v, i) => {
      flatten(v, `${prefix}[${String(i)}]`, out);
    });
  } else {
    out.push([prefix, cell(value)]);
  }
}

function cell(value: Plain): string {
  if (value === null) return "-";
  if (Array.isArray(value)) return value.length === 0 ? "-" : value.map(cell).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Human output: a record as aligned `key: value` lines (nested keys dotted); a list of records as a table. */
export function formatHuman(value: unknown): string {
  const plain = toPlain(value);
  if (Array.isArray(plain)) return formatTable(plain);
  if (plain === null || typeof plain !== "object") return cell(plain);
  const rows: [string, string][] = [];
  flatten(plain, "", rows);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join("\n");
}

/** A list of records as a table with a header row; columns are the union of the records' keys. */
export function formatTable(rows: readonly Plain[]): string {
  if (rows.length === 0) return "(none)";
  const records = rows.map((r) =>
    r !== null && typeof r === "object" && !Array.isArray(r) ? r : { value: r },
  );
  const columns = [...new Set(records.flatMap((r) => Object.keys(r)))];
  const cells = records.map((r) => columns.map((c) => cell(r[c] ?? null)));
  const widths = columns.map((c, i) =>
    Math.max(c.length, ...cells.map((row) => (row[i] ?? "").length)),
  );
  const line = (parts: readonly string[]): string =>
    parts
      .map((p, i) => p.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

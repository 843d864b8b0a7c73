/**
 * The figures of a service as /api/ops gives them: Prometheus sample keys (`name{label="value",…}`),
 * `health.<field>` and `<counter>_per_second`, read into names and labels and grouped for the
 * Operations view. Pure: no DOM, no Preact, nothing kept between calls.
 */

/** A sample key read: its metric name and its labels (none for `gateway_queue_depth`). */
export interface SampleKey {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

// Prometheus' metric name, and the dotted `health.<field>` names of /api/ops.
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:.]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * `gateway_rejected_total{reason="conflict"}` → { name: "gateway_rejected_total", labels: { reason:
 * "conflict" } }. Label values may hold the text format's escapes (\\, \", \n). null when `key` is not
 * a sample key (a bad name, an unclosed brace or quote, text after the labels).
 */
export function parseKey(key: string): SampleKey | null {
  const name = NAME.exec(key)?.[0];
  if (name === undefined) return null;
  const labels: Record<string, string> = {};
  let rest = key.slice(name.length);
  if (rest === "") return { name, labels };
  if (!rest.startsWith("{")) return null;
  rest = rest.slice(1).trimStart();
  while (!rest.startsWith("}")) {
    const label = LABEL.exec(rest)?.[0];
    if (label === undefined) return null;
    rest = rest.slice(label.length).trimStart();
    if (!rest.startsWith("=")) return null;
    rest = rest.slice(1).trimStart();
    if (!rest.startsWith('"')) return null;
    let value = "";
    let i = 1;
    for (; i < rest.length && rest[i] !== '"'; i++) {
      const c = rest[i] as string;
      if (c !== "\\") {
        value += c;
        continue;
      }
      i++;
      const escaped = rest[i];
      if (escaped === undefined) return null;
      value += escaped === "n" ? "\n" : escaped;
    }
    if (i >= rest.length) return null; // no closing quote
    labels[label] = value;
    rest = rest.slice(i + 1).trimStart();
    if (rest.startsWith(",")) rest = rest.slice(1).trimStart();
    else if (!rest.startsWith("}")) return null;
  }
  return rest === "}" ? { name, labels } : null;
}

/** A label value as the text format writes it (the escapes parseKey reads). */
function escapeLabel(value: string): string {
  return value.replace(/[\\"]/g, "\\$&").replace(/\n/g, "\\n");
}

/** One sample: its key as given, the key read, and its value. */
export interface Sample extends SampleKey {
  readonly key: string;
  readonly value: number;
}

/** Every figure whose key reads as a sample key (the others only show in the raw table). */
export function samples(figures: Readonly<Record<string, number>>): Sample[] {
  const out: Sample[] = [];
  for (const [key, value] of Object.entries(figures)) {
    const parsed = parseKey(key);
    if (parsed !== null) out.push({ key, value, ...parsed });
  }
  return out;
}

/** How many of one label value a counter counted. */
export interface LabelCount {
  /** The label's value, e.g. "conflict". */
  readonly label: string;
  readonly count: number;
  /** The figure's key, e.g. `gateway_rejected_total{reason="conflict"}`. */
  readonly key: string;
}

/** Largest count first; equal counts by label. */
export function byCount<T extends { readonly label: string; readonly count: number }>(
  a: T,
  b: T,
): number {
  return b.count - a.count || a.label.localeCompare(b.label);
}

/**
 * The figures of one service, read by metric name and label. Remembers which keys it was asked for
 * (`used`), so the view can tell what it did not summarize.
 */
export class Figures {
  private readonly all: readonly Sample[];
  private readonly seen = new Set<string>();

  constructor(readonly raw: Readonly<Record<string, number>>) {
    this.all = samples(raw);
  }

  /** The sample named `name` without labels (undefined when the service did not give it). */
  value(name: string): number | undefined {
    const sample = this.all.find((s) => s.name === name && Object.keys(s.labels).length === 0);
    if (sample === undefined) return undefined;
    this.seen.add(sample.key);
    return sample.value;
  }

  /** The first of `names` the service gave. */
  first(...names: string[]): number | undefined {
    for (const name of names) {
      const value = this.value(name);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** The sample of `name` whose `label` is `value`. */
  labelled(name: string, label: string, value: string): number | undefined {
    const sample = this.all.find((s) => s.name === name && s.labels[label] === value);
    if (sample === undefined) return undefined;
    this.seen.add(sample.key);
    return sample.value;
  }

  /** The sum of every sample of `name`, whatever its labels (undefined when there is none). */
  total(name: string): number | undefined {
    const found = this.all.filter((s) => s.name === name);
    if (found.length === 0) return undefined;
    for (const s of found) this.seen.add(s.key);
    return found.reduce((sum, s) => sum + s.value, 0);
  }

  /**
   * `name`'s samples by the value of `label`, summed over their other labels (`{scheme,result}` by
   * result), largest count first. A row keeps its sample's key when `label` is the sample's only label,
   * else it is keyed `name{label="value"}`, as Prometheus' `sum by (label)` shows it.
   */
  byLabel(name: string, label: string): LabelCount[] {
    const rows = new Map<string, LabelCount>();
    for (const s of this.all) {
      const value = s.labels[label];
      if (s.name !== name || value === undefined) continue;
      this.seen.add(s.key);
      const key =
        Object.keys(s.labels).length === 1 ? s.key : `${name}{${label}="${escapeLabel(value)}"}`;
      const count = (rows.get(value)?.count ?? 0) + s.value;
      rows.set(value, { label: value, count, key });
    }
    return [...rows.values()].sort(byCount);
  }

  /** Whether the view was asked for `key`. */
  used(key: string): boolean {
    return this.seen.has(key);
  }
}

/** Where a reading was turned away: by the gateway on intake, or by the feed it was sent to. */
export type Stage = "rejected" | "refused";

export interface ReasonRow extends LabelCount {
  readonly stage: Stage;
}

/**
 * The gateway's `rejected_total{reason}` (dropped at intake) and `refused_total{reason}` (sent, not
 * accepted by the feed) in one list, largest count first. Zero counts are left out.
 */
export function reasonRows(figures: Figures, prefix = "gateway_"): ReasonRow[] {
  const rejected = figures.byLabel(`${prefix}rejected_total`, "reason");
  const refused = figures.byLabel(`${prefix}refused_total`, "reason");
  return [
    ...rejected.map((row) => ({ ...row, stage: "rejected" as const })),
    ...refused.map((row) => ({ ...row, stage: "refused" as const })),
  ]
    .filter((row) => row.count > 0)
    .sort(byCount);
}

/**
 * A label value for people: "invalid_signature" → "Invalid signature", "MemberQuarantined:TooFrequent"
 * → "Member quarantined: too frequent".
 */
export function labelWords(value: string): string {
  const text = value
    .split(":")
    .map((part) =>
      part
        .replace(/_/g, " ")
        .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
        .toLowerCase()
        .trim(),
    )
    .join(": ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Seconds for people: "0 s", "0.4 s", "12 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function humanSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 10) return `${String(Math.round(seconds * 10) / 10)} s`;
  if (seconds < 60) return `${String(Math.round(seconds))} s`;
  const s = Math.round(seconds);
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string): string =>
    small === 0
      ? `${String(big)} ${bigUnit}`
      : `${String(big)} ${bigUnit} ${String(small)} ${smallUnit}`;
  if (s < 3600) return pair(Math.floor(s / 60), "min", s % 60, "s");
  if (s < 86400) return pair(Math.floor(s / 3600), "h", Math.floor((s % 3600) / 60), "min");
  return pair(Math.floor(s / 86400), "d", Math.floor((s % 86400) / 3600), "h");
}

/** "just now" (under a second), "12 s ago", "3 min ago", "2 h ago", "in 4 s" (a clock ahead of ours). */
export function secondsAgo(time: number, now: number): string {
  const delta = now - time;
  if (Math.abs(delta) < 1) return "just now";
  const size = Math.abs(delta);
  const text =
    size < 60
      ? `${String(Math.floor(size))} s`
      : size < 3600
        ? `${String(Math.floor(size / 60))} min`
        : size < 86400
          ? `${String(Math.floor(size / 3600))} h`
          : `${String(Math.floor(size / 86400))} d`;
  return delta < 0 ? `in ${text}` : `${text} ago`;
}

/** What a service's /health said was wrong, read from the console's "/health answered <status>: <body>". */
export interface HealthReport {
  readonly status: number;
  /** One line per failing part ("the chain: …", "the MQTT broker: not connected"…). */
  readonly problems: readonly string[];
}

function part(body: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const value = body[key];
  return typeof value === "object" && value !== null
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * The failing parts of an unhealthy service, when its error sentence carries /health's JSON whole
 * (the console keeps 200 characters of it); null when it does not, so the sentence stands alone.
 */
export function healthReport(error: string): HealthReport | null {
  const m = /^\/health answered (\d+): (\{[\s\S]*\})$/.exec(error);
  if (m === null) return null;
  let body: unknown;
  try {
    body = JSON.parse(m[2] as string);
  } catch {
    return null;
  }
  if (typeof body !== "object" || body === null) return null;
  const report = body as Record<string, unknown>;
  const problems: string[] = [];
  if (report.running === false) problems.push("not running (stopping or not started)");
  for (const [key, what] of [
    ["chain", "the chain"],
    ["store", "the store"],
  ] as const) {
    const p = part(report, key);
    if (p?.ok === false) {
      problems.push(
        `${what}: ${typeof p.error === "string" && p.error !== "" ? p.error : "not answering"}`,
      );
    }
  }
  if (part(report, "mqtt")?.connected === false) problems.push("the MQTT broker: not connected");
  return { status: Number(m[1]), problems };
}

import type { ServiceView } from "./api.js";

/**
 * The Operations view's data: a gateway's or a watchtower's /health (JSON) and /metrics (Prometheus
 * text), read by the console's process (the page never talks to the services).
 */

/** Samples of a Prometheus text exposition: `name{labels}` → value. Comments and bad lines skipped. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m === null) continue;
    const value = Number(m[2]);
    if (Number.isFinite(value)) out.set(m[1] as string, value);
  }
  return out;
}

/** A counter's value: its unlabelled sample, or the sum over its labels (`name{…}`). */
export function counterTotal(
  samples: ReadonlyMap<string, number>,
  name: string,
): number | undefined {
  let sum: number | undefined;
  for (const [key, value] of samples) {
    if (key === name || key.startsWith(`${name}{`)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/**
 * Per-second rates of counters (summed over their labels) between two scrapes `seconds` apart; a
 * counter that went down (the service restarted) gives none.
 */
export function rates(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  seconds: number,
  names: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  if (seconds <= 0) return out;
  for (const name of names) {
    const a = counterTotal(before, name);
    const b = counterTotal(after, name);
    if (a !== undefined && b !== undefined && b >= a) {
      out[`${name.replace(/_total$/, "")}_per_second`] =
        Math.round(((b - a) / seconds) * 100) / 100;
    }
  }
  return out;
}

/** The counters whose rate the view shows, per service. */
const RATE_COUNTERS: Readonly<Record<ServiceView["name"], readonly string[]>> = {
  gateway: ["gateway_received_total", "gateway_verified_total", "gateway_submitted_total"],
  watchtower: ["watchtower_messages_total"],
};

type FetchLike = (
  url: string,
  init?: { signal?: AbortSignal },
) => Promise<{
  ok: boolean;
  status: number;
  text(): Promise<string>;
}>;

/** Scrapes one service and keeps its previous scrape for rates. */
export class ServiceProbe {
  readonly name: ServiceView["name"];
  readonly url: string;
  private readonly fetchFn: FetchLike;
  private last: { at: number; samples: Map<string, number> } | null = null;

  constructor(name: ServiceView["name"], url: string, fetchFn: FetchLike = fetch) {
    this.name = name;
    this.url = url.replace(/\/+$/, "");
    this.fetchFn = fetchFn;
  }

  async probe(timeoutMs = 2000): Promise<ServiceView> {
    const get = async (path: string) => {
      const res = await this.fetchFn(`${this.url}${path}`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: res.status, ok: res.ok, text: await res.text() };
    };
    try {
      const [health, metrics] = await Promise.all([get("/health"), get("/metrics")]);
      const samples = parsePrometheus(metrics.text);
      const figures: Record<string, number> = {};
      const prefix = `${this.name}_`;
      for (const [k, v] of samples) if (k.startsWith(prefix)) figures[k] = v;
      const now = Date.now();
      if (this.last !== null) {
        Object.assign(
          figures,
          rates(this.last.samples, samples, (now - this.last.at) / 1000, RATE_COUNTERS[this.name]),
        );
      }
      this.last = { at: now, samples };
      let error: string | null = null;
      try {
        const h = JSON.parse(health.text) as Record<string, unknown>;
        for (const [k, v] of Object.entries(h))
          if (typeof v === "number") figures[`health.${k}`] = v;
        if (!health.ok)
          error = `/health answered ${String(health.status)}: ${health.text.slice(0, 200)}`;
      } catch {
        if (!health.ok) error = `/health answered ${String(health.status)}`;
      }
      return { name: this.name, url: this.url, healthy: health.ok, error, figures };
    } catch (err: unknown) {
      return {
        name: this.name,
        url: this.url,
        healthy: null,
        error: `${this.url} did not answer: ${err instanceof Error ? err.message : String(err)}`,
        figures: {},
      };
    }
  }
}

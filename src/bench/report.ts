/** bench/results.json: flat maps keyed `component.operation.variant`. */
export interface BenchResults {
  /** Whole-transaction gasUsed from receipts (views: gas a calling contract spends on the call). */
  gas: Record<string, number>;
  /** Operations per second on one core. */
  perSecond: Record<string, number>;
  /** Sizes in bytes (calldata of the measured transactions, proofs). */
  bytes: Record<string, number>;
  /** Counts of events in one measured run (messages a broker lost on a SIGKILL). */
  count: Record<string, number>;
  /** Wall-clock durations in seconds (the console's fleet view on screen). */
  seconds: Record<string, number>;
  /** How the numbers were made: batch sizes, hardforks, runtime. */
  meta: Record<string, string | number>;
}

export interface Target {
  readonly section: "gas" | "perSecond" | "bytes" | "seconds";
  readonly key: string;
  readonly kind: "max" | "min";
  readonly value: number;
}

/**
 * "FAIL": a gas target missed (gas is exact: the code got worse). "MISS": an ops/s or memory target
 * missed (rates and resident memory depend on what else the machine runs and when the collector ran: a
 * warning, not a failure). "missing": the figure was not produced.
 */
export type Verdict = "pass" | "FAIL" | "MISS" | "missing";

export function checkTarget(results: BenchResults, target: Target): Verdict {
  const measured = results[target.section][target.key];
  if (measured === undefined) return "missing";
  const ok = target.kind === "max" ? measured <= target.value : measured >= target.value;
  if (ok) return "pass";
  return target.section === "gas" ? "FAIL" : "MISS";
}

export interface TargetSummary {
  readonly passed: number;
  /** Gas targets missed, and figures with a target that were not produced: the bench fails. */
  readonly failed: readonly Target[];
  /** Ops/s and memory targets missed: reported with the load average; the bench still succeeds. */
  readonly missed: readonly Target[];
}

export function summarizeTargets(results: BenchResults, targets: readonly Target[]): TargetSummary {
  const failed: Target[] = [];
  const missed: Target[] = [];
  let passed = 0;
  for (const t of targets) {
    const v = checkTarget(results, t);
    if (v === "pass") passed++;
    else if (v === "MISS") missed.push(t);
    else failed.push(t);
  }
  return { passed, failed, missed };
}

export function describeTarget(target: Target): string {
  return `${target.kind === "max" ? "<=" : ">="} ${target.value.toLocaleString("en-US")}`;
}

/** A plain-text table: the first column left-aligned, the others right-aligned. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

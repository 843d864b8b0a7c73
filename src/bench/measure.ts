import { performance } from "node:perf_hooks";

export interface RateOptions {
  /** Time spent running the operation before measuring (JIT, caches). Default 200 ms. */
  readonly warmupMs?: number;
  /** Measuring time, split into `rounds` equal windows. Default 1000 ms. */
  readonly durationMs?: number;
  /** Windows measured; the fastest counts. Default 4. */
  readonly rounds?: number;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return value instanceof Promise;
}

async function runFor(op: () => unknown, ms: number): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  let count = 0;
  let now = start;
  while (now < end) {
    const result = op();
    if (isPromise(result)) await result;
    count++;
    now = performance.now();
  }
  return count / ((now - start) / 1000);
}

/**
 * Operations per second of `op` on this thread (one core): runs it for `warmupMs`, then counts completed
 * calls in `rounds` windows over `durationMs` and returns the fastest window's rate. The best window
 * measures the code rather than whatever else the machine ran meanwhile (other processes, GC of earlier
 * work). An op that returns a promise is awaited before the next call starts.
 */
export async function opsPerSecond(op: () => unknown, options: RateOptions = {}): Promise<number> {
  const rounds = Math.max(1, options.rounds ?? 4);
  const windowMs = (options.durationMs ?? 1000) / rounds;
  await runFor(op, options.warmupMs ?? 200);
  let best = 0;
  for (let i = 0; i < rounds; i++) best = Math.max(best, await runFor(op, windowMs));
  return best;
}

/** The median of a non-empty list (the lower middle for an even count, so it is always a real sample). */
export function median(values: readonly bigint[]): bigint {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0n;
}

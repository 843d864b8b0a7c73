import type { Logger } from "pino";

/** How many lines of one kind are written in full per interval. */
export interface LogLimit {
  /** Lines of one key written with their details per interval (default 10). */
  readonly burst: number;
  /** The interval, in ms (default 60000). */
  readonly intervalMs: number;
}

export const DEFAULT_LOG_LIMIT: LogLimit = { burst: 10, intervalMs: 60_000 };

export interface LogLimiterOptions {
  /** The `event` field of the summaries: `<event>_suppressed`. */
  readonly event: string;
  /** The field that names the key in a summary (default "key"), e.g. "reason". */
  readonly keyField?: string;
  readonly limit?: Partial<LogLimit>;
  /** The clock (tests). */
  readonly now?: () => number;
}

/** A key's count in the current interval. */
interface Window {
  startedAt: number;
  logged: number;
  suppressed: number;
}

/**
 * Bounds a log line written once per message (a rejected message, say) when messages come by the
 * thousand: per key (the reason), the first `burst` lines of each interval are written as given, the
 * others only counted, and one summary line per key says how many were left out once the interval is
 * over (`event: "<event>_suppressed"`, the key under `keyField`, `suppressed`, `intervalMs`). Metrics
 * still count every message: this bounds the log, not what is measured.
 *
 * A summary is written by a timer at the end of the interval (unref'd: it keeps no process alive), or
 * by `close()`, which writes what is pending at once (call it when the service stops).
 */
export class LogLimiter {
  private readonly log: Logger;
  private readonly event: string;
  private readonly keyField: string;
  private readonly limit: LogLimit;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, options: LogLimiterOptions) {
    this.log = log;
    this.event = options.event;
    this.keyField = options.keyField ?? "key";
    this.limit = { ...DEFAULT_LOG_LIMIT, ...options.limit };
    this.now = options.now ?? Date.now;
    if (this.limit.burst < 0 || this.limit.intervalMs <= 0) {
      throw new RangeError("a log limit needs burst >= 0 and intervalMs > 0: fix the options");
    }
  }

  /**
   * Writes the line (`fields`, `msg`) at info level unless `key` used up its burst in this interval;
   * then it only counts it.
   */
  info(key: string, fields: object, msg: string): void {
    const now = this.now();
    let w = this.windows.get(key);
    if (w !== undefined && now - w.startedAt >= this.limit.intervalMs) {
      this.summarize(key, w);
      w = undefined;
    }
    if (w === undefined) {
      w = { startedAt: now, logged: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (w.logged < this.limit.burst) {
      w.logged++;
      this.log.info(fields, msg);
      return;
    }
    w.suppressed++;
    this.schedule();
  }

  /** Writes the summaries of every key with lines left out, and stops the timer. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [key, w] of this.windows) this.summarize(key, w);
    this.windows.clear();
  }

  /** Writes the summaries of the intervals that are over; runs again while some are still open. */
  private tick(): void {
    this.timer = undefined;
    const now = this.now();
    for (const [key, w] of this.windows) {
      if (now - w.startedAt >= this.limit.intervalMs) {
        this.summarize(key, w);
        this.windows.delete(key);
      }
    }
    if ([...this.windows.values()].some((w) => w.suppressed > 0)) this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    let due = Infinity;
    for (const w of this.windows.values()) {
      if (w.suppressed > 0) due = Math.min(due, w.startedAt + this.limit.intervalMs);
    }
    if (due === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.tick();
      },
      Math.max(0, due - this.now()),
    );
    this.timer.unref();
  }

  private summarize(key: string, w: Window): void {
    if (w.suppressed === 0) return;
    this.log.info(
      {
        event: `${this.event}_suppressed`,
        [this.keyField]: key,
        suppressed: w.suppressed,
        intervalMs: this.limit.intervalMs,
      },
      `${String(w.suppressed)} more ${this.event} lines (${key}) in ${String(this.limit.intervalMs)} ms were left out of the log`,
    );
    w.suppressed = 0;
  }
}

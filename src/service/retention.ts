import type { Logger } from "pino";
import { errorMessage } from "../protocol/index.js";

/** What a prune removed, by table. */
export type Pruned = Readonly<Record<string, number>>;

export interface RetentionOptions {
  /** Rows received longer ago than this go, in ms. */
  readonly retentionMs: number;
  /** Deletes what was received before `before` (ms since the epoch); returns counts by table. */
  readonly prune: (before: number) => Pruned | Promise<Pruned>;
  /** Counts each table's pruned rows (a metric). */
  readonly count: (table: string, n: number) => void;
  readonly log: Logger;
  /** The log line's message, e.g. "store pruned". */
  readonly what: string;
}

/**
 * A service's retention (the gateway's store, the watchtower's evidence): `run` prunes what was
 * received more than retentionMs ago, logs it once and counts it per table; `start` runs it every
 * retentionMs / 24 (at most hourly) on an unref'd timer, one prune at a time, a failure logged; `stop`
 * clears the timer and resolves once a prune in progress ended.
 */
export class Retention {
  private readonly options: RetentionOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(options: RetentionOptions) {
    this.options = options;
  }

  async run(now = Date.now()): Promise<Pruned> {
    const before = now - this.options.retentionMs;
    const pruned = await this.options.prune(before);
    for (const [table, n] of Object.entries(pruned)) this.options.count(table, n);
    this.options.log.info({ event: "pruned", before, ...pruned }, this.options.what);
    return pruned;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(
      () => {
        if (this.running !== undefined) return;
        this.running = this.run()
          .catch((err: unknown) => {
            this.options.log.error(
              { event: "prune_failed", err: errorMessage(err) },
              `${this.options.what}: failed`,
            );
          })
          .finally(() => {
            this.running = undefined;
          });
      },
      Math.min(this.options.retentionMs / 24, 3_600_000),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

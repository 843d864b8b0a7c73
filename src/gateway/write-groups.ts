import type { ReadingStore, StoreWrite, StoreWriteResult } from "./reading-store.js";

/** A write waiting for its group's transaction. */
interface GroupedWrite {
  readonly write: StoreWrite;
  readonly resolve: (value: StoreWriteResult) => void;
  readonly reject: (err: unknown) => void;
}

export interface WriteGroupsOptions {
  readonly store: ReadingStore;
  /** Writes grouped into one transaction at most. */
  readonly groupSize: number;
  /**
   * How long a write waits for others to join its transaction, in ms; 0: until the event loop has
   * handled what already arrived (setImmediate), which adds no latency to a lone write.
   */
  readonly delayMs: number;
  /** Called after each group's writers went on (they queued what was accepted). */
  readonly afterCommit?: () => void;
}

/**
 * The gateway's persistence: writes that arrive together (messages handled concurrently) go to the
 * store in one transaction, which is what makes a persisted-before-acknowledged reading cheap. Each
 * `write` resolves with its own result once its group committed; when the group's transaction fails,
 * every write of it rejects (nothing of it is durable, so none is acknowledged and the broker
 * redelivers them).
 */
export class WriteGroups {
  private readonly options: WriteGroupsOptions;
  private group: GroupedWrite[] = [];
  private scheduled = false;
  private readonly commits = new Set<Promise<void>>();

  constructor(options: WriteGroupsOptions) {
    this.options = options;
  }

  /** Queues `write` for the current group; resolves with its result once committed. */
  write(write: StoreWrite): Promise<StoreWriteResult> {
    return new Promise<StoreWriteResult>((resolve, reject) => {
      this.group.push({ write, resolve, reject });
      if (this.group.length >= this.options.groupSize) this.commit();
      else if (!this.scheduled) {
        this.scheduled = true;
        const commit = (): void => {
          this.commit();
        };
        if (this.options.delayMs > 0) setTimeout(commit, this.options.delayMs);
        else setImmediate(commit);
      }
    });
  }

  /** Commits what is queued now, and resolves once every group sent so far has settled. */
  async flush(): Promise<void> {
    this.commit();
    await Promise.allSettled([...this.commits]);
  }

  /** Sends the queued writes as one transaction and settles each when it returns. */
  private commit(): void {
    this.scheduled = false;
    const writes = this.group;
    if (writes.length === 0) return;
    this.group = [];
    const commit = this.options.store
      .write(writes.map((w) => w.write))
      .then(
        (results) => {
          writes.forEach((w, i) => {
            const r = results[i];
            if (r === undefined || r instanceof Error) w.reject(r);
            else w.resolve(r);
          });
          // After the writers' continuations (which queue the accepted messages) have run.
          const after = this.options.afterCommit;
          if (after !== undefined) queueMicrotask(after);
        },
        (err: unknown) => {
          for (const w of writes) w.reject(err);
        },
      )
      .finally(() => {
        this.commits.delete(commit);
      });
    this.commits.add(commit);
  }
}

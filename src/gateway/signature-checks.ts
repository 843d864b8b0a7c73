import type { DeviceKey, Hex } from "../protocol/index.js";
import {
  checkDeviceSignature,
  VerifyPool,
  type SignatureVerdict,
  type VerifyItem,
  type VerifyPoolOptions,
} from "../verify/index.js";

export interface SignatureChecksOptions {
  /** Worker threads that verify (0: inline on the caller's thread, checkDeviceSignature). */
  readonly workers: number;
  /** The pool's other options (batch size, retries, a test's worker script). */
  readonly pool?: Omit<VerifyPoolOptions, "workers">;
}

/** A check waiting for its group's verify() call. */
interface Waiting {
  readonly item: VerifyItem;
  readonly resolve: (verdict: SignatureVerdict) => void;
  readonly reject: (error: unknown) => void;
}

/** Signatures per verify() call at most: the pool's default batch, one message to a worker. */
const DEFAULT_GROUP = 256;

/**
 * The gateway's signature checks: checkDeviceSignature inline, or a VerifyPool's workers while the
 * gateway's thread does MQTT and storage. Pooled checks are gathered until the event loop has handled
 * what already arrived (setImmediate, as the gateway groups its writes), so the messages of one read
 * from the broker go to the workers in one verify() call: one batch, one thread message, however the
 * MQTT client spreads their handling over microtasks.
 *
 * Verdicts are the same either way (the pool runs the same two halves of checkDeviceSignature). An
 * error that is no verdict (a worker that died on the batch each time it was sent, a pool past its
 * maxPending) rejects every check of the group: the gateway then leaves those messages unacknowledged
 * and the broker redelivers them.
 */
export class SignatureChecks {
  /** Worker threads (0: inline). */
  readonly workers: number;
  private readonly pool: VerifyPool | undefined;
  private readonly groupSize: number;
  private waiting: Waiting[] = [];
  private scheduled = false;

  private constructor(pool: VerifyPool | undefined, groupSize: number) {
    this.pool = pool;
    this.workers = pool?.workers ?? 0;
    this.groupSize = groupSize;
  }

  /** Starts the pool's threads (none for 0 workers); rejects when they cannot start. */
  static async start(options: SignatureChecksOptions): Promise<SignatureChecks> {
    const groupSize = options.pool?.batchSize ?? DEFAULT_GROUP;
    if (options.workers === 0) return new SignatureChecks(undefined, groupSize);
    const pool = await VerifyPool.start({ ...options.pool, workers: options.workers });
    return new SignatureChecks(pool, groupSize);
  }

  /** Worker threads running now (0 inline, and once closed). */
  get runningWorkers(): number {
    return this.pool?.runningWorkers ?? 0;
  }

  /** checkDeviceSignature's verdict (at once inline, from a worker with a pool). */
  check(key: DeviceKey, digest: Hex, signature: Hex): SignatureVerdict | Promise<SignatureVerdict> {
    if (this.pool === undefined) return checkDeviceSignature(key, digest, signature);
    return new Promise<SignatureVerdict>((resolve, reject) => {
      this.waiting.push({ item: { key, digest, signature }, resolve, reject });
      if (this.waiting.length >= this.groupSize) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.flush();
        });
      }
    });
  }

  /** Sends what waits, then ends the threads once every check sent has its answer. */
  async close(): Promise<void> {
    this.flush();
    await this.pool?.close();
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.waiting;
    if (group.length === 0 || this.pool === undefined) return;
    this.waiting = [];
    this.pool.verify(group.map((w) => w.item)).then(
      (verdicts) => {
        for (const [i, w] of group.entries()) {
          const verdict = verdicts[i];
          if (verdict === undefined) w.reject(new Error(`the pool gave no verdict ${String(i)}`));
          else w.resolve(verdict);
        }
      },
      (error: unknown) => {
        for (const w of group) w.reject(error);
      },
    );
  }
}

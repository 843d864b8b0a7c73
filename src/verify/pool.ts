import { Worker } from "node:worker_threads";
import { DeviceTrustError, type DeviceKey, type Hex } from "../protocol/index.js";
import {
  encodeInputs,
  type FromWorker,
  type ToWorker,
  type VerifyWorkerData,
} from "./pool-codec.js";
import type { Secp256k1Backend } from "./secp256k1-recover.js";
import { readSignatureInput, type SignatureInput } from "./signature-input.js";
import { SIGNATURE_VERDICTS, type SignatureVerdict } from "./verdict.js";
import { SignatureVerifier, type SignatureVerifierOptions } from "./verifier.js";

/** One device signature to check: checkDeviceSignature's arguments. */
export interface VerifyItem {
  readonly key: DeviceKey;
  readonly digest: Hex;
  readonly signature: Hex;
}

export interface VerifyPoolOptions extends SignatureVerifierOptions {
  /** Worker threads; 0 checks inline on the caller's thread (same API, no threads). */
  readonly workers: number;
  /** Most signatures per message to a worker (default 256): fewer messages, each ~163 bytes a signature. */
  readonly batchSize?: number;
  /**
   * Batches a worker holds at once (default 2: one it works on, one waiting, so it never idles between
   * messages). Beyond that, batches wait on the caller's thread.
   */
  readonly maxInFlightPerWorker?: number;
  /**
   * Most signatures accepted and not yet judged (default 100,000, a few seconds of work): a verify()
   * beyond it rejects with VerifyPoolBusyError, so a caller that outruns the workers learns it.
   */
  readonly maxPending?: number;
  /** Times a batch whose worker died is sent again before its verify() rejects (default 1). */
  readonly retries?: number;
  /** How long a worker may take to start (default 60 s: a TypeScript source run compiles at start). */
  readonly startTimeoutMs?: number;
  /**
   * The workers' entry module (default ./pool-worker). Tests pass one that injects faults; it must call
   * serveVerifyPool. A .ts module is loaded through tsx, as Hardhat and `--import tsx` load this one.
   */
  readonly script?: URL;
}

/** Every error a VerifyPool throws or rejects with; `code` says which. */
export class VerifyPoolError extends DeviceTrustError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "VerifyPoolError";
  }
}

/** verify() after close(). */
export class VerifyPoolClosedError extends VerifyPoolError {
  constructor() {
    super("VERIFY_POOL_CLOSED", "the verify pool is closed: start a new one with VerifyPool.start");
    this.name = "VerifyPoolClosedError";
  }
}

/** verify() would take the pool past maxPending signatures. */
export class VerifyPoolBusyError extends VerifyPoolError {
  readonly pending: number;
  constructor(pending: number, asked: number, max: number) {
    super(
      "VERIFY_POOL_BUSY",
      `the verify pool holds ${String(pending)} signatures and was asked for ${String(asked)} more, past its maxPending of ${String(max)}: wait for earlier verify() calls (or watch pool.pending) before sending more, or add workers`,
    );
    this.name = "VerifyPoolBusyError";
    this.pending = pending;
  }
}

/** A batch's worker died each time the batch was sent (a crash, an out-of-memory, a terminate). */
export class VerifyWorkerCrashedError extends VerifyPoolError {
  constructor(attempts: number, exitCode: number, cause: unknown) {
    super(
      "VERIFY_WORKER_CRASHED",
      `a verify worker died ${String(attempts)} time(s) while checking this batch (last exit code ${String(exitCode)}): the pool replaced it; retry the call, and if it fails again look for the cause in the logged error`,
      { cause },
    );
    this.name = "VerifyWorkerCrashedError";
  }
}

/** A worker answered a batch with an error instead of verdicts. */
export class VerifyWorkerError extends VerifyPoolError {
  constructor(message: string) {
    super(
      "VERIFY_WORKER_ERROR",
      `a verify worker failed to check a batch: ${message} (a bug: checks never throw on any input; please report it with the batch)`,
    );
    this.name = "VerifyWorkerError";
  }
}

/** Workers could not start (or restart), so nothing is left to verify on. */
export class VerifyWorkerStartError extends VerifyPoolError {
  constructor(reason: string, cause?: unknown) {
    super(
      "VERIFY_WORKER_START_FAILED",
      `a verify worker did not start: ${reason}. Check that node_modules is installed (npm ci) and that the worker module loads`,
      { cause },
    );
    this.name = "VerifyWorkerStartError";
  }
}

const DEFAULTS = {
  batchSize: 256,
  maxInFlightPerWorker: 2,
  maxPending: 100_000,
  retries: 1,
  startTimeoutMs: 60_000,
} as const;

/** Where one verify() call stands. */
interface Call {
  readonly verdicts: SignatureVerdict[];
  remaining: number;
  settled: boolean;
  readonly resolve: (verdicts: SignatureVerdict[]) => void;
  readonly reject: (error: unknown) => void;
}

/** One signature waiting for a worker. */
interface Entry {
  readonly call: Call;
  readonly slot: number;
  readonly input: SignatureInput;
}

interface Batch {
  readonly entries: readonly Entry[];
  attempts: number;
}

interface Slot {
  readonly worker: Worker;
  readonly inFlight: Map<number, Batch>;
  ready: boolean;
  /** Set when the pool itself ends the worker (close), so its exit is no crash. */
  retiring: boolean;
  lastError?: unknown;
}

/**
 * Workers don't inherit the module hooks (tsx) that Hardhat or `--import tsx` register on the main
 * thread, so a TypeScript worker registers tsx itself before importing its module. (The gateway's
 * checkpointer thread is plain JavaScript, given as eval'd source in the same way.)
 */
const TS_BOOTSTRAP = `
const { workerData } = require("node:worker_threads");
import(workerData.tsx).then(({ register }) => {
  register();
  return import(workerData.script);
});
`;

const DEFAULT_SCRIPT = new URL(
  `./pool-worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`,
  import.meta.url,
);

function spawn(script: URL, data: VerifyWorkerData): Worker {
  if (script.pathname.endsWith(".ts")) {
    return new Worker(TS_BOOTSTRAP, {
      eval: true,
      workerData: { ...data, script: script.href, tsx: import.meta.resolve("tsx/esm/api") },
    });
  }
  return new Worker(script, { workerData: data });
}

/**
 * Checks device signatures on worker threads while the caller's thread does I/O: checkDeviceSignature's
 * verdicts, in order, for many signatures at a time.
 *
 *   const pool = await VerifyPool.start({ workers: 2 });
 *   const verdicts = await pool.verify([{ key, digest, signature }, ...]); // SignatureVerdict[]
 *   await pool.close();
 *
 * - Batching: signatures from every verify() call in one event-loop turn are packed into batches of up
 *   to `batchSize` records in one transferred ArrayBuffer (no copy, one message per batch); while the
 *   workers are busy, later calls' signatures gather into full batches, so a caller may send one
 *   signature per call and still get batched messages.
 * - Strings are read on the caller's thread (readSignatureInput, cheap: no curve arithmetic), the rest
 *   of the check (SignatureVerifier.judge) on a worker: the same two functions as inline, so the same
 *   verdicts. Each worker keeps its own key caches (SignatureVerifierOptions sizes each of them).
 * - Backpressure: at most `maxInFlightPerWorker` batches per worker; the rest wait here, up to
 *   `maxPending` signatures, past which verify() rejects with VerifyPoolBusyError. `pending` tells how
 *   many wait or run.
 * - Failures: a worker that dies (crash, out of memory) is replaced and its batches are sent again, up to
 *   `retries` times, then their verify() calls reject with VerifyWorkerCrashedError; no promise is left
 *   hanging. Errors are VerifyPoolError subclasses with stable codes.
 * - Threads hold the process open only while they have work: a pool not closed does not keep the
 *   process alive, but close() (which lets accepted work finish, then ends the threads) is the clean way.
 * - `workers: 0` checks inline with a SignatureVerifier of its own, same API: for small deployments and
 *   tests.
 */
export class VerifyPool {
  /** Worker threads (0: inline). */
  readonly workers: number;
  /** Where secp256k1 recovery runs in the workers (or inline). */
  readonly secp256k1Backend: Secp256k1Backend;
  private readonly _inline: SignatureVerifier | undefined;
  private readonly _options: VerifyPoolOptions;
  private readonly _slots: Slot[] = [];
  private readonly _queue: Entry[] = [];
  private _queueHead = 0;
  private readonly _retry: Batch[] = [];
  private _pending = 0;
  private _nextId = 1;
  private _pumpScheduled = false;
  private _closing: Promise<void> | undefined;
  private _idle: (() => void) | undefined;
  private _broken: VerifyPoolError | undefined;
  private _restartFailures = 0;
  /** Replacement workers being started (close waits for them, then ends them too). */
  private readonly _starting = new Set<Promise<void>>();

  private constructor(options: VerifyPoolOptions, backend: Secp256k1Backend) {
    this.workers = options.workers;
    this._options = options;
    this.secp256k1Backend = backend;
    this._inline = options.workers === 0 ? new SignatureVerifier(options) : undefined;
  }

  /** Starts `workers` threads and resolves once each has loaded (or rejects: VerifyWorkerStartError). */
  static async start(options: VerifyPoolOptions): Promise<VerifyPool> {
    if (!Number.isSafeInteger(options.workers) || options.workers < 0) {
      throw new VerifyPoolError(
        "VERIFY_POOL_BAD_OPTIONS",
        `workers must be a whole number >= 0, got ${String(options.workers)}`,
      );
    }
    if (options.workers === 0) {
      return new VerifyPool(options, new SignatureVerifier(options).secp256k1Backend);
    }
    const started = await Promise.allSettled(
      Array.from({ length: options.workers }, () => VerifyPool._startWorker(options)),
    );
    const failed = started.find((s) => s.status === "rejected");
    if (failed !== undefined) {
      await Promise.all(
        started.map((s) =>
          s.status === "fulfilled" ? s.value.slot.worker.terminate() : Promise.resolve(0),
        ),
      );
      throw failed.reason;
    }
    const ok = started.filter((s) => s.status === "fulfilled").map((s) => s.value);
    const pool = new VerifyPool(options, ok[0]?.backend ?? "noble");
    for (const { slot } of ok) pool._adopt(slot);
    return pool;
  }

  /** Worker threads running now: `workers` but while a dead one is being replaced; 0 once closed. */
  get runningWorkers(): number {
    return this._slots.length;
  }

  /** Signatures accepted by verify() and not yet judged. */
  get pending(): number {
    return this._pending;
  }

  /**
   * checkDeviceSignature's verdict for each item, in order. Rejects with VerifyPoolClosedError after
   * close(), VerifyPoolBusyError past maxPending, VerifyWorkerCrashedError when a worker died on the
   * batch every time it was sent; never hangs.
   */
  verify(items: readonly VerifyItem[]): Promise<SignatureVerdict[]> {
    if (this._closing !== undefined) return Promise.reject(new VerifyPoolClosedError());
    if (this._broken !== undefined) return Promise.reject(this._broken);
    let inputs: (SignatureInput | SignatureVerdict)[];
    try {
      if (this._inline !== undefined) {
        const verifier = this._inline;
        return Promise.resolve(items.map((i) => verifier.check(i.key, i.digest, i.signature)));
      }
      inputs = items.map((i) => readSignatureInput(i.key, i.digest, i.signature));
    } catch (error: unknown) {
      // Only an item that is not an object of the VerifyItem shape gets here.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const toJudge = inputs.reduce((n, input) => (typeof input === "string" ? n : n + 1), 0);
    const max = this._options.maxPending ?? DEFAULTS.maxPending;
    if (toJudge > 0 && this._pending + toJudge > max) {
      return Promise.reject(new VerifyPoolBusyError(this._pending, toJudge, max));
    }
    return new Promise<SignatureVerdict[]>((resolve, reject) => {
      const call: Call = {
        verdicts: new Array<SignatureVerdict>(items.length),
        remaining: toJudge,
        settled: toJudge === 0,
        resolve,
        reject,
      };
      for (const [slot, input] of inputs.entries()) {
        if (typeof input === "string") call.verdicts[slot] = input;
        else this._queue.push({ call, slot, input });
      }
      if (toJudge === 0) {
        resolve(call.verdicts);
        return;
      }
      this._pending += toJudge;
      this._schedulePump();
    });
  }

  /**
   * Lets every accepted verify() finish, then ends the threads. Later verify() calls reject with
   * VerifyPoolClosedError. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this._closing ??= (async () => {
      if (this._pending > 0) {
        // Workers drain it, or, when none can be started, _failAll rejects it: either ends here.
        await new Promise<void>((resolve) => {
          this._idle = resolve;
        });
      }
      await Promise.allSettled(this._starting);
      await Promise.all(
        this._slots.map((slot) => {
          slot.retiring = true;
          return slot.worker.terminate();
        }),
      );
      this._slots.length = 0;
    })();
    return this._closing;
  }

  // ---------------------------------------------------------------- workers

  private static _startWorker(
    options: VerifyPoolOptions,
  ): Promise<{ slot: Slot; backend: Secp256k1Backend }> {
    const data: VerifyWorkerData = {
      verifier: {
        ...(options.secp256k1Keys === undefined ? {} : { secp256k1Keys: options.secp256k1Keys }),
        ...(options.p256Keys === undefined ? {} : { p256Keys: options.p256Keys }),
        ...(options.secp256k1Backend === undefined
          ? {}
          : { secp256k1Backend: options.secp256k1Backend }),
      },
    };
    let worker: Worker;
    try {
      worker = spawn(options.script ?? DEFAULT_SCRIPT, data);
    } catch (error: unknown) {
      return Promise.reject(new VerifyWorkerStartError("the thread could not be created", error));
    }
    const slot: Slot = { worker, inFlight: new Map(), ready: false, retiring: false };
    return new Promise((resolve, reject) => {
      let lastError: unknown;
      const timer = setTimeout(() => {
        fail(`no "ready" within ${String(options.startTimeoutMs ?? DEFAULTS.startTimeoutMs)} ms`);
      }, options.startTimeoutMs ?? DEFAULTS.startTimeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      const fail = (reason: string): void => {
        cleanup();
        void worker.terminate();
        reject(new VerifyWorkerStartError(reason, lastError));
      };
      const onMessage = (message: FromWorker): void => {
        if (message.type !== "ready") return;
        cleanup();
        slot.ready = true;
        resolve({ slot, backend: message.backend });
      };
      const onError = (error: unknown): void => {
        lastError = error;
      };
      const onExit = (code: number): void => {
        fail(
          `it exited with code ${String(code)} while loading${lastError instanceof Error ? ` (${lastError.message})` : ""}`,
        );
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
    });
  }

  /** Takes a started worker into service. */
  private _adopt(slot: Slot): void {
    slot.worker.on("message", (message: FromWorker) => {
      this._onMessage(slot, message);
    });
    slot.worker.on("error", (error: unknown) => {
      slot.lastError = error;
    });
    slot.worker.on("exit", (code: number) => {
      this._onExit(slot, code);
    });
    // Idle threads do not hold the process open; a thread with work does (see _send).
    slot.worker.unref();
    this._slots.push(slot);
    this._schedulePump();
  }

  private _onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === "ready") return;
    const batch = slot.inFlight.get(message.id);
    if (batch === undefined) return;
    slot.inFlight.delete(message.id);
    if (slot.inFlight.size === 0) slot.worker.unref();
    if (message.type === "failed") {
      this._finish(batch, undefined, new VerifyWorkerError(message.message));
    } else {
      this._finish(batch, new Uint8Array(message.verdicts), undefined);
    }
    this._pump();
  }

  private _onExit(slot: Slot, code: number): void {
    const at = this._slots.indexOf(slot);
    if (at >= 0) this._slots.splice(at, 1);
    if (slot.retiring) return;
    const retries = this._options.retries ?? DEFAULTS.retries;
    for (const batch of slot.inFlight.values()) {
      batch.attempts++;
      if (batch.attempts > retries) {
        this._finish(
          batch,
          undefined,
          new VerifyWorkerCrashedError(batch.attempts, code, slot.lastError),
        );
      } else {
        this._retry.push(batch);
      }
    }
    slot.inFlight.clear();
    if (this._closing === undefined || this._pending > 0) this._replace();
    this._pump();
  }

  /**
   * Starts a worker in place of one that died. After 3 failed starts in a row it stops trying; when no
   * worker is left then, what waits is rejected and later verify() calls reject too.
   */
  private _replace(): void {
    const starting = VerifyPool._startWorker(this._options).then(
      ({ slot }) => {
        this._restartFailures = 0;
        // Adopted even while closing: close() waits for this promise, then ends every slot.
        this._adopt(slot);
      },
      (error: unknown) => {
        this._restartFailures++;
        if (this._restartFailures < 3) {
          this._replace();
        } else if (this._slots.length === 0) {
          this._broken =
            error instanceof VerifyPoolError
              ? error
              : new VerifyWorkerStartError("restarts failed", error);
          this._failAll(this._broken);
        }
      },
    );
    this._starting.add(starting);
    void starting.finally(() => this._starting.delete(starting));
  }

  // ---------------------------------------------------------------- batches

  private _schedulePump(): void {
    if (this._pumpScheduled) return;
    this._pumpScheduled = true;
    // After the current turn, so every verify() of this turn shares batches.
    queueMicrotask(() => {
      this._pumpScheduled = false;
      this._pump();
    });
  }

  /** Sends batches to workers with room, least loaded first, retried batches before new ones. */
  private _pump(): void {
    const perWorker = this._options.maxInFlightPerWorker ?? DEFAULTS.maxInFlightPerWorker;
    const size = this._options.batchSize ?? DEFAULTS.batchSize;
    for (;;) {
      let target: Slot | undefined;
      for (const slot of this._slots) {
        if (!slot.ready || slot.inFlight.size >= perWorker) continue;
        if (target === undefined || slot.inFlight.size < target.inFlight.size) target = slot;
      }
      if (target === undefined) break;
      const batch = this._retry.shift() ?? this._takeBatch(size);
      if (batch === undefined) break;
      this._send(target, batch);
    }
    if (this._pending === 0) this._idle?.();
  }

  /** Up to `size` waiting signatures whose call is still open, as a batch. */
  private _takeBatch(size: number): Batch | undefined {
    const entries: Entry[] = [];
    while (entries.length < size && this._queueHead < this._queue.length) {
      const entry = this._queue[this._queueHead++];
      if (entry === undefined) continue;
      if (entry.call.settled)
        this._pending--; // its call already failed: nothing to judge
      else entries.push(entry);
    }
    if (this._queueHead === this._queue.length) {
      this._queue.length = 0;
      this._queueHead = 0;
    }
    return entries.length === 0 ? undefined : { entries, attempts: 0 };
  }

  private _send(slot: Slot, batch: Batch): void {
    const id = this._nextId++;
    const records = encodeInputs(batch.entries.map((e) => e.input));
    slot.inFlight.set(id, batch);
    slot.worker.ref();
    const message: ToWorker = { type: "verify", id, count: batch.entries.length, records };
    slot.worker.postMessage(message, [records]);
  }

  /** Books a batch's verdicts (or its failure) into its calls. */
  private _finish(batch: Batch, codes: Uint8Array | undefined, error: unknown): void {
    this._pending -= batch.entries.length;
    for (const [i, entry] of batch.entries.entries()) {
      const call = entry.call;
      if (call.settled) continue;
      if (codes === undefined) {
        call.settled = true;
        call.reject(error);
        continue;
      }
      const verdict = SIGNATURE_VERDICTS[codes[i] ?? SIGNATURE_VERDICTS.length];
      if (verdict === undefined) {
        call.settled = true;
        call.reject(new VerifyWorkerError(`no verdict for signature ${String(i)} of the batch`));
        continue;
      }
      call.verdicts[entry.slot] = verdict;
      if (--call.remaining === 0) {
        call.settled = true;
        call.resolve(call.verdicts);
      }
    }
  }

  /** Rejects every waiting signature's call with `error` (no worker left to judge them). */
  private _failAll(error: unknown): void {
    const waiting = [...this._retry.splice(0), this._takeAll()];
    for (const batch of waiting) this._finish(batch, undefined, error);
    this._pump();
  }

  private _takeAll(): Batch {
    const entries = this._queue.slice(this._queueHead);
    this._queue.length = 0;
    this._queueHead = 0;
    return { entries, attempts: 0 };
  }
}

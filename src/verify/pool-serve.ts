import { parentPort, workerData } from "node:worker_threads";
import { DeviceTrustError } from "../protocol/index.js";
import {
  decodeInput,
  type FromWorker,
  type ToWorker,
  type VerifyWorkerData,
} from "./pool-codec.js";
import type { SignatureInput } from "./signature-input.js";
import { VERDICT_CODE } from "./verdict.js";
import { SignatureVerifier } from "./verifier.js";

export interface VerifyWorkerHooks {
  /**
   * Called with each batch before it is verified. For fault drills: a test's worker script exits here
   * to play a crash (see test/verify/crashing-worker.ts).
   */
  readonly beforeBatch?: (inputs: readonly SignatureInput[]) => void;
}

/**
 * A VerifyPool worker's loop: builds this thread's own SignatureVerifier (its own key caches), says
 * "ready", then answers each batch of records with one verdict byte per record. A batch whose checks
 * throw (a bug: checks never throw on any input) is answered "failed" and the worker keeps serving.
 */
export function serveVerifyPool(hooks: VerifyWorkerHooks = {}): void {
  const port = parentPort;
  if (port === null) {
    throw new DeviceTrustError(
      "VERIFY_NOT_A_WORKER",
      "serveVerifyPool runs inside a VerifyPool worker thread: start a pool with VerifyPool.start",
    );
  }
  const data = workerData as VerifyWorkerData;
  const verifier = new SignatureVerifier(data.verifier);
  const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void => {
    port.postMessage(message, transfer);
  };
  port.on("message", (message: ToWorker) => {
    const records = new Uint8Array(message.records);
    try {
      const inputs = Array.from({ length: message.count }, (_, i) => decodeInput(records, i));
      hooks.beforeBatch?.(inputs);
      const verdicts = new Uint8Array(message.count);
      for (const [i, input] of inputs.entries()) verdicts[i] = VERDICT_CODE[verifier.judge(input)];
      post({ type: "verdicts", id: message.id, verdicts: verdicts.buffer }, [verdicts.buffer]);
    } catch (error: unknown) {
      post({
        type: "failed",
        id: message.id,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  });
  post({ type: "ready", backend: verifier.secp256k1Backend });
}

/**
 * A VerifyPool worker that dies on every batch, for test/gateway/verify-pool.test.ts: a gateway whose
 * pool runs it never gets a verdict. Loaded by mocha (on the main thread, as every file under test/) it
 * does nothing.
 */
import { isMainThread } from "node:worker_threads";
import { serveVerifyPool } from "../../src/verify/pool-serve.js";

if (!isMainThread)
  serveVerifyPool({
    beforeBatch() {
      process.exit(5);
    },
  });

/**
 * A VerifyPool worker that plays crashes, for test/verify/pool.test.ts: a batch holding a digest that
 * starts with 0xdead ends the thread every time; one starting with 0xbeef ends it only when it is the
 * first to create the file VERIFY_CRASH_ONCE names (so the retried batch goes through). Loaded by mocha
 * (on the main thread, as every file under test/) it does nothing.
 */
import { writeFileSync } from "node:fs";
import { isMainThread } from "node:worker_threads";
import { serveVerifyPool } from "../../src/verify/pool-serve.js";

if (!isMainThread)
  serveVerifyPool({
    beforeBatch(inputs) {
      for (const input of inputs) {
        if (input.digest[0] === 0xde && input.digest[1] === 0xad) process.exit(3);
        if (input.digest[0] === 0xbe && input.digest[1] === 0xef) {
          try {
            writeFileSync(process.env.VERIFY_CRASH_ONCE ?? "", "crashed", { flag: "wx" });
          } catch {
            continue; // crashed once already
          }
          process.exit(4);
        }
      }
    },
  });

/**
 * Run by test/verify/pool.test.ts as its own process: starts a two-worker pool, verifies, then closes
 * it (argv "close") or drops it (argv "drop"). Either way the process must end by itself: a closed pool
 * ended its threads, a dropped one's idle threads hold nothing open. Loaded by mocha it does nothing.
 */
import { VerifyPool } from "../../src/verify/pool.js";
import { newDevice, randomDigest } from "./vectors.js";

async function main(): Promise<void> {
  const device = newDevice("secp256k1");
  const digest = randomDigest();
  const pool = await VerifyPool.start({ workers: 2 });
  const verdicts = await pool.verify([
    {
      key: device.key,
      digest: `0x${Buffer.from(digest).toString("hex")}`,
      signature: device.sign(digest),
    },
  ]);
  if (process.argv[2] === "close") await pool.close();
  process.stdout.write(`${verdicts.join(",")} ${String(pool.runningWorkers)}\n`);
}

if (process.env.VERIFY_POOL_EXIT_CHILD === "1") await main();

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  VerifyPool,
  VerifyPoolBusyError,
  VerifyPoolClosedError,
  VerifyWorkerCrashedError,
  VerifyWorkerStartError,
  type VerifyItem,
} from "../../src/verify/pool.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";
import { SignatureVerifier } from "../../src/verify/verifier.js";
import { referenceCheck } from "./reference-verifier.js";
import { mutations, newDevice, randomDigest, type Vector } from "./vectors.js";

async function waitFor(predicate: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const CRASHING_WORKER = new URL("./crashing-worker.ts", import.meta.url);

function fuzzVectors(seed: number, perDevice: number): Vector[] {
  const vectors: Vector[] = [];
  for (const curve of ["secp256k1", "p256"] as const) {
    const devices = Array.from({ length: 3 }, () => newDevice(curve));
    for (const [i, device] of devices.entries()) {
      vectors.push(...mutations(device, devices[(i + 1) % 3] ?? device, seed + i, perDevice));
    }
  }
  // Interleave the curves so batches mix them.
  return vectors.sort((a, b) => a.digest.localeCompare(b.digest));
}

/** A valid secp256k1 item whose digest starts with `prefix` (the crashing worker's triggers). */
function itemWithDigest(prefix: string): VerifyItem {
  const device = newDevice("secp256k1");
  const digest = Buffer.from(
    `${prefix}${Buffer.from(randomDigest()).toString("hex")}`.slice(0, 64),
    "hex",
  );
  return { key: device.key, digest: `0x${digest.toString("hex")}`, signature: device.sign(digest) };
}

describe("VerifyPool", function () {
  // Worker threads load the TypeScript sources through tsx: seconds on a busy machine.
  this.timeout(120_000);
  let dir: string;
  const pools: VerifyPool[] = [];
  const start = async (...args: Parameters<typeof VerifyPool.start>): Promise<VerifyPool> => {
    const pool = await VerifyPool.start(...args);
    pools.push(pool);
    return pool;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "verify-pool-"));
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  after(async () => {
    delete process.env.VERIFY_CRASH_ONCE;
    await rm(dir, { recursive: true, force: true });
  });

  describe("verify", () => {
    it("gives the old verifier's verdicts, in order, with 2 workers and inline", async () => {
      const seed = randomInt(2 ** 31);
      const vectors = fuzzVectors(seed, 100);
      const expected = vectors.map((v) => referenceCheck(v.key, v.digest, v.signature));
      const pooled = await start({ workers: 2, batchSize: 17 });
      const inline = await start({ workers: 0 });
      assert.equal(inline.runningWorkers, 0);
      assert.equal(pooled.runningWorkers, 2);
      // Workers load the native addon as this thread does (it is context-aware).
      assert.equal(pooled.secp256k1Backend, new SignatureVerifier().secp256k1Backend);
      assert.deepEqual(await pooled.verify(vectors), expected, `seed ${String(seed)}`);
      assert.deepEqual(await inline.verify(vectors), expected, `seed ${String(seed)}`);
      assert.deepEqual(
        vectors.map((v) => checkDeviceSignature(v.key, v.digest, v.signature)),
        expected,
      );
      assert.equal(pooled.pending, 0);
    });

    it("batches many one-signature calls of one turn and answers each in order", async () => {
      const vectors = fuzzVectors(randomInt(2 ** 31), 40);
      const pool = await start({ workers: 2, batchSize: 64 });
      const answers = await Promise.all(vectors.map((v) => pool.verify([v])));
      assert.deepEqual(
        answers.map((a) => a[0]),
        vectors.map((v) => referenceCheck(v.key, v.digest, v.signature)),
      );
      assert.deepEqual(await pool.verify([]), []);
    });

    it("rejects with VerifyPoolBusyError past maxPending, and serves again once drained", async () => {
      const vectors = fuzzVectors(1, 20).filter(
        (v) => referenceCheck(v.key, v.digest, v.signature) === "valid",
      );
      const pool = await start({ workers: 1, maxPending: 4 });
      const first = pool.verify(vectors.slice(0, 4));
      await assert.rejects(pool.verify(vectors.slice(0, 1)), VerifyPoolBusyError);
      assert.deepEqual(await first, ["valid", "valid", "valid", "valid"]);
      assert.deepEqual(await pool.verify(vectors.slice(0, 4)), [
        "valid",
        "valid",
        "valid",
        "valid",
      ]);
    });
  });

  describe("worker crashes", () => {
    it("replaces a worker that died and sends its batch again", async () => {
      process.env.VERIFY_CRASH_ONCE = join(dir, "crashed-once");
      const pool = await start({ workers: 2, script: CRASHING_WORKER, batchSize: 8 });
      const items = [
        ...Array.from({ length: 20 }, () => itemWithDigest("00")),
        itemWithDigest("beef"),
      ];
      assert.deepEqual(
        await pool.verify(items),
        items.map(() => "valid"),
      );
      assert.deepEqual(
        await pool.verify(items),
        items.map(() => "valid"),
      );
      // The replacement starts in the background (the retry ran on the other worker meanwhile).
      await waitFor(() => pool.runningWorkers === 2, "the replacement worker", 60_000);
      assert.equal(await readFile(join(dir, "crashed-once"), "utf8"), "crashed");
    });

    it("rejects a batch that kills every worker it reaches with VerifyWorkerCrashedError, and keeps serving", async () => {
      const pool = await start({ workers: 2, script: CRASHING_WORKER, retries: 2 });
      const good = itemWithDigest("00");
      const poisoned = pool.verify([good, itemWithDigest("dead")]);
      await assert.rejects(poisoned, (error: unknown) => {
        assert.ok(error instanceof VerifyWorkerCrashedError);
        assert.equal(error.code, "VERIFY_WORKER_CRASHED");
        return true;
      });
      assert.deepEqual(await pool.verify([good]), ["valid"]);
    });

    it("fails start with VerifyWorkerStartError when the worker module does not load", async () => {
      await assert.rejects(
        VerifyPool.start({ workers: 2, script: new URL("./no-such-worker.ts", import.meta.url) }),
        VerifyWorkerStartError,
      );
    });
  });

  describe("close", () => {
    it("lets accepted calls finish, ends the threads, then rejects with VerifyPoolClosedError", async () => {
      const pool = await VerifyPool.start({ workers: 2 });
      const vectors = fuzzVectors(2, 30);
      const running = pool.verify(vectors);
      const closing = pool.close();
      assert.equal(pool.close(), closing);
      assert.deepEqual(
        await running,
        vectors.map((v) => referenceCheck(v.key, v.digest, v.signature)),
      );
      await closing;
      assert.equal(pool.runningWorkers, 0);
      await assert.rejects(pool.verify(vectors), VerifyPoolClosedError);
    });

    for (const mode of ["close", "drop"] as const) {
      it(`lets the process exit by itself when the pool is ${mode === "close" ? "closed" : "never closed"}`, async () => {
        const child = spawn(
          join(process.cwd(), "node_modules/.bin/node"),
          ["--no-warnings", "--import", "tsx", "test/verify/pool-exit-child.ts", mode],
          {
            env: { ...process.env, VERIFY_POOL_EXIT_CHILD: "1" },
            stdio: ["ignore", "pipe", "inherit"],
          },
        );
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
        });
        const code = await new Promise<number | null>((resolve, reject) => {
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(
              new Error(`the child did not exit within 60 s (a worker thread held it): ${out}`),
            );
          }, 60_000);
          child.once("exit", (c) => {
            clearTimeout(timer);
            resolve(c);
          });
        });
        assert.equal(code, 0);
        assert.equal(out.trim(), mode === "close" ? "valid 0" : "valid 2");
      });
    }
  });
});

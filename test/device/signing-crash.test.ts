import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { ReadingConflictError } from "../../src/device/signing-record-errors.js";
import { SigningRecord } from "../../src/device/signing-record.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { toHex, type Domain, type Hex } from "../../src/protocol/index.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";

const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const FEED: Hex = `0x${"fe".repeat(32)}`;

interface Child {
  readonly process: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Resolves with the first line. */
  readonly first: Promise<string>;
}

/** Starts helpers/signing-crash-child.ts (see there for the modes). */
function startChild(env: Record<string, string>): Child {
  const child = spawn(
    join(process.cwd(), "node_modules/.bin/node"),
    ["--no-warnings", "--import", "tsx", "test/device/helpers/signing-crash-child.ts"],
    {
      env: { ...process.env, ...env, SIGNING_CRASH_CHILD: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const lines: string[] = [];
  const first = new Promise<string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      reject(new Error(`the child exited (${String(code ?? signal)}) before a line`));
    });
    createInterface({ input: child.stdout }).on("line", (line) => {
      lines.push(line);
      if (lines.length === 1) resolve(line);
    });
  });
  return { process: child, lines, first };
}

async function kill(child: Child): Promise<void> {
  const exited = new Promise((resolve) => child.process.once("exit", resolve));
  child.process.kill("SIGKILL");
  await exited;
}

describe("SigningRecord SIGKILL crash", function () {
  this.timeout(120_000);
  let dir: string;
  let key: SoftwareKeyStore;
  let env: Record<string, string>;

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "devicetrust-signing-crash-"));
    key = SoftwareKeyStore.generate("p256");
    env = {
      CRASH_RECORD: join(dir, "record.sqlite"),
      CRASH_KEY: key.exportPrivateKey(),
      CRASH_FEED: FEED,
    };
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  /** The device restarted on the same record. */
  function restarted(): DeviceSigner {
    const probe = new DeviceSigner(key, DOMAIN);
    return new DeviceSigner(
      key,
      DOMAIN,
      undefined,
      SigningRecord.open(env.CRASH_RECORD ?? "", probe),
    );
  }

  it("killed with a signature out in the world, the restarted device refuses a different payload for its sequence", async function () {
    const child = startChild({ ...env, CRASH_MODE: "after", CRASH_VALUE: "111" });
    const [word, digest, signature] = (await child.first).split(" ");
    assert.equal(word, "signature");
    // The signature exists (the caller could have sent it); the process dies before it returns.
    await kill(child);
    const device = restarted();
    try {
      assert.equal(
        checkDeviceSignature(device.key, digest as Hex, signature as Hex),
        "valid",
        "a real signature escaped",
      );
      await assert.rejects(
        device.signReading({ feedId: FEED, sequence: 1n, timestamp: 1n, value: 222n }),
        (err: unknown) => {
          assert.ok(err instanceof ReadingConflictError);
          assert.equal(err.signedDigest, digest);
          return true;
        },
      );
      const resend = await device.signReading({
        feedId: FEED,
        sequence: 1n,
        timestamp: 1n,
        value: 111n,
      });
      assert.equal(resend.digest, digest);
      assert.equal(device.nextSequence(FEED), 2n);
    } finally {
      device.record.close();
    }
  });

  it("killed while the key signs, the intent is already on disk: the restarted device still refuses a different payload", async function () {
    const child = startChild({ ...env, CRASH_MODE: "before", CRASH_VALUE: "111" });
    const [word, digest] = (await child.first).split(" ");
    assert.equal(word, "signing");
    await kill(child);
    const device = restarted();
    try {
      await assert.rejects(
        device.signReading({ feedId: FEED, sequence: 1n, timestamp: 1n, value: 222n }),
        { code: "SIGNING_READING_CONFLICT", signedDigest: digest },
      );
      assert.equal(device.nextSequence(FEED), 2n);
    } finally {
      device.record.close();
    }
  });

  it("killed at random moments while signing, never signs two readings for one sequence", async function () {
    const seen = new Map<string, string>();
    let last = 0n;
    for (let run = 0; run < 4; run++) {
      const child = startChild({ ...env, CRASH_MODE: "loop" });
      await child.first;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.floor(Math.random() * 250)));
      await kill(child);
      const signed = child.lines.map((l) => l.split(" "));
      assert.ok(signed.length > 0);
      for (const [word, sequence, digest] of signed) {
        assert.equal(word, "signed");
        assert.ok(sequence !== undefined && digest !== undefined);
        // Each process signs its own value: a sequence signed twice would show two digests.
        assert.equal(seen.get(sequence) ?? digest, digest, `sequence ${sequence} signed twice`);
        seen.set(sequence, digest);
        assert.ok(BigInt(sequence) > last, "sequences only go up, across restarts too");
        last = BigInt(sequence);
      }
    }
    const device = restarted();
    try {
      const [feed] = device.record.export().feeds;
      assert.ok(feed !== undefined);
      const recorded = new Map(feed.readings.map((r) => [r.sequence, r.digest]));
      for (const [sequence, digest] of seen) {
        // Below the low-water mark the record keeps no content (none here unless a run was very fast).
        if (BigInt(sequence) >= BigInt(feed.lowWater)) assert.equal(recorded.get(sequence), digest);
      }
      console.log(`      4 SIGKILLs over ${String(seen.size)} signed readings, none signed twice`);
      // The record may hold one intent more than was printed (killed between commit and print).
      assert.ok(device.nextSequence(FEED) >= last + 1n);
      await assert.rejects(
        device.signReading({
          feedId: FEED,
          sequence: last,
          timestamp: last,
          value: BigInt(toHex(randomBytes(8))),
        }),
        ReadingConflictError,
      );
    } finally {
      device.record.close();
    }
  });
});

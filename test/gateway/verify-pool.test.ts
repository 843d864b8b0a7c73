import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevicePublisher, type Gateway, type Outcome } from "../../src/gateway/index.js";
import {
  decodeBatch,
  encodeBatch,
  signBatch,
  type DecodedBatch,
  type Hex,
  type SignedReading,
} from "../../src/protocol/index.js";
import { cloneOf, deviceSigner, memoryLogger, reading, tempDb } from "../watchtower/helpers.js";
import { FakeFeeds, batchOf, gateway, waitFor } from "./helpers.js";
import { MosquittoProcess, freePort, requireMosquitto } from "./mosquitto-broker.js";

const CRASHING_WORKER = new URL("./crashing-verify-worker.ts", import.meta.url);

/** A copy of hex `value` with its last byte changed. */
function lastByteFlipped(value: Hex): Hex {
  const last = Number.parseInt(value.slice(-2), 16) ^ 0x01;
  return `${value.slice(0, -2)}${last.toString(16).padStart(2, "0")}` as Hex;
}

type Case =
  | { readonly name: string; readonly expected: Outcome; readonly reading: SignedReading }
  | { readonly name: string; readonly expected: Outcome; readonly batch: DecodedBatch };

/** Every verdict class the gateway tells apart, on both curves, single readings and batches. */
async function cases(): Promise<Case[]> {
  const out: Case[] = [];
  for (const curve of ["p256", "secp256k1"] as const) {
    const device = deviceSigner(curve);
    const other = deviceSigner(curve);
    const valid = await reading(device, 1n, 10n);
    const second = await reading(device, 2n, 20n);
    const tampered = await reading(device, 3n, 30n);
    const malformed = await reading(device, 4n, 40n);
    const short = await reading(device, 5n, 50n);
    const foreign = await reading(device, 6n, 60n);
    const b = await signBatch(cloneOf(other), batchOf(16, 1n));
    const batch = decodeBatch(encodeBatch(b.signed, b.readings));
    const b2 = await signBatch(cloneOf(other), batchOf(16, 17n));
    const forged = decodeBatch(encodeBatch(b2.signed, b2.readings));
    out.push(
      { name: `${curve} valid`, expected: "accepted", reading: valid },
      { name: `${curve} valid, second`, expected: "accepted", reading: second },
      {
        name: `${curve} signature over other content`,
        expected: "invalid_signature",
        reading: { ...tampered, reading: { ...tampered.reading, value: 31n } },
      },
      {
        name: `${curve} signature not hex`,
        expected: "malformed",
        reading: { ...malformed, signature: `${malformed.signature}zz` as Hex },
      },
      {
        name: `${curve} signature one byte short`,
        expected: "invalid_signature",
        reading: { ...short, signature: short.signature.slice(0, -2) as Hex },
      },
      {
        name: `${curve} another key's signature`,
        expected: "invalid_signature",
        reading: { ...foreign, signature: (await reading(other, 6n, 60n)).signature },
      },
      { name: `${curve} batch valid`, expected: "accepted", batch },
      {
        name: `${curve} batch signature changed`,
        expected: "invalid_signature",
        batch: { ...forged, signature: lastByteFlipped(forged.signature) },
      },
    );
  }
  return out;
}

/** Each case's outcome, all handled at once (as the intake's in-flight window does). */
function outcomes(g: Gateway, all: readonly Case[]): Promise<Outcome[]> {
  return Promise.all(
    all.map((c) => ("reading" in c ? g.accept(c.reading) : g.acceptBatch(c.batch))),
  );
}

describe("Gateway with verify workers", function () {
  // Worker threads load the TypeScript sources through tsx: seconds on a busy machine.
  this.timeout(120_000);

  describe("accept and acceptBatch", function () {
    it("give the same outcomes inline and with 2 workers: valid, invalid, malformed, both curves", async function () {
      const all = await cases();
      const results: Outcome[][] = [];
      for (const verifyWorkers of [0, 2]) {
        const g = gateway({
          brokerUrl: "unused",
          dbPath: await tempDb(),
          submitter: new FakeFeeds(),
          verifyWorkers,
        });
        await g.open();
        try {
          assert.equal(g.verifyThreads, verifyWorkers);
          results.push(await outcomes(g, all));
        } finally {
          await g.stop();
        }
      }
      const [inline, pooled] = results;
      assert.deepEqual(
        inline?.map((o, i) => `${all[i]?.name ?? "?"}: ${o}`),
        all.map((c) => `${c.name}: ${c.expected}`),
      );
      assert.deepEqual(pooled, inline);
    });

    it("rejects (no outcome) when the workers die on the batch each time it is sent", async function () {
      const g = gateway({
        brokerUrl: "unused",
        dbPath: await tempDb(),
        submitter: new FakeFeeds(),
        verifyWorkers: 1,
        verifyPool: { script: CRASHING_WORKER },
      });
      await g.open();
      try {
        await assert.rejects(g.accept(await reading(deviceSigner("p256"), 1n, 1n)), {
          code: "VERIFY_WORKER_CRASHED",
        });
        assert.equal(g.readings.counts().pending, 0);
      } finally {
        await g.stop();
      }
    });
  });

  describe("over Mosquitto", function () {
    let mosquitto: MosquittoProcess | undefined;
    let dir: string | undefined;

    before(async function () {
      requireMosquitto(this);
      dir = await mkdtemp(join(tmpdir(), "mosquitto-pool-"));
      const port = await freePort();
      mosquitto = await MosquittoProcess.start(
        dir,
        port,
        `listener ${String(port)} 127.0.0.1\nallow_anonymous true\npersistence false\n`,
      );
    });

    after(async function () {
      await mosquitto?.kill("SIGTERM");
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    it("does not acknowledge a message whose workers crashed: the broker redelivers it, then it is accepted", async function () {
      const url = mosquitto?.url ?? "";
      const dbPath = await tempDb();
      const feeds = new FakeFeeds();
      const { logger, lines } = memoryLogger();
      const common = { brokerUrl: url, dbPath, submitter: feeds, clientId: "gw-pool", logger };
      const crashing = gateway({
        ...common,
        verifyWorkers: 1,
        verifyPool: { script: CRASHING_WORKER },
      });
      await crashing.start();
      const device = deviceSigner("p256");
      const signed = await reading(device, 1n, 7n);
      const pub = await DevicePublisher.connect(url);
      try {
        await pub.publish(signed);
        await waitFor(
          () => lines.some((l) => l.event === "intake_error"),
          "the message left unacknowledged",
          60_000,
        );
        assert.equal(crashing.readings.counts().pending, 0);
        await crashing.stop();
        assert.equal(crashing.verifyThreads, 0);
        // The same session, workers that work: the broker sends the message again.
        const healthy = gateway({ ...common, verifyWorkers: 1 });
        await healthy.start();
        try {
          await waitFor(() => feeds.counts.size === 1, "the redelivered reading submitted", 60_000);
          assert.equal(healthy.readings.counts().submitted, 1);
        } finally {
          await healthy.stop();
        }
      } finally {
        await pub.close();
      }
    });
  });

  describe("stop", function () {
    it("ends the worker threads: a process that stopped its gateway exits by itself", async function () {
      const child = spawn(
        join(process.cwd(), "node_modules/.bin/node"),
        ["--no-warnings", "--import", "tsx", "test/gateway/verify-pool-exit-child.ts"],
        {
          env: { ...process.env, GATEWAY_POOL_EXIT_CHILD: "1" },
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
          reject(new Error(`the process did not exit by itself (printed: ${out})`));
        }, 90_000);
        child.once("exit", (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      assert.equal(code, 0);
      // Accepted with 2 threads running, none left after stop().
      assert.equal(out.trim(), "accepted 2 0");
    });
  });
});

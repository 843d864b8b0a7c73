import {
  encodeBatch,
  signBatch,
  type SignedReading,
  batchTopic,
} from "../../src/protocol/index.js";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevicePublisher, GatewayStore, startEmbeddedBroker } from "../../src/gateway/index.js";
import { FEED, deviceSigner, reading } from "../watchtower/helpers.js";
import { batchOf, slotOf, waitFor } from "./helpers.js";

function spawnChild(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(
    join(process.cwd(), "node_modules/.bin/node"),
    ["--no-warnings", "--import", "tsx", "test/gateway/crash-child.ts"],
    {
      env: { ...process.env, ...env, GATEWAY_CRASH_CHILD: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    // A child that dies before it is up (its start-up error is on stderr) is an error, not a hang.
    const died = (code: number | null): void => {
      reject(new Error(`the gateway child exited (code ${String(code)}) before it started`));
    };
    child.once("exit", died);
    child.stdout.once("data", () => {
      child.off("exit", died);
      resolve(child);
    });
  });
}

/**
 * Starts the gateway child as a supervisor would: if it dies at start-up (under load the broker has
 * been seen to close the new connection of a gateway restarted right after a SIGKILL: "Connection
 * closed"), it is started again, up to three times.
 */
async function startChild(env: Record<string, string>): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnChild(env);
    } catch (err: unknown) {
      if (attempt === 3) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

function lines(path: string): string[] {
  return existsSync(path)
    ? readFileSync(path, "utf8")
        .split("\n")
        .filter((l) => l !== "")
    : [];
}

describe("Gateway SIGKILL crash", function () {
  it("killed at random moments and restarted, loses none and submits none twice", async function () {
    this.timeout(120_000);
    const broker = await startEmbeddedBroker({ port: 0 });
    const dir = await mkdtemp(join(tmpdir(), "gateway-crash-"));
    // The child alive at the end and the publisher (closed by finally, even when the test fails).
    let last: ChildProcess | undefined;
    let publisher: DevicePublisher | undefined;
    try {
      const env = {
        CRASH_BROKER: broker.url,
        CRASH_DB: join(dir, "gateway.sqlite"),
        CRASH_LOG: join(dir, "submitted.log"),
      };
      const readings: SignedReading[] = [];
      for (const d of [deviceSigner("p256"), deviceSigner("p256"), deviceSigner("secp256k1")]) {
        for (let i = 1n; i <= 150n; i++) readings.push(await reading(d, i, i, 1_700_000_000n + i));
      }
      // Batch mode too: a fourth device publishes a batch of 16 readings after every 15th reading.
      const batcher = deviceSigner("p256");
      const batches: { root: string; payload: Buffer }[] = [];
      for (let k = 0n; k < 30n; k++) {
        const b = await signBatch(batcher, batchOf(16, k * 16n + 1n));
        batches.push({ root: b.signed.batch.root, payload: encodeBatch(b.signed, b.readings) });
      }
      const pub = await DevicePublisher.connect(broker.url);
      publisher = pub;
      let child = await startChild(env);
      last = child;
      let kills = 0;
      const publishing = (async () => {
        for (const [i, r] of readings.entries()) {
          await pub.publish(r);
          const b = i % 15 === 14 ? batches[(i - 14) / 15] : undefined;
          if (b !== undefined) await pub.publishRaw(batchTopic(FEED, batcher.deviceId), b.payload);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      for (let i = 0; i < 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(Math.random() * 200)));
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
        kills++;
        child = await startChild(env);
        last = child;
      }
      await publishing;
      await waitFor(() => lines(env.CRASH_LOG).length >= readings.length, "every reading", 60_000);
      const anchorsLog = `${env.CRASH_LOG}.anchors`;
      await waitFor(() => lines(anchorsLog).length >= batches.length, "every batch", 60_000);
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      const submitted = lines(env.CRASH_LOG);
      assert.equal(kills, 4);
      assert.equal(submitted.length, readings.length, "none submitted twice");
      assert.deepEqual(new Set(submitted), new Set(readings.map(slotOf)), "none lost");
      const store = new GatewayStore(env.CRASH_DB);
      assert.deepEqual(store.counts(), { pending: 0, submitted: readings.length, rejected: 0 });
      const anchors = lines(anchorsLog);
      assert.equal(anchors.length, batches.length, "no batch anchored twice");
      assert.deepEqual(new Set(anchors), new Set(batches.map((b) => b.root)), "no batch lost");
      assert.deepEqual(store.batchCounts(), { pending: 0, submitted: batches.length, rejected: 0 });
      store.close();
      const replays = lines(`${env.CRASH_LOG}.replays`).reduce((a, b) => a + Number(b), 0);
      const anchorReplays = lines(`${env.CRASH_LOG}.anchor-replays`).length;
      console.log(
        `      ${String(kills)} SIGKILLs; ${String(replays)} resubmitted readings and ${String(anchorReplays)} re-anchored batches refused as the contracts would`,
      );
    } finally {
      if (last?.exitCode === null && last.signalCode === null) last.kill("SIGKILL");
      await publisher?.close();
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

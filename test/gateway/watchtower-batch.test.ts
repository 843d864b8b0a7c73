import assert from "node:assert/strict";
import { pino } from "pino";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { proofsAt, registryAt, stakingAt } from "../../src/client/index.js";
import { DevicePublisher } from "../../src/gateway/index.js";
import { runGateway, type RunningGateway } from "../../src/app/index.js";
import type { ReadingMessage } from "../../src/protocol/index.js";
import { ethers, networkHelpers } from "../client/fixture.js";
import {
  FEED_MIN_STAKE,
  chainTime,
  deployFeedSystem,
  type FeedDevice,
  type FeedSystem,
} from "../client/feed-fixture.js";
import { sample, tempDb } from "../watchtower/helpers.js";
import { waitFor } from "./helpers.js";

const DEVICE_STATUS_SUSPENDED = 2n;
const INCIDENT_BATCH_EQUIVOCATION = 2n;

async function twoDevices() {
  return deployFeedSystem(ethers, { devices: 2 });
}

/** The gateway on an embedded aedes broker, with its in-process watchtower. */
async function start(s: FeedSystem): Promise<RunningGateway> {
  const [, , , , loss, watcher] = await ethers.getSigners();
  assert.ok(loss !== undefined && watcher !== undefined);
  return runGateway({
    registry: s.registryAddress,
    proofs: s.proofsAddress,
    anchor: s.anchorAddress,
    signer: watcher,
    brokerPort: 0,
    dbPath: await tempDb(),
    batchIntervalMs: 20,
    httpPort: false,
    logger: pino({ level: "silent" }),
    submitter: { pollMs: 10 },
    watchtower: { dbPath: await tempDb(), signer: loss },
    handleSignals: false,
  });
}

/** A second signer on the device's exported key: the clone. */
function cloneOf(s: FeedSystem, d: FeedDevice): DeviceSigner {
  return new DeviceSigner(
    SoftwareKeyStore.fromPrivateKey(d.curve, d.store.exportPrivateKey()),
    s.domain,
  );
}

function readingsOf(s: FeedSystem, count: number, from: bigint, now: bigint) {
  return Array.from({ length: count }, (_, i): Omit<ReadingMessage, "deviceId"> => ({
    feedId: s.feedId,
    sequence: from + BigInt(i),
    timestamp: now - 60n + BigInt(i),
    value: 2_000_000n + BigInt(i),
  }));
}

/** Waits for the watchtower's proof, then checks the chain: incident, slash, suspension. */
async function assertProven(
  s: FeedSystem,
  running: RunningGateway,
  device: FeedDevice,
  kind: string,
) {
  const wt = running.watchtower;
  assert.ok(wt !== null);
  await waitFor(
    () => wt.watchtower.evidence.proofs().some((p) => p.status === "submitted"),
    `the ${kind} proof`,
  );
  const proof = wt.watchtower.evidence.proofs()[0];
  assert.equal(proof?.kind, kind);
  assert.equal(proof.deviceId, device.deviceId.toLowerCase());
  assert.ok(proof.incident !== null);
  const [, , , , loss] = await ethers.getSigners();
  assert.ok(loss !== undefined);
  const incident = await proofsAt(s.proofsAddress, loss).incident(proof.incident);
  assert.equal(incident.kind, INCIDENT_BATCH_EQUIVOCATION);
  assert.equal(incident.deviceId.toLowerCase(), device.deviceId.toLowerCase());
  assert.ok(incident.slashed >= FEED_MIN_STAKE);
  assert.equal((await stakingAt(s.stakingAddress, loss).stakeOf(device.deviceId)).active, 0n);
  assert.equal(
    await registryAt(s.registryAddress, loss).statusOf(device.deviceId),
    DEVICE_STATUS_SUSPENDED,
  );
  return wt.watchtower.metrics.text();
}

describe("Gateway with its watchtower, batch mode", function () {
  it("proves a clone's conflicting batch published over MQTT (two batch leaves)", async function () {
    this.timeout(60_000);
    const s = await networkHelpers.loadFixture(twoDevices);
    const device = s.devices[0];
    assert.equal(device?.curve, "p256");
    const running = await start(s);
    const pub = await DevicePublisher.connect(running.brokerUrl);
    try {
      const now = await chainTime(ethers);
      await pub.signAndPublishBatch(device.signer, readingsOf(s, 1024, 1n, now));
      const cloned = readingsOf(s, 8, 1000n, now).map((r) =>
        r.sequence === 1004n ? { ...r, value: r.value + 500n } : r,
      );
      await pub.signAndPublishBatch(cloneOf(s, device), cloned);
      const metrics = await assertProven(s, running, device, "batch-pair-equivocation");
      assert.equal(sample(metrics, 'watchtower_batches_total{result="stored"}'), 1);
      assert.equal(sample(metrics, 'watchtower_batches_total{result="conflict"}'), 1);
    } finally {
      await pub.close();
      const summary = await running.stop();
      assert.deepEqual(summary.watchtower, { proofs: 1 });
    }
  });

  it("proves a clone's single reading that contradicts a batch published over MQTT", async function () {
    this.timeout(60_000);
    const s = await networkHelpers.loadFixture(twoDevices);
    const device = s.devices[1];
    assert.equal(device?.curve, "secp256k1");
    const running = await start(s);
    const pub = await DevicePublisher.connect(running.brokerUrl);
    try {
      const now = await chainTime(ethers);
      const readings = readingsOf(s, 64, 1n, now);
      await pub.signAndPublishBatch(device.signer, readings);
      const target = readings[40];
      assert.ok(target !== undefined);
      const forged = await cloneOf(s, device).signReading({ ...target, value: target.value - 1n });
      await pub.publish({ reading: forged.message, key: forged.key, signature: forged.signature });
      await assertProven(s, running, device, "batch-equivocation");
    } finally {
      await pub.close();
      const summary = await running.stop();
      assert.deepEqual(summary.watchtower, { proofs: 1 });
    }
  });
});

import { decodeBatch, decodeReading, type SignedReading } from "../../src/protocol/index.js";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { ReadingConflictError } from "../../src/device/signing-record-errors.js";
import { SigningRecord } from "../../src/device/signing-record.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  simulateFleet,
  startEmbeddedBroker,
  type EmbeddedBroker,
} from "../../src/gateway/index.js";
import type { Domain, Hex } from "../../src/protocol/index.js";

const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const FEED: Hex = `0x${"fe".repeat(32)}`;

/**
 * The incident, replayed: the fleet simulator signed reading #1 with a bad value, the feed refused it
 * (its sequence on chain stayed 0), and the next run, resuming from the chain, signed another reading
 * #1: equivocation, proven, the stake lost. With the signing record the next run moves on to #2.
 */
describe("Fleet and the signing record (the incident)", function () {
  let broker: EmbeddedBroker;
  let dir: string;
  let heard: SignedReading[];
  let batches: Buffer[];
  let close: () => Promise<void>;

  beforeEach(async function () {
    broker = await startEmbeddedBroker({ port: 0 });
    dir = await mkdtemp(join(tmpdir(), "devicetrust-fleet-incident-"));
    heard = [];
    batches = [];
    const client = await connectAsync(broker.url);
    client.on("message", (topic, payload) => {
      if (topic.endsWith("/reading")) heard.push(decodeReading(payload));
      else batches.push(payload);
    });
    await client.subscribeAsync(["dt/devicetrust/+/+/reading", "dt/devicetrust/+/+/batch"], {
      qos: 1,
    });
    close = () => client.endAsync();
  });
  afterEach(async function () {
    await close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function until(what: string, check: () => boolean): Promise<void> {
    for (let i = 0; !check(); i++) {
      if (i > 500) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** One simulator run of the device on its record file (a process of its own), `value` each round. */
  async function simulatorRun(
    store: SoftwareKeyStore,
    value: bigint,
    options: { rounds?: number; batchSize?: number } = {},
  ): Promise<void> {
    const probe = new DeviceSigner(store, DOMAIN);
    const record = SigningRecord.open(join(dir, "record.sqlite"), probe);
    try {
      await simulateFleet({
        brokerUrl: broker.url,
        feedId: FEED,
        signers: [new DeviceSigner(store, DOMAIN, undefined, record)],
        value: () => value,
        rounds: options.rounds ?? 1,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      });
    } finally {
      record.close();
    }
  }

  it("a new run after a reading the feed never took signs #2, never another #1; #1 itself may only be resent", async function () {
    const store = SoftwareKeyStore.generate("p256");
    await simulatorRun(store, 10n ** 30n);
    await until("the bad reading", () => heard.length === 1);
    // The feed refused it: on chain the device's sequence is still 0. The chain is not asked.
    await simulatorRun(store, 2_000n * 10n ** 8n);
    await until("the next run's reading", () => heard.length === 2);
    assert.deepEqual(
      heard.map((r) => [r.reading.sequence, r.reading.value]),
      [
        [1n, 10n ** 30n],
        [2n, 2_000n * 10n ** 8n],
      ],
    );
    const record = SigningRecord.open(join(dir, "record.sqlite"));
    const device = new DeviceSigner(store, DOMAIN, undefined, record);
    try {
      const first = heard[0]?.reading;
      assert.ok(first !== undefined);
      const { deviceId: _deviceId, ...bad } = first;
      await assert.rejects(
        device.signReading({ ...bad, value: 2_000n * 10n ** 8n }),
        ReadingConflictError,
      );
      await device.signReading(bad);
      assert.equal(device.nextSequence(FEED), 3n);
    } finally {
      record.close();
    }
  });

  it("batch mode resumes after the last batch's range, also when no batch reached a chain", async function () {
    const store = SoftwareKeyStore.generate("secp256k1");
    await simulatorRun(store, 1n, { batchSize: 4 });
    await simulatorRun(store, 2n, { rounds: 2, batchSize: 4 });
    await until("three batches", () => batches.length === 3);
    const ranges = batches
      .map((b) => decodeBatch(b).batch)
      .map((b) => [b.firstSequence, b.lastSequence])
      .sort((a, b) => Number((a[0] ?? 0n) - (b[0] ?? 0n)));
    assert.deepEqual(ranges, [
      [1n, 4n],
      [5n, 8n],
      [9n, 12n],
    ]);
  });

  it("a clone (the same key, its own empty record) still signs a conflicting reading: the record binds only its device", async function () {
    const store = SoftwareKeyStore.generate("p256");
    const probe = new DeviceSigner(store, DOMAIN);
    const record = SigningRecord.open(join(dir, "record.sqlite"), probe);
    try {
      const report = await simulateFleet({
        brokerUrl: broker.url,
        feedId: FEED,
        signers: [new DeviceSigner(store, DOMAIN, undefined, record)],
        rounds: 1,
        clones: 1,
      });
      assert.equal(report.clones, 1);
      await until("the reading and its clone", () => heard.length === 2);
      // Two connections: the broker may deliver the clone's first. Device 0's honest value is 2000e8.
      const honest = heard.find((r) => r.reading.value === 2_000n * 10n ** 8n);
      const clone = heard.find((r) => r.reading.value === 2_000n * 10n ** 8n + 1n);
      assert.equal(honest?.reading.sequence, 1n);
      assert.equal(clone?.reading.sequence, 1n);
      // The device's own record holds its reading only: it would refuse the clone's.
      const { deviceId: _deviceId, ...cloned } = clone.reading;
      await assert.rejects(
        new DeviceSigner(store, DOMAIN, undefined, record).signReading(cloned),
        ReadingConflictError,
      );
    } finally {
      record.close();
    }
  });
});

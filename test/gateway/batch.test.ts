import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { DevicePublisher, GatewayStore, type EmbeddedBroker } from "../../src/gateway/index.js";
import {
  buildReadingBatch,
  structHash,
  type Hex,
  type ReadingMessage,
  batchLeaves,
  batchReadings,
  checkBatch,
  decodeBatch,
  encodeBatch,
  merkleRoot,
  readingBatchStructHash,
  signBatch,
  type DecodedBatch,
  type WatchedBatch,
  batchTopic,
  parseTopic,
} from "../../src/protocol/index.js";
import {
  DOMAIN,
  FEED,
  FakeDirectory,
  cloneOf,
  deviceSigner,
  sample,
  tempDb,
} from "../watchtower/helpers.js";
import { FakeFeeds, batchOf, brokerPerTest, gateway, waitFor } from "./helpers.js";

/** A batch signed with `signer`'s key by a clone (cloneOf), so tests may sign conflicting ones. */
async function batch(
  signer: DeviceSigner,
  count: number,
  from = 1n,
): Promise<{ decoded: DecodedBatch; payload: Buffer; readings: ReadingMessage[] }> {
  const b = await signBatch(cloneOf(signer), batchOf(count, from));
  const payload = encodeBatch(b.signed, b.readings);
  return { decoded: decodeBatch(payload), payload, readings: b.readings };
}

/** A copy of `payload` with byte `offset` changed. */
function flip(payload: Buffer, offset: number): Buffer {
  const out = Buffer.from(payload);
  out[offset] = (out[offset] ?? 0) ^ 0x01;
  return out;
}

const P256_READINGS_AT = 134 + 64 + 64;

describe("Gateway batch mode", function () {
  describe("codec and Merkle root", function () {
    it("computes OpenZeppelin's SimpleMerkleTree root for any number of leaves", function () {
      for (const n of [1, 2, 3, 5, 8, 13, 100, 1024]) {
        const leaves = Buffer.concat(Array.from({ length: n }, () => randomBytes(32)));
        const hexLeaves = Array.from(
          { length: n },
          (_, i) => `0x${leaves.toString("hex", i * 32, i * 32 + 32)}`,
        );
        assert.equal(
          `0x${merkleRoot(leaves).toString("hex")}`,
          SimpleMerkleTree.of(hexLeaves).root,
          `${String(n)} leaves`,
        );
      }
    });

    it("builds the root and leaves exactly as protocol's buildReadingBatch and EIP-712 do", async function () {
      for (const curve of ["p256", "secp256k1"] as const) {
        const signer = deviceSigner(curve);
        const { decoded, readings: full } = await batch(signer, 37, 5n);
        const expected = buildReadingBatch(full).batch;
        assert.deepEqual(decoded.batch, expected);
        const leaves = batchLeaves(decoded.batch.deviceId, FEED, decoded.readings);
        assert.equal(`0x${leaves.toString("hex", 0, 32)}`, structHash("Reading", full[0]!));
        assert.equal(
          `0x${readingBatchStructHash(decoded.batch).toString("hex")}`,
          structHash("ReadingBatch", expected),
        );
      }
    });

    it("round-trips a batch through the binary format, extreme values included", async function () {
      const signer = deviceSigner("secp256k1");
      const b = await signBatch(signer, [
        { feedId: FEED, sequence: 1n, timestamp: 0n, value: -(2n ** 255n) },
        {
          feedId: FEED,
          sequence: 2n ** 64n - 1n,
          timestamp: 2n ** 64n - 1n,
          value: 2n ** 255n - 1n,
        },
      ]);
      const payload = encodeBatch(b.signed, b.readings);
      assert.equal(payload.length, 134 + 20 + 65 + 2 * 48);
      const decoded = decodeBatch(payload);
      assert.deepEqual(
        { batch: decoded.batch, key: decoded.key, signature: decoded.signature },
        b.signed,
      );
      assert.deepEqual(batchReadings(decoded), b.readings);
      assert.equal(checkBatch(decoded), null);
      const topic = batchTopic(FEED, signer.deviceId);
      assert.deepEqual(parseTopic(topic), {
        kind: "batch",
        feedId: FEED,
        deviceId: signer.deviceId,
      });
    });

    it("refuses malformed payloads and batches that do not match their readings", async function () {
      const { payload } = await batch(deviceSigner("p256"), 4);
      assert.throws(() => decodeBatch(payload.subarray(0, payload.length - 1)), {
        code: "INVALID_INPUT",
      });
      assert.throws(() => decodeBatch(flip(payload, 0)), { code: "INVALID_INPUT" });
      // A reading's value changed: the root no longer matches.
      assert.equal(checkBatch(decodeBatch(flip(payload, P256_READINGS_AT + 47))), "bad_root");
      // A reading's sequence changed: the sequence range no longer matches.
      assert.equal(checkBatch(decodeBatch(flip(payload, P256_READINGS_AT + 7))), "bad_batch");
      // The signed toTimestamp is not the readings' latest.
      assert.equal(checkBatch(decodeBatch(flip(payload, 97))), "bad_batch");
    });
  });

  describe("acceptBatch without MQTT", function () {
    it("accepts, deduplicates and refuses bad roots, signatures, overlaps, old keys and strangers; stores late batches", async function () {
      const device = deviceSigner("p256");
      const rotated = new DeviceSigner(deviceSigner("secp256k1").keyStore, DOMAIN, device.deviceId);
      const stranger = new DeviceSigner(deviceSigner("p256").keyStore, DOMAIN, device.deviceId);
      const other = deviceSigner("p256");
      const othersKey = new DeviceSigner(other.keyStore, DOMAIN, device.deviceId);
      const directory = new FakeDirectory();
      directory.owners.set(other.deviceId, other.deviceId); // the registry knows first keys too
      const feeds = new FakeFeeds();
      const g = gateway({ brokerUrl: "unused", dbPath: ":memory:", submitter: feeds, directory });
      await g.open();
      const first = await batch(device, 64, 1n);
      assert.equal(await g.acceptBatch(first.decoded), "accepted");
      assert.equal(await g.acceptBatch(first.decoded), "duplicate");
      assert.equal(await g.acceptBatch((await batch(device, 10, 60n)).decoded), "overlap");
      assert.equal(await g.acceptBatch((await batch(stranger, 4, 200n)).decoded), "unknown_key");
      assert.equal(await g.acceptBatch((await batch(othersKey, 4, 200n)).decoded), "wrong_device");
      const later = await batch(device, 8, 300n);
      const badRoot = decodeBatch(flip(later.payload, P256_READINGS_AT + 20));
      assert.equal(await g.acceptBatch(badRoot), "bad_root");
      const badSig = decodeBatch(flip(later.payload, 134 + 64 + 10));
      assert.equal(await g.acceptBatch(badSig), "invalid_signature");
      assert.equal(await g.acceptBatch(later.decoded), "accepted");
      // One that comes late (out of order, not overlapping) is stored: no accepted reading is dropped.
      assert.equal(await g.acceptBatch((await batch(device, 8, 150n)).decoded), "accepted");
      assert.equal(await g.acceptBatch((await batch(device, 8, 155n)).decoded), "overlap");
      // After a rotation (here learned from the new key's first batch) only the new key's batches are
      // anchored: the old key's takes no range.
      directory.rotate(device.deviceId, rotated.key, false);
      assert.equal(await g.acceptBatch((await batch(rotated, 64, 310n)).decoded), "accepted");
      assert.equal(await g.acceptBatch((await batch(device, 8, 400n)).decoded), "old_key");
      await g.flushNow();
      assert.equal(g.queuedBatches, 0);
      assert.equal(feeds.anchored.length, 4);
      assert.deepEqual(feeds.anchoredTwice(), []);
      assert.deepEqual(g.readings.batchCounts(), { pending: 0, submitted: 4, rejected: 0 });
      const text = await g.metrics.text();
      assert.equal(sample(text, "gateway_batches_verified_total"), 4);
      assert.equal(sample(text, "gateway_verified_total"), 64 + 64 + 8 + 8);
      assert.equal(sample(text, "gateway_batches_anchored_total"), 4);
      await g.stop();
    });
    it("anchors pending batches in groups of maxBatchesPerTx, each device's in sequence order; a refused one is rejected for good", async function () {
      const devices = [deviceSigner("p256"), deviceSigner("secp256k1"), deviceSigner("p256")];
      const feeds = new FakeFeeds();
      const dbPath = await tempDb();
      // The chain is down while the batches arrive: they stay pending for the next start.
      feeds.anchorFailures = 1_000_000;
      const a = gateway({ brokerUrl: "unused", dbPath, submitter: feeds });
      await a.open();
      // Four batches per device, accepted interleaved: device by device, round by round.
      const roots: Hex[] = [];
      for (let k = 0n; k < 4n; k++) {
        for (const d of devices) {
          const b = await batch(d, 8, 1n + k * 8n);
          assert.equal(await a.acceptBatch(b.decoded), "accepted");
          roots.push(b.decoded.batch.root);
        }
      }
      await a.stop();
      const g = gateway({ brokerUrl: "unused", dbPath, submitter: feeds, maxBatchesPerTx: 5 });
      await g.open();
      const refused = roots[4]!.toLowerCase();
      feeds.refuseRoots.add(refused);
      feeds.anchorFailures = 1; // flushNow gives up on a transient error: it stays pending
      await g.flushNow();
      assert.deepEqual(feeds.groups, []);
      assert.equal(g.queuedBatches, 12);
      await g.flushNow();
      assert.deepEqual(feeds.groups, [5, 5, 2]);
      assert.equal(g.queuedBatches, 0);
      assert.deepEqual(feeds.refused, [refused]);
      assert.deepEqual(feeds.anchoredTwice(), []);
      for (const d of devices) {
        const firsts = feeds.anchored
          .filter((b) => b.batch.deviceId === d.deviceId)
          .map((b) => b.batch.firstSequence);
        assert.deepEqual(
          firsts,
          [...firsts].sort((a, b) => (a < b ? -1 : 1)),
          "in sequence order",
        );
      }
      assert.deepEqual(g.readings.batchCounts(), { pending: 0, submitted: 11, rejected: 1 });
      const text = await g.metrics.text();
      assert.equal(sample(text, "gateway_batches_anchored_total"), 11);
      assert.equal(sample(text, 'gateway_submit_errors_total{kind="rejected"}'), 1);
      await g.flushNow();
      assert.deepEqual(feeds.groups, [5, 5, 2], "nothing is sent again");
      await g.stop();
    });
  });

  describe("over MQTT (aedes on loopback)", function () {
    const current = brokerPerTest();
    let broker: EmbeddedBroker;
    beforeEach(function () {
      broker = current();
    });

    it("verifies, persists, anchors once, mirrors, and drops bad batches by reason", async function () {
      this.timeout(30_000);
      const feeds = new FakeFeeds();
      feeds.anchorFailures = 2; // transient: retried with backoff
      const mirrored: WatchedBatch[] = [];
      const g = gateway({
        brokerUrl: broker.url,
        dbPath: await tempDb(),
        submitter: feeds,
        batchSink: (b) => {
          mirrored.push(b);
          return Promise.resolve();
        },
      });
      await g.start();
      const devices = [deviceSigner("p256"), deviceSigner("secp256k1")];
      const pub = await DevicePublisher.connect(broker.url);
      const good: Hex[] = [];
      for (const d of devices) {
        for (let k = 0n; k < 3n; k++) {
          const signed = await pub.signAndPublishBatch(d, batchOf(256, 1n + k * 256n));
          good.push(signed.batch.root);
        }
      }
      const d0 = devices[0]!;
      const bad = await batch(d0, 16, 3000n);
      await pub.publishRaw(batchTopic(FEED, d0.deviceId), flip(bad.payload, P256_READINGS_AT + 30));
      await pub.publishRaw(batchTopic(FEED, d0.deviceId), flip(bad.payload, 134 + 64 + 1));
      await pub.publishRaw(batchTopic(FEED, d0.deviceId), (await batch(d0, 16, 10n)).payload);
      await pub.publishRaw(batchTopic(FEED, d0.deviceId), bad.payload.subarray(0, 100));
      await pub.publishRaw(batchTopic(FEED, devices[1]!.deviceId), bad.payload);
      // One subscriber, one publisher: messages are handled in order, so these come last.
      const extra = await batch(d0, 16, 2000n);
      await pub.publishRaw(batchTopic(FEED, d0.deviceId), extra.payload);
      await pub.publishRaw(batchTopic(FEED, d0.deviceId), extra.payload); // a redelivery
      good.push(extra.decoded.batch.root);
      await waitFor(
        () => feeds.anchored.length === good.length && g.queuedBatches === 0,
        "every good batch anchored",
      );
      let text = "";
      for (let i = 0; i < 1000 && sample(text, "gateway_received_total") !== 13; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        text = await g.metrics.text();
      }
      assert.deepEqual(new Set(feeds.anchored.map((b) => b.batch.root)), new Set(good));
      assert.deepEqual(feeds.anchoredTwice(), []);
      assert.deepEqual(g.readings.batchCounts(), { pending: 0, submitted: 7, rejected: 0 });
      assert.equal(sample(text, "gateway_received_total"), 13);
      assert.equal(sample(text, "gateway_batches_verified_total"), 7);
      assert.equal(sample(text, "gateway_verified_total"), 6 * 256 + 16);
      assert.equal(sample(text, "gateway_duplicates_total"), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="bad_root"}'), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="invalid_signature"}'), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="overlap"}'), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="malformed"}'), 1);
      assert.equal(sample(text, 'gateway_rejected_total{reason="topic_mismatch"}'), 1);
      assert.equal(sample(text, 'gateway_submit_errors_total{kind="retried"}'), 2);
      // Every well-formed batch on its own topic was mirrored (the bad ones included).
      assert.equal(mirrored.length, 11);
      const m = mirrored.find((b) => b.signed.batch.root === extra.decoded.batch.root);
      assert.deepEqual(m?.readings(), extra.readings);
      // The store keeps each batch's readings.
      assert.deepEqual(
        await g.readings.batchReadingsOf(7),
        extra.decoded.readings,
        "the last stored batch holds its readings",
      );
      await pub.close();
      await g.stop();
    });

    it("restarts on the same store: pending batches anchored once, none lost", async function () {
      this.timeout(30_000);
      const feeds = new FakeFeeds();
      const dbPath = await tempDb();
      const options = { brokerUrl: broker.url, dbPath, submitter: feeds, clientId: "gw-batch" };
      const device = deviceSigner("p256");
      const all = await Promise.all(
        Array.from({ length: 12 }, (_, k) => batch(device, 32, 1n + BigInt(k) * 32n)),
      );
      const pub = await DevicePublisher.connect(broker.url);
      const a = gateway(options);
      await a.start();
      // The chain is down: batches are accepted and stay pending.
      feeds.anchorFailures = 1_000_000;
      for (const b of all.slice(0, 6))
        await pub.publishRaw(batchTopic(FEED, device.deviceId), b.payload);
      await waitFor(() => a.readings.batchCounts().pending === 6, "6 pending batches");
      await a.stop();
      // While no gateway runs the broker keeps the session's messages; the device retries two.
      for (const b of all.slice(6))
        await pub.publishRaw(batchTopic(FEED, device.deviceId), b.payload);
      for (const b of all.slice(0, 2))
        await pub.publishRaw(batchTopic(FEED, device.deviceId), b.payload);
      feeds.anchorFailures = 0;
      const b = gateway(options);
      await b.start();
      await waitFor(() => feeds.anchored.length === 12 && b.queuedBatches === 0, "12 anchored");
      await b.stop();
      const c = gateway(options);
      await c.start();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(c.queuedBatches, 0);
      await c.stop();
      assert.deepEqual(feeds.anchoredTwice(), []);
      assert.deepEqual(
        new Set(feeds.anchored.map((x) => x.batch.root)),
        new Set(all.map((x) => x.decoded.batch.root)),
      );
      const store = new GatewayStore(dbPath);
      assert.deepEqual(store.batchCounts(), { pending: 0, submitted: 12, rejected: 0 });
      store.close();
      await pub.close();
    });
  });
});

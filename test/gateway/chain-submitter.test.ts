import assert from "node:assert/strict";
import { pino } from "pino";
import {
  ChainSubmitter,
  DevicePublisher,
  FeedEventMetrics,
  GatewayStore,
  SubmissionRejectedError,
  asSubmissionRejection,
  startEmbeddedBroker,
  type ReadingSubmitter,
} from "../../src/gateway/index.js";
import {
  addFeedDevices,
  joinFeed,
  createFeed,
  feedAt,
  feedFactoryAt,
  feedIdOf,
  readingAnchorAt,
} from "../../src/client/index.js";
import {
  buildReadingBatch,
  type Hex,
  decodeBatch,
  encodeBatch,
  signBatch,
  type DecodedBatch,
  type SignedBatch,
  type SignedReading,
} from "../../src/protocol/index.js";
import { DeviceFeed__factory } from "../../types/ethers-contracts/index.js";
import { chainDirectory } from "../../src/watchtower/index.js";
import { connection, ethers, networkHelpers } from "../client/fixture.js";
import {
  FEED_CONFIG,
  chainTime,
  type FeedDevice,
  type FeedSystem,
} from "../client/feed-fixture.js";
import { cloneOf, memoryLogger, tempDb } from "../watchtower/helpers.js";
import { gateway, waitFor, verdicts } from "./helpers.js";
import { signed, submitter, system } from "./chain-helpers.js";
import type { Gateway } from "../../src/gateway/index.js";

const quiet = pino({ level: "silent" });

/** One reading per device at the current chain time, values 2000..2006 (x 1e8). */
async function round(
  s: FeedSystem,
  sequence: bigint,
  feedId = s.feedId,
  offset = 0n,
): Promise<SignedReading[]> {
  const now = await chainTime(ethers);
  return Promise.all(
    s.devices.map((d, i) =>
      signed(d, feedId, sequence, (2_000n + BigInt(i) + offset) * 10n ** 8n, now),
    ),
  );
}

/**
 * `count` readings of `device` from sequence `first`, in the last minutes, in one batch signed by a
 * clone (see `signed`).
 */
async function deviceBatch(
  s: FeedSystem,
  device: FeedDevice,
  first: bigint,
  count: number,
): Promise<{ signed: SignedBatch; decoded: DecodedBatch }> {
  const now = await chainTime(ethers);
  const readings = Array.from({ length: count }, (_, i) => ({
    feedId: s.feedId,
    sequence: first + BigInt(i),
    timestamp: now - 100n + BigInt(i),
    value: 20n + BigInt(i),
  }));
  const b = await signBatch(cloneOf(device.signer), readings);
  return { signed: b.signed, decoded: decodeBatch(encodeBatch(b.signed, b.readings)) };
}

/** A gateway on `dbPath` without MQTT, verifying against the chain's registry. */
async function batchGateway(
  s: FeedSystem,
  dbPath: string,
  submitter: ReadingSubmitter,
  maxBatchesPerTx = 32,
): Promise<Gateway> {
  const g = gateway({
    brokerUrl: "unused",
    dbPath,
    submitter,
    maxBatchesPerTx,
    directory: chainDirectory(s.registryAddress, s.proofsAddress, s.watcher),
    domain: s.domain,
  });
  await g.open();
  return g;
}

/**
 * Accepts `batches` on a gateway whose chain is down (they stay pending in `dbPath`), then stops it:
 * the next gateway on `dbPath` starts with all of them queued.
 */
async function acceptWhileDown(
  s: FeedSystem,
  dbPath: string,
  batches: readonly { decoded: DecodedBatch }[],
): Promise<void> {
  const down = new Error("the chain is down");
  const g = await batchGateway(s, dbPath, {
    submitReadings: () => Promise.reject(down),
    anchorBatch: () => Promise.reject(down),
    anchorBatches: () => Promise.reject(down),
  });
  for (const b of batches) assert.equal(await g.acceptBatch(b.decoded), "accepted");
  await g.stop();
}

async function rejection(
  promise: Promise<unknown>,
  code: string,
): Promise<SubmissionRejectedError> {
  try {
    await promise;
  } catch (err: unknown) {
    assert.ok(err instanceof SubmissionRejectedError, `not a rejection: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe("ChainSubmitter", function () {
  describe("submitReadings", function () {
    it("submits one round of 7 devices (both curves) in one transaction; the feed answers the median", async function () {
      const s = await networkHelpers.loadFixture(system);
      const sub = submitter(s);
      const result = await sub.submitReadings(await round(s, 1n));
      assert.equal(result.txHashes.length, 1);
      assert.equal(result.accepted, 7);
      assert.deepEqual(result.rejected, []);
      assert.deepEqual(result.quarantined, []);
      assert.deepEqual(result.tripped, []);
      const answer = await feedAt(s.feedAddress, s.watcher).latestRoundData();
      assert.equal(answer.answer, 2_003n * 10n ** 8n);
      // One transaction commits one round.
      assert.equal(answer.roundId, 1n);
      const nonce = await ethers.provider.getTransactionCount(s.watcher.address, "pending");
      assert.equal(sub.pendingNonce, nonce);
    });

    it("groups readings per feed, skips chunks it already sent when a batch is retried", async function () {
      const s = await networkHelpers.loadFixture(system);
      const second = await createFeed(feedFactoryAt(s.factoryAddress, s.owner), {
        ...FEED_CONFIG,
        quorum: 2,
        description: "Humidity",
      });
      const other = feedAt(second.feed, s.owner);
      const members = s.devices.slice(0, 3).map((d) => d.deviceId);
      // The owner invites; the devices' operator consents by joining.
      await addFeedDevices(other, members);
      await joinFeed(feedAt(second.feed, s.operator), members);
      const a = await round(s, 1n);
      const b = (await round(s, 1n, second.feedId)).slice(0, 3);
      const mixed = [a[0], b[0], a[1], b[1], a[2], b[2], ...a.slice(3)].filter(
        (r): r is SignedReading => r !== undefined,
      );
      const sub = submitter(s, { maxPerTx: 4 });
      const result = await sub.submitReadings(mixed);
      // Feed 1: 7 readings in chunks of 4 and 3; feed 2: 3 readings.
      assert.equal(result.txHashes.length, 3);
      assert.equal(result.accepted, 10);
      assert.deepEqual(
        verdicts(result.outcomes),
        mixed.map(() => ({ accepted: true })),
        "outcomes follow the order given, across feeds and chunks",
      );
      assert.equal((await other.latestRoundData()).answer, 2_001n * 10n ** 8n);
      const nonce = sub.pendingNonce;
      const again = await sub.submitReadings(mixed);
      assert.deepEqual(again.txHashes, result.txHashes);
      assert.equal(sub.pendingNonce, nonce, "a retried batch sends nothing twice");
    });

    it("reports readings resent after a crash (a new submitter: the feed refuses them as SequenceNotIncreasing) accepted, with the transaction that carried them", async function () {
      const s = await networkHelpers.loadFixture(system);
      const readings = await round(s, 1n);
      const first = await submitter(s).submitReadings(readings);
      assert.equal(first.accepted, readings.length);
      // The gateway died before recording the outcome: its next submitter knows nothing of it.
      const { logger, lines } = memoryLogger();
      const again = await submitter(s, { logger }).submitReadings(readings);
      assert.equal(again.accepted, 0, "the feed took none of them again");
      assert.deepEqual(
        verdicts(again.outcomes),
        readings.map(() => ({ accepted: true })),
      );
      assert.deepEqual(
        again.outcomes.map((o) => o.txHash),
        first.outcomes.map((o) => o.txHash),
        "each with the transaction that carried it the first time",
      );
      assert.ok(lines.some((l) => l.event === "already_accepted"));
      // A reading of a used sequence with another value was not on chain: it stays refused.
      const other = await round(s, 1n, undefined, 7n);
      const refused = await submitter(s).submitReadings(other.slice(0, 1));
      assert.deepEqual(verdicts(refused.outcomes), [
        { accepted: false, reason: "SequenceNotIncreasing" },
      ]);
    });

    it("reports a member its reading quarantined as not accepted: listed, counted, logged with what to do", async function () {
      const s = await networkHelpers.loadFixture(system);
      const { logger, lines } = memoryLogger();
      const sub = submitter(s, { logger });
      await sub.submitReadings(await round(s, 1n));
      await networkHelpers.time.increase(60);
      const now = await chainTime(ethers);
      const [d0, d1] = s.devices;
      assert.ok(d0 !== undefined && d1 !== undefined);
      const result = await sub.submitReadings([
        await signed(d0, s.feedId, 1n, 2_000n * 10n ** 8n, now), // sequence 1 again
        await signed(d1, s.feedId, 2n, 9_000n * 10n ** 8n, now), // +350% from its own last: Jump
      ]);
      assert.equal(result.accepted, 0, "a quarantining reading is not accepted");
      assert.deepEqual(
        verdicts(result.outcomes),
        [
          { accepted: false, reason: "SequenceNotIncreasing" },
          { accepted: false, reason: "MemberQuarantined:Jump" },
        ],
        "one outcome per reading, in order, from its own event",
      );
      assert.deepEqual(
        result.rejected.map((r) => [r.deviceId, r.sequence, r.reason]),
        [[d0.deviceId, 1n, "SequenceNotIncreasing"]],
      );
      assert.deepEqual(result.quarantined, [
        {
          feedId: s.feedId,
          deviceId: d1.deviceId.toLowerCase(),
          sequence: 2n,
          value: 9_000n * 10n ** 8n,
          anomaly: "Jump",
          lockedDown: false,
        },
      ]);
      assert.deepEqual(result.tripped, [], "one quarantine does not trip the feed");
      const counted = await sub.metrics.memberQuarantined.get();
      assert.deepEqual(
        counted.values.map((v) => [v.labels.anomaly, v.value]),
        [["Jump", 1]],
      );
      const logged = lines.filter((l) => l.event === "member_quarantined");
      assert.equal(logged.length, 1);
      const [line] = logged;
      assert.ok(line !== undefined);
      assert.deepEqual(
        [line.deviceId, line.anomaly, line.sequence],
        [d1.deviceId.toLowerCase(), "Jump", "2"],
      );
      assert.match(
        String(line.msg),
        /^device 0x[0-9a-f]{64} quarantined in feed 0x[0-9a-f]{64} \(Jump, reading #2\): its readings are refused until its operator re-attests the device and readmits it \(feed readmit\)$/,
      );
      // Its next reading is refused: a rejected outcome with the reason Quarantined.
      await networkHelpers.time.increase(60);
      const later = await sub.submitReadings([
        await signed(d1, s.feedId, 3n, 2_001n * 10n ** 8n, await chainTime(ethers)),
      ]);
      assert.equal(later.accepted, 0);
      assert.deepEqual(verdicts(later.outcomes), [{ accepted: false, reason: "Quarantined" }]);
      assert.deepEqual(
        later.rejected.map((r) => [r.deviceId, r.sequence, r.reason]),
        [[d1.deviceId.toLowerCase(), 3n, "Quarantined"]],
      );
    });

    it("reports a feed-wide trip (too many quarantines): counted, and the tripped feed still takes readings", async function () {
      const s = await networkHelpers.loadFixture(system);
      const metrics = new FeedEventMetrics("test_");
      const sub = submitter(s, { metrics });
      await sub.submitReadings(await round(s, 1n));
      await networkHelpers.time.increase(2);
      // Three members within the 10 s minimum interval: the third quarantine exceeds maxQuarantines (2).
      const burst = (await round(s, 2n)).slice(0, 3);
      const result = await sub.submitReadings(burst);
      assert.deepEqual(
        result.quarantined.map((q) => q.anomaly),
        ["TooFrequent", "TooFrequent", "TooFrequent"],
      );
      assert.deepEqual(result.tripped, [{ feedId: s.feedId, reason: "Quarantines", value: 3n }]);
      const text = await metrics.registry.metrics();
      assert.match(text, /^test_feed_member_quarantined_total\{anomaly="TooFrequent"\} 3$/m);
      assert.match(text, /^test_feed_tripped_total\{reason="Quarantines"\} 1$/m);
      // A tripped feed takes the others' readings without reverting, and commits no round.
      await networkHelpers.time.increase(60);
      const rest = (await round(s, 3n)).slice(3);
      const after = await sub.submitReadings(rest);
      assert.equal(after.accepted, 4);
      const feed = feedAt(s.feedAddress, s.watcher);
      assert.equal(await feed.latestRound(), 1n);
      assert.equal(await feed.tripReason(), 2n);
    });

    it("turns a feed's custom error into a final refusal with its sentence", function () {
      const data = DeviceFeed__factory.createInterface().encodeErrorResult("DeviceFeedTripped", [
        3n,
      ]);
      const refusal = asSubmissionRejection({ data });
      assert.ok(refusal instanceof SubmissionRejectedError);
      assert.equal(refusal.code, "DeviceFeedTripped");
      assert.match(refusal.message, /circuit breaker tripped \(QuorumLost: /);
      assert.equal(asSubmissionRejection(new Error("socket hang up")), undefined);
    });

    it("refuses readings of a feed id that is no deployed feed", async function () {
      const s = await networkHelpers.loadFixture(system);
      const [d0] = s.devices;
      assert.ok(d0 !== undefined);
      const now = await chainTime(ethers);
      const noContract = feedIdOf("0x00000000000000000000000000000000000000f1");
      await rejection(
        submitter(s).submitReadings([await signed(d0, noContract, 1n, 1n, now)]),
        "GATEWAY_UNKNOWN_FEED",
      );
      const notAnAddress: Hex = `0x${"ab".repeat(32)}`;
      await rejection(
        submitter(s).submitReadings([await signed(d0, notAnAddress, 1n, 1n, now)]),
        "GATEWAY_UNKNOWN_FEED",
      );
    });

    it("resynchronises its nonce after another transaction from the same account", async function () {
      const s = await networkHelpers.loadFixture(system);
      const { logger, lines } = memoryLogger();
      const sub = submitter(s, { logger });
      await sub.submitReadings(await round(s, 1n));
      await (await s.watcher.sendTransaction({ to: s.owner.address, value: 1n })).wait();
      await networkHelpers.time.increase(60);
      const result = await sub.submitReadings(await round(s, 2n));
      assert.equal(result.accepted, 7);
      assert.ok(lines.some((l) => l.event === "nonce_resync"));
      assert.equal(
        sub.pendingNonce,
        await ethers.provider.getTransactionCount(s.watcher.address, "pending"),
      );
    });

    it("replaces a transaction that stays unmined with higher fees", async function () {
      const s = await networkHelpers.loadFixture(system);
      const { logger, lines } = memoryLogger();
      const sub = submitter(s, { logger, stuckAfterMs: 40 });
      await connection.provider.request({ method: "evm_setAutomine", params: [false] });
      try {
        const pending = sub.submitReadings(await round(s, 1n));
        await waitFor(() => lines.some((l) => l.event === "tx_replaced"), "a replacement");
        await connection.provider.request({ method: "evm_mine", params: [] });
        const result = await pending;
        assert.equal(result.accepted, 7);
        const replaced = lines.find((l) => l.event === "tx_replaced");
        const sent = lines.find((l) => l.event === "tx_sent");
        assert.equal(replaced?.nonce, sent?.nonce);
        assert.equal(result.txHash, replaced?.txHash, "the replacement is the one mined");
        const mined = await ethers.provider.getTransaction(result.txHash);
        const bumped = BigInt(String(replaced?.maxFeePerGas));
        assert.equal(mined?.maxFeePerGas, bumped);
        // At least +25% over the original (rounded up).
        assert.ok(bumped * 100n >= BigInt(String(sent?.maxFeePerGas)) * 125n);
        const first = await ethers.provider.getTransactionReceipt(String(sent?.txHash));
        assert.equal(first, null, "the original is not mined");
      } finally {
        await connection.provider.request({ method: "evm_setAutomine", params: [true] });
      }
    });
  });

  describe("anchorBatch", function () {
    it("anchors a device-signed batch root; the same batch again is refused for good", async function () {
      const s = await networkHelpers.loadFixture(system);
      const [d0] = s.devices;
      assert.ok(d0 !== undefined);
      const now = await chainTime(ethers);
      const readings = [];
      for (let i = 1n; i <= 5n; i++) {
        readings.push((await signed(d0, s.feedId, i, 20n + i, now - 10n + i)).reading);
      }
      const { batch } = buildReadingBatch(readings);
      const { deviceId: _omit, ...unsigned } = batch;
      const sig = await d0.signer.signReadingBatch(unsigned);
      const sub = submitter(s);
      const tx = await sub.anchorBatch({ batch, key: sig.key, signature: sig.signature });
      assert.match(tx.txHash, /^0x[0-9a-f]{64}$/);
      const anchor = readingAnchorAt(s.anchorAddress, s.watcher);
      assert.equal(await anchor.isAnchored(batch, `0x${"00".repeat(24)}`, []), true);
      assert.equal((await anchor.cursorOf(d0.deviceId, s.feedId)).lastSequence, 5n);
      const err = await rejection(
        sub.anchorBatch({ batch, key: sig.key, signature: sig.signature }),
        "ReadingAnchorSequenceNotAfter",
      );
      assert.match(err.message, /already anchored/);
      await rejection(
        new ChainSubmitter({ signer: s.watcher, logger: quiet }).anchorBatch({
          batch,
          key: sig.key,
          signature: sig.signature,
        }),
        "GATEWAY_NO_ANCHOR",
      );
    });
  });

  describe("anchorBatches", function () {
    it("anchors several devices' batches in one anchorMany transaction; one overlapping an anchored batch is refused, the others anchored", async function () {
      const s = await networkHelpers.loadFixture(system);
      const [d0, d1] = s.devices;
      assert.ok(d0 !== undefined && d1 !== undefined);
      const group: SignedBatch[] = [];
      for (const d of s.devices) group.push((await deviceBatch(s, d, 1n, 5)).signed);
      group.push((await deviceBatch(s, d0, 3n, 5)).signed); // overlaps d0's 1..5
      group.push((await deviceBatch(s, d1, 6n, 5)).signed); // follows d1's 1..5
      const sub = submitter(s);
      const before = await ethers.provider.getTransactionCount(s.watcher.address, "pending");
      const result = await sub.anchorBatches(group);
      assert.equal(sub.pendingNonce, before + 1, "one transaction");
      assert.deepEqual(result.outcomes, [
        ...s.devices.map(() => ({ anchored: true })),
        { anchored: false, reason: "SequenceNotAfter" },
        { anchored: true },
      ]);
      const anchor = readingAnchorAt(s.anchorAddress, s.watcher);
      assert.equal((await anchor.cursorOf(d0.deviceId, s.feedId)).lastSequence, 5n);
      assert.equal((await anchor.cursorOf(d1.deviceId, s.feedId)).lastSequence, 10n);
      const perBatch = result.gasUsed / BigInt(group.length);
      // One `anchor` transaction costs 52,930 gas: sharing the base cost must do better.
      assert.ok(perBatch < 52_930n, `${perBatch.toString()} gas per batch`);
    });

    it("refuses the whole group for good when the call reverts", async function () {
      const s = await networkHelpers.loadFixture(system);
      const [d0] = s.devices;
      assert.ok(d0 !== undefined);
      const { signed: one } = await deviceBatch(s, d0, 1n, 5);
      // The feed is no ReadingAnchor: anchorMany reverts.
      await rejection(
        submitter(s, { anchor: s.feedAddress }).anchorBatches([one]),
        "GATEWAY_REVERTED",
      );
      await rejection(
        new ChainSubmitter({ signer: s.watcher, logger: quiet }).anchorBatches([one]),
        "GATEWAY_NO_ANCHOR",
      );
    });
  });

  describe("with the Gateway and the ReadingAnchor", function () {
    it("anchors the pending batches of 7 devices in one transaction and marks the one the anchor refuses rejected", async function () {
      const s = await networkHelpers.loadFixture(system);
      const [d0] = s.devices;
      assert.ok(d0 !== undefined);
      const sub = submitter(s);
      // Another anchorer took d0's 1..5 first: the gateway's 3..7 overlaps it.
      await sub.anchorBatch((await deviceBatch(s, d0, 1n, 5)).signed);
      const batches = [await deviceBatch(s, d0, 3n, 5)];
      for (const d of s.devices.slice(1)) batches.push(await deviceBatch(s, d, 1n, 5));
      const dbPath = await tempDb();
      await acceptWhileDown(s, dbPath, batches);
      const g = await batchGateway(s, dbPath, sub);
      const nonce = sub.pendingNonce;
      await g.flushNow();
      assert.equal(sub.pendingNonce, (nonce ?? 0) + 1, "one transaction");
      assert.deepEqual(g.readings.batchCounts(), { pending: 0, submitted: 6, rejected: 1 });
      const text = await g.metrics.text();
      assert.match(text, /gateway_submit_errors_total\{kind="rejected"\} 1/);
      await g.flushNow();
      assert.equal(sub.pendingNonce, (nonce ?? 0) + 1, "a rejected batch is not sent again");
      await g.stop();
    });

    it("anchors nothing twice across a restart in the middle of the groups", async function () {
      const s = await networkHelpers.loadFixture(system);
      const batches = [];
      for (const first of [1n, 6n]) {
        for (const d of s.devices) batches.push(await deviceBatch(s, d, first, 5));
      }
      const dbPath = await tempDb();
      await acceptWhileDown(s, dbPath, batches);
      const sub = submitter(s);
      // The first group goes through; the second is mined but the gateway dies before recording
      // it (the call fails after the transaction), so it is still pending at the next start; then
      // the chain is unreachable (stop's last flush sends nothing).
      let calls = 0;
      const dying: ReadingSubmitter = {
        submitReadings: (r) => sub.submitReadings(r),
        anchorBatch: (b) => sub.anchorBatch(b),
        anchorBatches: async (b) => {
          if (++calls > 2) throw new Error("connection refused");
          const result = await sub.anchorBatches(b);
          if (calls === 2) throw new Error("killed before the record");
          return result;
        },
      };
      const a = await batchGateway(s, dbPath, dying, 4);
      await a.flushNow();
      assert.deepEqual(a.readings.batchCounts(), { pending: 10, submitted: 4, rejected: 0 });
      await a.stop();
      const b = await batchGateway(s, dbPath, sub, 4);
      assert.equal(b.queuedBatches, 10);
      await b.flushNow();
      await b.stop();
      // The resent group was refused (SequenceNotAfter) and recognised as anchored before.
      const store = new GatewayStore(dbPath);
      assert.deepEqual(store.batchCounts(), { pending: 0, submitted: 14, rejected: 0 });
      store.close();
      const anchor = readingAnchorAt(s.anchorAddress, s.watcher);
      const events = await anchor.queryFilter(anchor.filters.BatchAnchored());
      assert.equal(events.length, 14, "each batch anchored once");
      assert.equal(new Set(events.map((e) => e.args.batchHash)).size, 14);
      for (const d of s.devices) {
        assert.equal((await anchor.cursorOf(d.deviceId, s.feedId)).lastSequence, 10n);
      }
    });
  });

  describe("with the Gateway over MQTT", function () {
    it("streams 7 devices through aedes into the feed, keys checked against the registry", async function () {
      const s = await networkHelpers.loadFixture(system);
      const broker = await startEmbeddedBroker({ port: 0 });
      const g = gateway({
        brokerUrl: broker.url,
        dbPath: await tempDb(),
        submitter: submitter(s),
        directory: chainDirectory(s.registryAddress, s.proofsAddress, s.watcher),
        domain: s.domain,
        // One transaction for the round (a slow machine could otherwise commit a smaller quorum first).
        batchSize: 7,
        batchIntervalMs: 60_000,
        // Readings are dated by the chain, whose clock the tests move ahead of this machine's.
        maxClockSkewMs: 30 * 86_400_000,
      });
      const publisher = await DevicePublisher.connect(broker.url);
      try {
        await g.start();
        for (const r of await round(s, 1n)) await publisher.publish(r);
        await waitFor(() => g.readings.counts().submitted === 7, "7 submitted readings");
        const answer = await feedAt(s.feedAddress, s.watcher).latestRoundData();
        assert.equal(answer.answer, 2_003n * 10n ** 8n);
      } finally {
        await publisher.close();
        await g.stop();
        await broker.close();
      }
    });
  });
});

import {
  checkBatch,
  decodeBatch,
  type SignedReading,
  type WatchedMessage,
  decodeReading,
} from "../../src/protocol/index.js";
import assert from "node:assert/strict";
import { connectAsync } from "mqtt";
import { pino } from "pino";
import {
  checkHonestValues,
  Fleet,
  FleetClockStalledError,
  simulateFleet,
  startEmbeddedBroker,
  type EmbeddedBroker,
  type FleetWait,
} from "../../src/gateway/index.js";
import { runGateway } from "../../src/app/index.js";
import { feedAt } from "../../src/client/index.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { ethers, networkHelpers } from "../client/fixture.js";
import { chainTime, deployFeedSystem, type FeedSystem } from "../client/feed-fixture.js";
import { DOMAIN, FEED, tempDb } from "../watchtower/helpers.js";
import { FakeFeeds, gateway, slotOf, waitFor } from "./helpers.js";

/** Everything published on the broker's reading and batch topics. */
async function listen(broker: EmbeddedBroker) {
  const client = await connectAsync(broker.url);
  const readings: SignedReading[] = [];
  const batches: Buffer[] = [];
  client.on("message", (topic, payload) => {
    if (topic.endsWith("/reading")) readings.push(decodeReading(payload));
    else batches.push(payload);
  });
  await client.subscribeAsync(["dt/devicetrust/+/+/reading", "dt/devicetrust/+/+/batch"], {
    qos: 1,
  });
  return { readings, batches, close: () => client.endAsync() };
}

async function feedSystem() {
  return deployFeedSystem(ethers);
}

/** How far ahead of the wall clock the test chain's clock may be (the tests move it). */
const CHAIN_SKEW_MS = 30 * 86_400_000;

/**
 * The fixture's devices, each in a signer with a fresh signing record: every test runs on its own
 * snapshot of the chain, where the devices have signed nothing yet (the fixture's signers remember what
 * the previous test signed, on its chain).
 */
function freshSigners(s: FeedSystem): DeviceSigner[] {
  return s.devices.map((d) => new DeviceSigner(d.store, d.signer.domain, d.deviceId));
}

describe("checkHonestValues", function () {
  const range = { minValue: -10n, maxValue: 100n };
  it("passes values whose every device stays in the feed's range, either step sign", function () {
    checkHonestValues(0n, 10n, 11, range);
    checkHonestValues(100n, -11n, 11, range);
  });
  it("refuses the first or the last device's value outside the range, with the range in the sentence", function () {
    assert.throws(
      () => checkHonestValues(-11n, 1n, 3, range),
      /outside the feed's range -10\.\.100/,
    );
    assert.throws(() => checkHonestValues(95n, 1n, 7, range), /honest readings at 95\.\.101/);
  });
});

describe("Fleet", function () {
  let broker: EmbeddedBroker;
  beforeEach(async function () {
    broker = await startEmbeddedBroker({ port: 0 });
  });
  afterEach(async function () {
    await broker.close();
  });

  describe("simulateFleet", function () {
    it("publishes one reading per device and round from both curves, paced to the rate", async function () {
      const heard = await listen(broker);
      const started = Date.now();
      const report = await simulateFleet({
        brokerUrl: broker.url,
        feedId: FEED,
        domain: DOMAIN,
        count: 6,
        rounds: 3,
        rate: 100,
        connections: 2,
      });
      const elapsed = Date.now() - started;
      assert.deepEqual(
        [report.devices, report.p256, report.secp256k1, report.readings, report.clones],
        [6, 3, 3, 18, 0],
      );
      // 6 readings per round at 100/s: each round spans at least 50 ms.
      assert.ok(elapsed >= 150, `paced: ${String(elapsed)} ms`);
      await waitFor(() => heard.readings.length === 18, "18 readings at the broker");
      await heard.close();
      const devices = new Set(heard.readings.map((r) => r.reading.deviceId));
      assert.equal(devices.size, 6);
      for (const id of devices) {
        const seqs = heard.readings
          .filter((r) => r.reading.deviceId === id)
          .map((r) => r.reading.sequence);
        assert.deepEqual(seqs, [1n, 2n, 3n]);
      }
    });

    it("injects a clone, out-of-bounds values and a burst; the gateway sees them", async function () {
      const feeds = new FakeFeeds();
      const mirrored: WatchedMessage[] = [];
      const g = gateway({
        brokerUrl: broker.url,
        dbPath: await tempDb(),
        submitter: feeds,
        sink: (m) => {
          mirrored.push(m);
          return Promise.resolve();
        },
      });
      await g.start();
      try {
        const report = await simulateFleet({
          brokerUrl: broker.url,
          feedId: FEED,
          domain: DOMAIN,
          count: 4,
          rounds: 1,
          clones: 1,
          outOfBounds: 2,
          outOfBoundsValue: -(10n ** 20n),
          bursts: 1,
          burstReadings: 3,
          burstJumpBps: 5_000,
        });
        assert.deepEqual(
          [report.readings, report.clones, report.outOfBounds, report.bursts],
          [4, 1, 2, 3],
        );
        // Ten from the wire, and the clone's conflict shows the watchtower the original once more.
        const wire = (): WatchedMessage[] => mirrored.filter((m) => m.origin !== "store");
        await waitFor(() => wire().length === 10, "10 messages mirrored");
        await g.flushNow();
        assert.equal(mirrored.length - wire().length, 1);
        const bySlot = new Map<string, WatchedMessage[]>();
        for (const m of wire()) bySlot.set(slotOf(m), [...(bySlot.get(slotOf(m)) ?? []), m]);
        const conflicting = [...bySlot.values()].filter((ms) => ms.length === 2);
        assert.equal(conflicting.length, 1, "the clone reused a sequence");
        const [a, b] = conflicting[0] ?? [];
        assert.notEqual(a?.reading.value, b?.reading.value);
        assert.equal(
          wire().filter((m) => m.reading.value === -(10n ** 20n)).length,
          2,
          "two out-of-bounds readings",
        );
        const burst = wire().filter((m) => m.reading.value >= 3_000n * 10n ** 8n);
        assert.equal(burst.length, 3);
        assert.equal(new Set(burst.map((m) => m.reading.timestamp)).size, 1, "one second");
        // The gateway stores the honest reading and refuses the clone's conflicting one.
        assert.equal(g.readings.counts().submitted, 9);
      } finally {
        await g.stop();
      }
    });

    it("publishes signed batches in batch mode", async function () {
      const heard = await listen(broker);
      const report = await simulateFleet({
        brokerUrl: broker.url,
        feedId: FEED,
        domain: DOMAIN,
        count: 2,
        rounds: 2,
        batchSize: 16,
      });
      assert.deepEqual([report.batches, report.readings], [4, 64]);
      await waitFor(() => heard.batches.length === 4, "4 batches");
      await heard.close();
      for (const payload of heard.batches) {
        const decoded = decodeBatch(payload);
        assert.equal(checkBatch(decoded), null);
        assert.equal(decoded.batch.count, 16n);
      }
    });

    it("refuses injections beyond the fleet and a fleet without a domain", async function () {
      await assert.rejects(
        simulateFleet({ brokerUrl: broker.url, feedId: FEED, domain: DOMAIN, count: 2, clones: 3 }),
        { code: "INVALID_INPUT", message: /clones 3 exceeds the fleet's 2 devices/ },
      );
      await assert.rejects(Fleet.create({ brokerUrl: broker.url, feedId: FEED }), {
        code: "INVALID_INPUT",
      });
      await assert.rejects(
        Fleet.create({ brokerUrl: broker.url, feedId: FEED, domain: DOMAIN, minInterval: -1n }),
        { code: "INVALID_INPUT", message: /minInterval must be at least 0 seconds, not -1/ },
      );
    });
  });

  describe("publishRound with minInterval", function () {
    it("waits on the clock so that each device's readings are minInterval apart; injections do not wait", async function () {
      const heard = await listen(broker);
      // A clock 50 times faster than real time: a 5 s interval passes in about 100 ms.
      const t0 = Date.now();
      const clock = () => 1_000n + BigInt(Math.floor((Date.now() - t0) / 20));
      const waits: FleetWait[] = [];
      const fleet = await Fleet.create({
        brokerUrl: broker.url,
        feedId: FEED,
        domain: DOMAIN,
        count: 3,
        clock,
        minInterval: 5n,
        clockPollMs: 5,
        onWait: (w) => waits.push(w),
      });
      try {
        for (let r = 0; r < 3; r++) await fleet.publishRound();
        // Rounds 1 and 2 (FleetWait counts from 0) come sooner than 5 s after the one before (unless
        // it took 100 ms): the fleet waits there, never in round 0 (no previous reading).
        assert.ok(waits.length > 0, "the fleet waited for minInterval");
        assert.ok(waits.every((w) => w.round === 1 || w.round === 2));
        for (const w of waits) {
          assert.equal(w.minInterval, 5n);
          assert.ok(w.clock < w.due);
        }
        const waited = waits.length;
        const burst = await fleet.injectBurst(0, 2);
        await fleet.injectOutOfBounds(1);
        assert.equal(waits.length, waited, "the injections did not wait");
        // The burst is dated like the device's last reading: within minInterval of it, on purpose.
        assert.equal(burst[0]?.reading.timestamp, burst[1]?.reading.timestamp);
        await waitFor(() => heard.readings.length === 12, "12 readings at the broker");
        for (const d of fleet.devices) {
          const honest = heard.readings
            .filter((r) => r.reading.deviceId === d.signer.deviceId && r.reading.sequence <= 3n)
            .sort((a, b) => Number(a.reading.sequence - b.reading.sequence))
            .map((r) => r.reading.timestamp);
          assert.equal(honest.length, 3);
          for (let i = 1; i < honest.length; i++) {
            assert.ok(
              (honest[i] ?? 0n) >= (honest[i - 1] ?? 0n) + 5n,
              `device ${String(d.index)}: ${honest.join(", ")} are 5 s apart at least`,
            );
          }
        }
      } finally {
        await fleet.close();
        await heard.close();
      }
    });

    it("fails with a sentence instead of waiting forever on a clock that does not move", async function () {
      const fleet = await Fleet.create({
        brokerUrl: broker.url,
        feedId: FEED,
        domain: DOMAIN,
        count: 2,
        clock: () => 1_000n,
        minInterval: 1n,
        clockPollMs: 10,
        clockGraceMs: 100,
      });
      try {
        await fleet.publishRound();
        const started = Date.now();
        await assert.rejects(fleet.publishRound(), (err: unknown) => {
          assert.ok(err instanceof FleetClockStalledError);
          assert.equal(err.code, "INVALID_INPUT");
          assert.deepEqual(
            [err.deviceId, err.minInterval, err.due, err.clock],
            [fleet.devices[0]?.signer.deviceId, 1n, 1_001n, 1_000n],
          );
          assert.match(
            err.message,
            /^the feed's minInterval is 1 s: the next reading of device 0x[0-9a-f]{64} is due at 1001, but the clock is at 1000 after \d+\.\d s of waiting .*; run the rounds further apart or with --rate/,
          );
          return true;
        });
        // minInterval (1 s) + clockGraceMs (100 ms), not forever.
        const waited = Date.now() - started;
        assert.ok(waited >= 1_100 && waited < 5_000, `waited ${String(waited)} ms`);
      } finally {
        await fleet.close();
      }
    });
  });

  describe("with registered devices, the chain gateway and its watchtower", function () {
    it("streams into the feed; the clone is proven; a burst quarantines its device, not the feed", async function () {
      const s = await networkHelpers.loadFixture(feedSystem);
      const running = await runGateway({
        registry: s.registryAddress,
        proofs: s.proofsAddress,
        anchor: s.anchorAddress,
        signer: s.watcher,
        brokerUrl: broker.url,
        dbPath: await tempDb(),
        batchIntervalMs: 20,
        httpPort: false,
        logger: pino({ level: "silent" }),
        submitter: { pollMs: 10 },
        watchtower: { dbPath: await tempDb(), signer: s.loss },
        handleSignals: false,
        // Readings are dated by the chain, whose clock the tests move ahead of this machine's.
        admission: { maxClockSkewMs: CHAIN_SKEW_MS },
      });
      const base = await chainTime(ethers);
      const started = Date.now();
      const fleet = await Fleet.create({
        brokerUrl: broker.url,
        feedId: s.feedId,
        signers: freshSigners(s),
        clock: () => base + BigInt(Math.floor((Date.now() - started) / 1000)),
      });
      const feed = feedAt(s.feedAddress, s.watcher);
      try {
        await fleet.publishRound();
        await waitFor(() => running.gateway.readings.counts().submitted === 7, "7 submitted");
        // One transaction commits the median of all seven (device 3's value). Under load the gateway may
        // send the round in two; the first that reaches the quorum commits, and the second moves the
        // median less than the threshold: the answer is then the median of the first four or more.
        const first = await feed.latestRoundData();
        const readings = (await feed.roundAt(first.roundId)).readings;
        assert.ok(readings >= 4n, `round ${first.roundId.toString()} took ${readings.toString()}`);
        if (readings === 7n) assert.equal(first.answer, 2_000_03n * 10n ** 6n);
        else {
          assert.ok(first.answer >= 2_000_00n * 10n ** 6n && first.answer <= 2_000_06n * 10n ** 6n);
        }

        const { clone } = await fleet.injectClone(0);
        const wt = running.watchtower;
        assert.ok(wt !== null);
        await waitFor(
          () => wt.watchtower.evidence.proofs().some((p) => p.status === "submitted"),
          "the equivocation proof",
        );
        const proof = wt.watchtower.evidence.proofs()[0];
        assert.equal(proof?.kind, "equivocation");
        assert.equal(proof.deviceId, clone.reading.deviceId);

        // Two readings within the feed's 10 s minimum interval of the device's last one: the first
        // quarantines device 1 (TooFrequent), the second is refused (Quarantined); the feed is not tripped.
        await fleet.injectBurst(1, 2, 5_000);
        // Under load the two readings may go out in two transactions, each waiting for its receipt.
        await waitFor(() => running.gateway.readings.counts().rejected === 2, "the burst", 30_000);
        // Neither reading of the burst counts as submitted: each is rejected with the feed's reason.
        assert.deepEqual(await running.gateway.readings.rejectionReasons(), {
          "MemberQuarantined:TooFrequent": 1,
          Quarantined: 1,
        });
        assert.equal(running.gateway.readings.counts().submitted, 7);
        const burster = s.devices[1]?.deviceId ?? "";
        const quarantine = await feed.quarantineOf(burster);
        assert.equal(quarantine.anomaly, 1n, "TooFrequent");
        assert.notEqual(quarantine.since, 0n);
        assert.equal(await feed.tripReason(), 0n);
        assert.equal(
          (await feed.latestRoundData()).answer,
          first.answer,
          "the quarantine moved nothing",
        );
        // The gateway's /metrics serves the submitter's quarantine counter.
        const metrics = await running.gateway.metrics.text();
        assert.match(
          metrics,
          /^gateway_feed_member_quarantined_total\{anomaly="TooFrequent"\} 1$/m,
        );
      } finally {
        await fleet.close();
        const summary = await running.stop();
        // Submitted means accepted by the feed: the burst's two readings are rejected, with why.
        const counts = summary.readings;
        assert.ok(counts !== null);
        assert.deepEqual([counts.submitted, counts.rejected], [7, 2]);
        assert.deepEqual(summary.refused, { "MemberQuarantined:TooFrequent": 1, Quarantined: 1 });
        assert.deepEqual(summary.watchtower, { proofs: 1 });
      }
    });

    it("keeps the feed's minInterval over several rounds: no honest device is quarantined; a burst still is", async function () {
      const s = await networkHelpers.loadFixture(feedSystem);
      const feed = feedAt(s.feedAddress, s.watcher);
      const { minInterval } = await feed.config();
      assert.equal(minInterval, 10n);
      const running = await runGateway({
        registry: s.registryAddress,
        proofs: s.proofsAddress,
        signer: s.watcher,
        brokerUrl: broker.url,
        dbPath: await tempDb(),
        batchIntervalMs: 20,
        httpPort: false,
        logger: pino({ level: "silent" }),
        submitter: { pollMs: 10 },
        handleSignals: false,
        // Readings are dated by the chain, whose clock the tests move ahead of this machine's.
        admission: { maxClockSkewMs: CHAIN_SKEW_MS },
      });
      // The fleet's clock is the chain's latest block time, which moves here only because the test
      // mines (a second per block, some 30 blocks a second), as a live network's blocks would.
      let now = await chainTime(ethers);
      const ticking = new AbortController();
      const ticker = (async () => {
        while (!ticking.signal.aborted) {
          await ethers.provider.send("evm_increaseTime", [1]);
          await ethers.provider.send("evm_mine", []);
          now = await chainTime(ethers);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const waits: FleetWait[] = [];
      const fleet = await Fleet.create({
        brokerUrl: broker.url,
        feedId: s.feedId,
        signers: freshSigners(s),
        clock: () => now,
        minInterval,
        clockPollMs: 10,
        onWait: (w) => waits.push(w),
      });
      try {
        for (let r = 0; r < 3; r++) await fleet.publishRound();
        assert.ok(waits.length > 0, "the fleet waited for minInterval");
        assert.ok(waits.every((w) => w.round === 1 || w.round === 2));
        await waitFor(() => running.gateway.readings.counts().submitted === 21, "21 submitted");
        assert.equal(await feed.quarantinedCount(), 0n, "no honest device quarantined");
        for (const d of s.devices) assert.equal(await feed.sequenceOf(d.deviceId), 3n);
        assert.equal(await feed.tripReason(), 0n);

        // Two readings of device 2 with one timestamp (no jump): the second at the latest comes within
        // 10 s of the device's previous reading and quarantines it as TooFrequent.
        await fleet.injectBurst(2, 2, 0);
        await waitFor(() => running.gateway.readings.counts().rejected === 2, "the burst");
        assert.equal(running.gateway.readings.counts().submitted, 21, "the burst is not submitted");
        const burster = s.devices[2]?.deviceId ?? "";
        assert.equal((await feed.quarantineOf(burster)).anomaly, 1n, "TooFrequent");
        assert.equal(await feed.quarantinedCount(), 1n, "only the burster");
      } finally {
        ticking.abort();
        await ticker;
        await fleet.close();
        await running.stop();
      }
    });
  });
});

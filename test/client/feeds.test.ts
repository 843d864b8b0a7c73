import assert from "node:assert/strict";
import {
  ContractError,
  addFeedDevices,
  changeStatus,
  checkFeedConfig,
  decodeFeedError,
  feedAddressOf,
  feedCall,
  feedIdOf,
  readFeed,
  registryAt,
  showFeed,
  stakingAt,
} from "../../src/client/index.js";
import { ethers, networkHelpers } from "./fixture.js";
import { FEED_CONFIG, chainTime, deployFeedSystem, type FeedSystem } from "./feed-fixture.js";

async function system(): Promise<FeedSystem> {
  return deployFeedSystem(ethers, { devices: 5 });
}

async function submitAll(s: FeedSystem, sequence: bigint, skip = -1): Promise<void> {
  const now = await chainTime(ethers);
  const readings = [];
  for (const [i, d] of s.devices.entries()) {
    if (i === skip) continue;
    const r = await d.signer.signReading({
      feedId: s.feedId,
      sequence,
      timestamp: now,
      value: (20n + BigInt(i)) * 10n ** 8n,
    });
    readings.push({ reading: r.message, key: r.key, signature: r.signature });
  }
  await (await s.feed.connect(s.watcher).submitMany(readings)).wait();
}

describe("client: feeds", function () {
  describe("feedIdOf and feedAddressOf", function () {
    it("pads a feed address to its bytes32 id and back", function () {
      const address = "0x00000000000000000000000000000000000000f1";
      const id = feedIdOf(address.toUpperCase().replace("0X", "0x"));
      assert.equal(id, `0x${"0".repeat(24)}${address.slice(2)}`);
      assert.equal(feedAddressOf(id), address);
      assert.throws(() => feedAddressOf(`0x${"ab".repeat(32)}`), {
        code: "INVALID_INPUT",
        message: /is not a feed address padded to 32 bytes/,
      });
    });
  });

  describe("checkFeedConfig", function () {
    it("refuses each field outside its Solidity type or the feed's rules, with the option's name", function () {
      const cases: [Partial<typeof FEED_CONFIG>, RegExp][] = [
        [{ quorum: 0 }, /--quorum 0 is outside 1\.\.32/],
        [{ quorum: 33 }, /--quorum 33/],
        [{ decimals: 256 }, /--decimals 256/],
        [{ maxDeviationBps: 70_000 }, /--max-deviation-bps 70000/],
        [{ maxReadingAge: 0 }, /--max-reading-age 0/],
        [{ minInterval: -1 }, /--min-interval -1/],
        [{ maxAttestationAge: 2 ** 32 }, /--max-attestation-age 4294967296/],
        [{ minStake: 2n ** 96n }, /--min-stake/],
        [{ minValue: -(2n ** 127n) - 1n }, /--min-value/],
        [{ minValue: 5n, maxValue: 4n }, /--min-value 5 is above --max-value 4/],
        [{ description: " " }, /describe the feed/],
      ];
      for (const [change, message] of cases) {
        assert.throws(() => checkFeedConfig({ ...FEED_CONFIG, ...change }), {
          code: "INVALID_INPUT",
          message,
        });
      }
      assert.deepEqual(checkFeedConfig(FEED_CONFIG), FEED_CONFIG);
    });
  });

  describe("showFeed", function () {
    it("says whose readings count and which can be evicted (no longer trusted or staked)", async function () {
      const s = await networkHelpers.loadFixture(system);
      await submitAll(s, 1n, 4);
      // Device 1 is suspended by governance: no longer trusted; its fresh reading counts until evicted.
      const suspended = s.devices[1];
      assert.ok(suspended !== undefined);
      await changeStatus(
        registryAt(s.registryAddress, s.governance),
        suspended.deviceId,
        "suspend",
        "maintenance",
      );
      const deps = {
        registry: registryAt(s.registryAddress, s.watcher),
        staking: stakingAt(s.stakingAddress, s.watcher),
      };
      const view = await showFeed(s.feed, deps);
      assert.equal(view.members.length, 5);
      assert.deepEqual(
        view.members.map((m) => [m.status, m.trusted, m.staked, m.counts, m.evictable]),
        [
          ["Active", true, true, true, false],
          ["Suspended", false, true, true, true],
          ["Active", true, true, true, false],
          ["Active", true, true, true, false],
          ["Active", true, true, false, false], // no reading yet
        ],
      );
      assert.equal(view.members[4]?.value, null);
      const third = view.members[2];
      assert.deepEqual([third?.value, third?.sequence], [22n * 10n ** 8n, 1n]);
      // The cheapest 3 of 5 stakes: 1000 + 1100 + 1200.
      assert.equal(view.costOfCorruption, 3_300n);
      assert.equal(view.feedId, s.feedId);
      assert.equal(view.owner, s.owner.address.toLowerCase());
      assert.equal(view.status, "answering");
      // Four fresh readings (20, 21, 22, 23): the median is 21.5.
      assert.equal(view.answer?.answer, 2_150_000_000n);
      assert.equal(view.answer.value, "21.5");
      // Evicted, the suspended device's reading stops counting: below the quorum of 4.
      await (await s.feed.connect(s.watcher).evict(suspended.deviceId)).wait();
      const after = await showFeed(s.feed, deps);
      assert.deepEqual(
        [after.members[1]?.counts, after.members[1]?.evictable, after.answer],
        [false, false, null],
      );
      assert.match(after.status, /^DeviceFeedNoQuorum\(3, 4\): only 3 member devices/);
    });
  });

  describe("readFeed", function () {
    it("answers through latestRoundData or readFresh, and refuses a non-positive max age", async function () {
      const s = await networkHelpers.loadFixture(system);
      await submitAll(s, 1n);
      const latest = await readFeed(s.feed);
      assert.equal(latest.method, "latestRoundData");
      assert.equal(latest.roundId, 5n);
      assert.equal(latest.answer, 22n * 10n ** 8n);
      assert.equal(latest.description, FEED_CONFIG.description);
      await networkHelpers.time.increase(120);
      const stale = await readFeed(s.feed, { maxAge: 60n }).catch((err: unknown) => err);
      assert.ok(stale instanceof ContractError);
      assert.equal(stale.code, "DeviceFeedNoQuorum");
      assert.match(stale.message, /only 0 member devices have a fresh reading, the feed needs 4/);
      await assert.rejects(readFeed(s.feed, { maxAge: 0n }), { code: "INVALID_INPUT" });
    });
  });

  describe("decodeFeedError", function () {
    it("names the rejection of a reading and leaves other errors alone", async function () {
      const s = await networkHelpers.loadFixture(system);
      const d = s.devices[0];
      assert.ok(d !== undefined);
      const now = await chainTime(ethers);
      const r = await d.signer.signReading({
        feedId: s.feedId,
        sequence: 1n,
        timestamp: now,
        value: 10n ** 30n,
      });
      const err = await feedCall(() =>
        s.feed.connect(s.watcher).submit.staticCall(r.message, r.key, r.signature),
      ).catch((e: unknown) => e);
      assert.ok(err instanceof ContractError);
      assert.equal(err.code, "DeviceFeedRejected");
      assert.match(err.message, /\(OutOfBounds\): the value is outside the feed's physical bounds/);
      assert.equal(decodeFeedError(new Error("socket hang up")), undefined);
    });
  });

  describe("addFeedDevices", function () {
    it("needs at least one device id", async function () {
      const s = await networkHelpers.loadFixture(system);
      await assert.rejects(addFeedDevices(s.feed, []), { code: "INVALID_INPUT" });
    });
  });
});

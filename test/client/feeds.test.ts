import assert from "node:assert/strict";
import {
  ContractError,
  EXPLAINED_FEED_ERRORS,
  addFeedDevices,
  changeStatus,
  checkFeedConfig,
  completeFeedLeave,
  corruptionSentence,
  createFeed,
  decodeFeedError,
  defaultHeartbeat,
  defaultQuarantinePeriod,
  feedAddressOf,
  feedAt,
  feedCall,
  feedContractError,
  feedFactoryAt,
  feedIdOf,
  joinFeed,
  readFeed,
  readFeedRound,
  readmitFeedMember,
  registryAt,
  requestFeedLeave,
  showFeed,
  stakingAt,
} from "../../src/client/index.js";
import { DeviceFeed__factory, IDeviceFeed__factory } from "../../types/ethers-contracts/index.js";
import { ethers, networkHelpers } from "./fixture.js";
import {
  FEED_CONFIG,
  chainTime,
  deployFeedSystem,
  reattest,
  type FeedSystem,
} from "./feed-fixture.js";
import { cloneOf } from "../watchtower/helpers.js";

async function system(): Promise<FeedSystem> {
  return deployFeedSystem(ethers, { devices: 5 });
}

/**
 * Readings here are signed by clones of the fixture's signers (cloneOf): those outlive the chain
 * snapshots the tests revert to, and each test signs the same sequences again on its snapshot.
 */

/** One reading per device (but `skip`) at the chain's time: (20 + i) x 1e8, plus `offset`. */
async function submitAll(s: FeedSystem, sequence: bigint, skip = -1, offset = 0n): Promise<void> {
  const now = await chainTime(ethers);
  const readings = [];
  for (const [i, d] of s.devices.entries()) {
    if (i === skip) continue;
    const r = await cloneOf(d.signer).signReading({
      feedId: s.feedId,
      sequence,
      timestamp: now,
      value: (20n + BigInt(i)) * 10n ** 8n + offset,
    });
    readings.push({ reading: r.message, key: r.key, signature: r.signature });
  }
  await (await s.feed.connect(s.watcher).submitMany(readings)).wait();
}

/** Device `index` submits one reading alone (submit: a quarantine returns false, it does not revert). */
async function submitOne(
  s: FeedSystem,
  index: number,
  sequence: bigint,
  value: bigint,
): Promise<void> {
  const d = s.devices[index];
  assert.ok(d !== undefined);
  const r = await cloneOf(d.signer).signReading({
    feedId: s.feedId,
    sequence,
    timestamp: await chainTime(ethers),
    value,
  });
  await (await s.feed.connect(s.watcher).submit(r.message, r.key, r.signature)).wait();
}

async function caught(promise: Promise<unknown>): Promise<ContractError> {
  const err = await promise.catch((e: unknown) => e);
  assert.ok(err instanceof ContractError, `not a ContractError: ${String(err)}`);
  return err;
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
        [{ maxSpreadBps: 65_536 }, /--max-spread-bps 65536/],
        [{ deviationThresholdBps: -1 }, /--deviation-threshold-bps -1/],
        [{ heartbeat: 3_601 }, /--heartbeat 3601 is above --max-reading-age 3600/],
        [{ quarantinePeriod: 2 ** 32 }, /--quarantine-period 4294967296/],
        [{ maxQuarantines: 256 }, /--max-quarantines 256/],
        [{ maxQuarantines: 0 }, /--max-quarantines 0 is outside 1\.\.255/],
        [{ quarantinePeriod: 3_599 }, /--quarantine-period 3599 is below --max-reading-age 3600/],
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
      assert.deepEqual(checkFeedConfig({ ...FEED_CONFIG, heartbeat: 3_600 }).heartbeat, 3_600);
      assert.equal(defaultHeartbeat(3_601), 1_800);
      assert.deepEqual(
        [defaultQuarantinePeriod(3_600), defaultQuarantinePeriod(6 * 86_400)],
        [86_400, 6 * 86_400],
      );
    });

    it("is what the feed stores: config() reads every field back", async function () {
      const s = await networkHelpers.loadFixture(system);
      const view = await showFeed(s.feed, {
        registry: registryAt(s.registryAddress, s.watcher),
        staking: stakingAt(s.stakingAddress, s.watcher),
      });
      assert.deepEqual(view.config, FEED_CONFIG);
    });
  });

  describe("showFeed", function () {
    it("says whose readings count and which can be evicted (no longer trusted or staked)", async function () {
      const s = await networkHelpers.loadFixture(system);
      await submitAll(s, 1n, 4);
      const committedAt = await chainTime(ethers);
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
      assert.ok(view.members.every((m) => m.quarantine === null));
      const third = view.members[2];
      assert.deepEqual(
        [third?.answer, third?.value, third?.sequence],
        [22n * 10n ** 8n, "22.0", 1n],
      );
      // One operator runs all 5: corrupting the median takes its whole group, 1000 + ... + 1400.
      assert.equal(view.costOfCorruption, 6_000n);
      assert.equal(view.operatorsToControl, 1n);
      assert.match(view.corruption, /^ONE operator controls the median alone; /);
      assert.deepEqual(
        view.members.map((m) => [m.operator, m.active]),
        s.devices.map((_, i) => [s.operator.address.toLowerCase(), 1_000n + BigInt(i) * 100n]),
      );
      assert.equal(view.feedId, s.feedId);
      assert.equal(view.owner, s.owner.address.toLowerCase());
      assert.deepEqual(
        [view.status, view.tripped, view.tripReason, view.quarantined],
        ["answering", false, "None", 0],
      );
      // Four fresh readings (20, 21, 22, 23) committed round 1: the median is 21.5.
      const round = view.latestRound;
      assert.ok(round !== null);
      assert.deepEqual(
        [round.roundId, round.answer, round.value, round.readings, round.updatedAt],
        [1n, 2_150_000_000n, "21.5", 4, committedAt],
      );
      assert.match(round.age, /^\d+s ago$/);
      assert.ok(round.startedAt < round.updatedAt, "the readings were signed before");
      // Evicted, the suspended device's reading stops counting; the committed round stays.
      await (await s.feed.connect(s.watcher).evict(suspended.deviceId)).wait();
      const after = await showFeed(s.feed, deps);
      assert.deepEqual([after.members[1]?.counts, after.members[1]?.evictable], [false, false]);
      assert.equal(after.latestRound?.answer, 2_150_000_000n);
      // A round older than maxReadingAge still answers latestRoundData, but not readFresh.
      await networkHelpers.time.increase(FEED_CONFIG.maxReadingAge);
      const stale = await showFeed(s.feed, deps);
      assert.equal(stale.latestRound?.roundId, 1n);
      assert.match(
        stale.status,
        /^DeviceFeedStale\(1, \d+, 3600\): the latest round 1 rests on a reading from \d+ \(.*\), at least 3600 s old: wait for a newer round/,
      );
    });

    it("shows a quarantined member: its anomaly, since when, when it may be readmitted", async function () {
      const s = await networkHelpers.loadFixture(system);
      const deps = {
        registry: registryAt(s.registryAddress, s.watcher),
        staking: stakingAt(s.stakingAddress, s.watcher),
      };
      await submitAll(s, 1n);
      // Within the 10 s minimum interval of its last reading: device 0 is quarantined, not the feed.
      await networkHelpers.time.increase(2);
      await submitOne(s, 0, 2n, 20n * 10n ** 8n);
      const since = await chainTime(ethers);
      const view = await showFeed(s.feed, deps);
      const first = view.members[0];
      assert.ok(first !== undefined);
      assert.deepEqual(first.quarantine, {
        anomaly: "TooFrequent",
        meaning: "it reported faster than the feed's minInterval",
        since,
        age: "0s ago",
        readmitAfter: since + 86_400n,
      });
      assert.deepEqual(
        [first.answer, first.excluded, first.counts, first.sequence],
        [2_000_000_000n, true, false, 2n],
        "its last accepted reading stays as its reference, excluded",
      );
      assert.ok(view.members.slice(1).every((m) => m.quarantine === null && m.counts));
      assert.deepEqual([view.quarantined, view.tripped, view.status], [1, false, "answering"]);
      // Its quarantined member's cost no longer counts: 1100 + ... + 1400.
      assert.equal(view.costOfCorruption, 5_000n);
    });
  });

  describe("readmitFeedMember", function () {
    it("refuses a quarantined member's readings, readmits it after re-attestation and the cool-off", async function () {
      const s = await networkHelpers.loadFixture(system);
      await submitAll(s, 1n);
      await networkHelpers.time.increase(2);
      await submitOne(s, 0, 2n, 20n * 10n ** 8n);
      const d0 = s.devices[0];
      assert.ok(d0 !== undefined);
      const late = await cloneOf(d0.signer).signReading({
        feedId: s.feedId,
        sequence: 3n,
        timestamp: await chainTime(ethers),
        value: 20n * 10n ** 8n,
      });
      const refused = await caught(
        feedCall(() =>
          s.feed.connect(s.watcher).submit.staticCall(late.message, late.key, late.signature),
        ),
      );
      assert.equal(refused.code, "DeviceFeedRejected");
      assert.match(
        refused.message,
        /\(Quarantined\): the device is quarantined in this feed .*attest the device again, then readmit it \(feed readmit\)/,
      );
      const anyone = feedAt(s.feedAddress, s.watcher);
      const early = await caught(readmitFeedMember(anyone, d0.deviceId));
      assert.equal(early.code, "DeviceFeedCoolingOff");
      assert.match(
        early.message,
        /cooling off after its quarantine: readmit after \d+ \(\d{4}-.*Z\), or ask a guardian/,
      );
      // The owner is a guardian: it may readmit early, but only a device that attested again.
      const owner = feedAt(s.feedAddress, s.owner);
      const unattested = await caught(readmitFeedMember(owner, d0.deviceId));
      assert.equal(unattested.code, "DeviceFeedNotReattested");
      assert.match(
        unattested.message,
        /has not attested since its quarantine at .*: attest the device again \(device attest\), then readmit \(feed readmit\)$/,
      );
      await reattest(ethers, s, d0);
      await networkHelpers.time.increase(86_400);
      const readmitted = await readmitFeedMember(anyone, d0.deviceId);
      assert.deepEqual(
        [readmitted.deviceId, readmitted.by, readmitted.quarantined],
        [d0.deviceId.toLowerCase(), s.watcher.address.toLowerCase(), 0],
      );
      assert.equal((await s.feed.quarantineOf(d0.deviceId)).since, 0n);
      const again = await caught(readmitFeedMember(anyone, d0.deviceId));
      assert.equal(again.code, "DeviceFeedNotQuarantined");
      assert.match(again.message, /is not quarantined in this feed: there is nothing to readmit$/);
      await assert.rejects(readmitFeedMember(anyone, "0x12"), { code: "INVALID_INPUT" });
    });
  });

  describe("readFeed", function () {
    it("answers through latestRoundData or readFresh, and refuses a non-positive max age", async function () {
      const s = await networkHelpers.loadFixture(system);
      const none = await caught(readFeed(s.feed));
      assert.equal(none.code, "DeviceFeedNoRound");
      assert.match(none.message, /the feed has committed no round yet: .*wait for more devices/);
      await submitAll(s, 1n);
      const latest = await readFeed(s.feed);
      assert.equal(latest.method, "latestRoundData");
      assert.equal(latest.roundId, 1n);
      assert.equal(latest.answer, 22n * 10n ** 8n);
      assert.ok(latest.startedAt !== null && latest.startedAt < latest.updatedAt);
      assert.equal(latest.description, FEED_CONFIG.description);
      const fresh = await readFeed(s.feed, { maxAge: 60n });
      assert.deepEqual(
        [fresh.roundId, fresh.startedAt, fresh.answer],
        [null, null, 22n * 10n ** 8n],
      );
      await networkHelpers.time.increase(120);
      const stale = await caught(readFeed(s.feed, { maxAge: 60n }));
      assert.equal(stale.code, "DeviceFeedStale");
      assert.match(
        stale.message,
        /the latest round 1 rests on a reading from .*, at least 60 s old/,
      );
      await assert.rejects(readFeed(s.feed, { maxAge: 0n }), { code: "INVALID_INPUT" });
    });
  });

  describe("readFeedRound", function () {
    it("reads any committed round by id, unchanged by later rounds", async function () {
      const s = await networkHelpers.loadFixture(system);
      await submitAll(s, 1n);
      // Past the 10-minute heartbeat, 1.00 higher each: round 2.
      await networkHelpers.time.increase(FEED_CONFIG.heartbeat);
      await submitAll(s, 2n, -1, 10n ** 8n);
      const first = await readFeedRound(s.feed, 1n);
      assert.deepEqual(
        [first.roundId, first.answer, first.value, first.readings, first.latestRound],
        [1n, 22n * 10n ** 8n, "22.0", 5, 2n],
      );
      assert.ok(first.updatedAt <= (await chainTime(ethers)) - BigInt(FEED_CONFIG.heartbeat));
      const latest = await readFeedRound(s.feed);
      assert.deepEqual([latest.roundId, latest.answer], [2n, 23n * 10n ** 8n]);
      const missing = await caught(readFeedRound(s.feed, 3n));
      assert.equal(missing.code, "DeviceFeedRoundNotAvailable");
      assert.match(missing.message, /round 3 was not committed: committed rounds are 1\.\.2/);
      await assert.rejects(readFeedRound(s.feed, 0n), {
        code: "INVALID_INPUT",
        message: /--id 0 is no round id/,
      });
    });
  });

  describe("decodeFeedError", function () {
    it("names the rejection of a reading and leaves other errors alone", async function () {
      const s = await networkHelpers.loadFixture(system);
      const d = s.devices[0];
      assert.ok(d !== undefined);
      const now = await chainTime(ethers);
      const r = await cloneOf(d.signer).signReading({
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

  describe("showFeed with several operators", function () {
    it("counts the cheapest set of operators holding a majority, and how few control the median", async function () {
      const s = await networkHelpers.loadFixture(system);
      const signers = await ethers.getSigners();
      const [b, c] = [signers[6], signers[7]];
      assert.ok(b !== undefined && c !== undefined);
      // Devices 2 and 3 go to operator b, device 4 to operator c (stake belongs to the device).
      for (const [index, to] of [
        [2, b],
        [3, b],
        [4, c],
      ] as const) {
        const id = s.devices[index]?.deviceId;
        assert.ok(id !== undefined);
        await (
          await registryAt(s.registryAddress, s.operator).startCustodyTransfer(id, to.address)
        ).wait();
        await (await registryAt(s.registryAddress, to).acceptCustody(id)).wait();
      }
      const view = await showFeed(s.feed, {
        registry: registryAt(s.registryAddress, s.watcher),
        staking: stakingAt(s.stakingAddress, s.watcher),
      });
      // 3 of 5 control the median: a (1000 + 1100) with c (1400) is the cheapest, two operators.
      assert.deepEqual([view.costOfCorruption, view.operatorsToControl], [3_500n, 2n]);
      assert.match(
        view.corruption,
        /^2 colluding operators are needed to control the median; .* false values inside the physical range from them are not provable and cost nothing$/,
      );
      assert.equal(
        corruptionSentence(0, 0n),
        "the feed has no members: nothing controls it, and nothing backs it",
      );
    });
  });

  describe("addFeedDevices and joinFeed", function () {
    it("needs at least one device id", async function () {
      const s = await networkHelpers.loadFixture(system);
      await assert.rejects(addFeedDevices(s.feed, []), { code: "INVALID_INPUT" });
      await assert.rejects(joinFeed(s.feed, []), { code: "INVALID_INPUT" });
    });

    it("joins a device its owner operates at once, and invites any other until its operator joins", async function () {
      const s = await networkHelpers.loadFixture(system);
      const [d0, d1] = s.devices;
      assert.ok(d0 !== undefined && d1 !== undefined);
      // A feed the devices' operator owns: adding is consenting.
      const own = await createFeed(feedFactoryAt(s.factoryAddress, s.operator), FEED_CONFIG);
      const joined = await addFeedDevices(feedAt(own.feed, s.operator), [d0.deviceId]);
      assert.deepEqual(
        joined.added.map((a) => a.result),
        ["joined"],
      );
      assert.equal(joined.members, 1);
      assert.match(
        joined.note,
        /^1 joined at once \(the feed's owner operates them, so it consents\)$/,
      );
      // A feed someone else owns: the device is only invited.
      const other = await createFeed(feedFactoryAt(s.factoryAddress, s.owner), FEED_CONFIG);
      const invited = await addFeedDevices(feedAt(other.feed, s.owner), [d0.deviceId, d1.deviceId]);
      assert.deepEqual(
        invited.added.map((a) => a.result),
        ["invited", "invited"],
      );
      assert.equal(invited.members, 0);
      assert.match(
        invited.note,
        /^2 invited: each becomes a member when its operator accepts \(feed join/,
      );
      const stranger = await feedCall(() =>
        joinFeed(feedAt(other.feed, s.watcher), [d0.deviceId]),
      ).catch((e: unknown) => e);
      assert.ok(stranger instanceof ContractError);
      assert.equal(stranger.code, "DeviceFeedNotOperator");
      assert.match(stranger.message, /only its operator joins or leaves a feed for it/);
      const r = await joinFeed(feedAt(other.feed, s.operator), [d0.deviceId, d1.deviceId]);
      assert.deepEqual(
        r.joined.map((j) => j.deviceId),
        [d0.deviceId.toLowerCase(), d1.deviceId.toLowerCase()],
      );
      assert.equal(r.members, 2);
      const again = await joinFeed(feedAt(other.feed, s.operator), [d0.deviceId]).catch(
        (e: unknown) => e,
      );
      assert.ok(again instanceof ContractError);
      assert.equal(again.code, "DeviceFeedAlreadyMember");
      // Never invited: the operator cannot push its device into a feed.
      const third = s.devices[2];
      assert.ok(third !== undefined);
      const uninvited = await joinFeed(feedAt(own.feed, s.operator), [third.deviceId]).catch(
        (e: unknown) => e,
      );
      assert.ok(uninvited instanceof ContractError);
      assert.equal(uninvited.code, "DeviceFeedNotInvited");
      assert.match(
        uninvited.message,
        /its owner adds it first \(feed add-device\), then its operator joins$/,
      );
    });
  });

  describe("requestFeedLeave and completeFeedLeave", function () {
    it("keeps a leaving member for the unbonding period, then anyone completes the leave", async function () {
      const s = await networkHelpers.loadFixture(system);
      const d = s.devices[0];
      assert.ok(d !== undefined);
      const early = await completeFeedLeave(s.feed.connect(s.watcher), d.deviceId).catch(
        (e: unknown) => e,
      );
      assert.ok(early instanceof ContractError);
      assert.equal(early.code, "DeviceFeedNotYetLeaving");
      assert.match(
        early.message,
        /has not asked to leave this feed: its operator requests it first \(feed leave\)$/,
      );
      const request = await requestFeedLeave(feedAt(s.feedAddress, s.operator), d.deviceId);
      const unbonding = (await stakingAt(s.stakingAddress, s.watcher).params()).unbondingPeriod;
      assert.equal(request.leaveAt, (await chainTime(ethers)) + unbonding);
      assert.match(
        request.leaves,
        /^the device stays a member until .* then anyone runs feed complete-leave$/,
      );
      const waiting = await completeFeedLeave(s.feed.connect(s.watcher), d.deviceId).catch(
        (e: unknown) => e,
      );
      assert.ok(waiting instanceof ContractError);
      assert.deepEqual(waiting.args, [d.deviceId.toLowerCase(), request.leaveAt]);
      assert.match(waiting.message, /stays a member until .*: complete the leave then$/);
      assert.equal((await s.feed.members()).length, 5);
      await networkHelpers.time.increaseTo(request.leaveAt);
      const done = await completeFeedLeave(feedAt(s.feedAddress, s.watcher), d.deviceId);
      assert.equal(done.members, 4);
      assert.ok(
        !(await s.feed.members()).map((m) => m.toLowerCase()).includes(d.deviceId.toLowerCase()),
      );
      const notOperator = await requestFeedLeave(
        s.feed.connect(s.watcher),
        s.devices[1]?.deviceId ?? "",
      ).catch((e: unknown) => e);
      assert.ok(notOperator instanceof ContractError);
      assert.equal(notOperator.code, "DeviceFeedNotOperator");
    });
  });

  describe("feed error sentences", function () {
    it("explains every custom error of IDeviceFeed", function () {
      const names = IDeviceFeed__factory.abi
        .filter((e) => e.type === "error")
        .map((e) => (e as { name: string }).name);
      assert.ok(names.length >= 16, String(names.length));
      for (const name of names) {
        assert.ok(EXPLAINED_FEED_ERRORS.includes(name), `${name} has no sentence`);
      }
      assert.ok(!EXPLAINED_FEED_ERRORS.includes("DeviceFeedNoQuorum"), "a removed error");
    });

    it("decodes the quarantine, round and breaker errors from revert data, saying what to do", function () {
      const iface = DeviceFeed__factory.createInterface();
      const device = `0x${"11".repeat(32)}`;
      const decode = (name: string, args: readonly unknown[]) => {
        const err = decodeFeedError({ data: iface.encodeErrorResult(name, args) });
        assert.ok(err !== undefined, name);
        assert.equal(err.code, name);
        return err.message;
      };
      assert.match(
        decode("DeviceFeedCoolingOff", [device, 1_700_000_000n]),
        /cooling off after its quarantine: readmit after 1700000000 \(2023-11-14T22:13:20\.000Z\), or ask a guardian/,
      );
      assert.match(
        decode("DeviceFeedNotReattested", [device, 0n, 1_700_000_000n]),
        /has not attested since its quarantine at 1700000000 .*\(last attestation: never\).*: attest the device again \(device attest\), then readmit/,
      );
      assert.match(decode("DeviceFeedNotQuarantined", [device]), /nothing to readmit/);
      assert.match(decode("DeviceFeedNoRound", []), /committed no round yet/);
      assert.match(
        decode("DeviceFeedStale", [3n, 1_700_000_000n, 600n]),
        /^DeviceFeedStale\(3, 1700000000, 600\): the latest round 3 rests on a reading from .*, at least 600 s old/,
      );
      assert.match(
        decode("DeviceFeedRoundNotAvailable", [5n, 0n]),
        /the feed has committed no round yet$/,
      );
      const trips = [
        [1n, /\(MedianJump: the median of the fresh readings moved more than/],
        [2n, /\(Quarantines: more members were quarantined within maxReadingAge/],
        [3n, /\(QuorumLost: quarantines left fewer members counting than the feed's quorum\)/],
      ] as const;
      for (const [reason, text] of trips) {
        const message = decode("DeviceFeedTripped", [reason]);
        assert.match(message, text);
        assert.match(
          message,
          /latestRoundData still answers the last round committed before the trip/,
        );
      }
      assert.match(
        feedContractError("DeviceFeedRejected", [device, 4n, 10n]).message,
        /reading 4 of device 0x1{64} \(Quarantined\)/,
      );
    });
  });
});

import assert from "node:assert/strict";
import hre from "hardhat";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";
import {
  FEED_DEFAULTS,
  defaultHeartbeat,
  defaultQuarantinePeriod,
} from "../../src/client/index.js";
import { ChainSubmitter } from "../../src/gateway/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { pino } from "pino";
import { chainTime, deployFeedSystem, reattest, type FeedSystem } from "../client/feed-fixture.js";
import { runTask } from "./run-task.js";

describe("tasks: feed", function () {
  let ethers: HardhatEthers;
  let helpers: NetworkHelpers;
  let s: FeedSystem;
  let created: { feed: Hex; feedId: Hex };

  before(async function () {
    ({ ethers, networkHelpers: helpers } = await hre.network.getOrCreate());
    s = await deployFeedSystem(ethers, { devices: 4 });
  });

  const chain = (from: number, json = false) => ({
    registry: s.registryAddress,
    from: String(from),
    json,
  });
  const withFactory = (from: number, json = false) => ({
    ...chain(from, json),
    factory: s.factoryAddress,
  });

  /** Devices `only` (default: all) report base + i x 0.1 at the chain's time, through the gateway's submitter. */
  async function submitRound(
    feedId: Hex,
    sequence: bigint,
    base: bigint,
    only: readonly number[] = s.devices.map((_, i) => i),
  ): Promise<void> {
    const now = await chainTime(ethers);
    const readings = await Promise.all(
      only.map(async (i) => {
        const d = s.devices[i];
        assert.ok(d !== undefined);
        const r = await d.signer.signReading({
          feedId,
          sequence,
          timestamp: now,
          value: base + BigInt(i) * 10n ** 7n,
        });
        return { reading: r.message, key: r.key, signature: r.signature };
      }),
    );
    await new ChainSubmitter({
      signer: s.watcher,
      logger: pino({ level: "silent" }),
    }).submitReadings(readings);
  }

  const pressure = {
    description: "Pressure, line 2 (bar)",
    quorum: 3,
    decimals: 8,
    maxDeviationBps: 500,
    maxSpreadBps: 1_500,
    deviationThresholdBps: 100,
    heartbeat: 300,
    maxReadingAge: 600,
    minInterval: 10,
    maxAttestationAge: 86_400,
    quarantinePeriod: 3_600,
    maxQuarantines: 1,
    lockdown: false,
    minStake: "1000",
    minValue: "-40.5",
    maxValue: "125",
  };

  it("feed create takes every Config field and prints the feed and its id", async function () {
    // The devices stake 1000 to 1300 base units of the collateral: a minimum stake of 1000 (--wei).
    const out = await runTask(["feed", "create"], {
      ...withFactory(3, true),
      ...pressure,
      wei: true,
    });
    assert.equal(out.result.success, true, out.stderr);
    const json = JSON.parse(out.stdout) as {
      feed: Hex;
      feedId: Hex;
      owner: string;
      config: Record<string, string | number>;
    };
    assert.equal(json.feedId, `0x${"0".repeat(24)}${json.feed.slice(2)}`);
    assert.equal(json.owner, s.owner.address.toLowerCase());
    assert.deepEqual(json.config, {
      ...pressure,
      minStake: "1000",
      minValue: "-4050000000",
      maxValue: "12500000000",
    });
    created = json;
  });

  it("feed create defaults the heartbeat to half the reading age, the cool-off to a day or the reading age, and the other options", async function () {
    const out = await runTask(["feed", "create"], {
      ...withFactory(3, true),
      description: "Level, tank 4 (m)",
      minValue: "0",
      maxValue: "12",
    });
    assert.equal(out.result.success, true, out.stderr);
    const { config } = JSON.parse(out.stdout) as { config: Record<string, unknown> };
    assert.deepEqual(
      [
        config.maxReadingAge,
        config.heartbeat,
        config.deviationThresholdBps,
        config.maxSpreadBps,
        config.quarantinePeriod,
        config.maxQuarantines,
        config.lockdown,
      ],
      [
        3_600,
        defaultHeartbeat(3_600),
        FEED_DEFAULTS.deviationThresholdBps,
        FEED_DEFAULTS.maxSpreadBps,
        defaultQuarantinePeriod(3_600),
        FEED_DEFAULTS.maxQuarantines,
        FEED_DEFAULTS.lockdown,
      ],
      "tasks/index.ts states src/client's defaults",
    );
    assert.deepEqual([config.heartbeat, config.quarantinePeriod], [1_800, 86_400]);
    // --min-stake defaults to one token of the collateral (18 decimals), in base units in JSON.
    assert.equal(config.minStake, (10n ** 18n).toString());
    // Readings that live two days: a two-day cool-off (the feed wants at least the reading age).
    const long = await runTask(["feed", "create"], {
      ...withFactory(3, true),
      description: "Level, tank 5 (m)",
      minValue: "0",
      maxValue: "12",
      maxReadingAge: 2 * 86_400,
    });
    assert.equal(long.result.success, true, long.stderr);
    const longConfig = (JSON.parse(long.stdout) as { config: Record<string, unknown> }).config;
    assert.deepEqual([longConfig.heartbeat, longConfig.quarantinePeriod], [86_400, 2 * 86_400]);
    const tooSlow = await runTask(["feed", "create"], {
      ...withFactory(3),
      ...pressure,
      heartbeat: 601,
    });
    assert.equal(tooSlow.result.success, false);
    assert.match(
      tooSlow.stderr,
      /Error INVALID_INPUT: --heartbeat 601 is above --max-reading-age 600/,
    );
  });

  it("feed create reads --min-stake in collateral token units (base units with --wei) and prints it so", async function () {
    const level = { description: "Level, tank 6 (m)", minValue: "0", maxValue: "12" };
    const tokens = await runTask(["feed", "create"], {
      ...withFactory(3, true),
      ...level,
      minStake: "1.5",
    });
    assert.equal(tokens.result.success, true, tokens.stderr);
    const json = JSON.parse(tokens.stdout) as {
      config: Record<string, unknown>;
      collateral: Record<string, unknown>;
    };
    assert.equal(json.config.minStake, (15n * 10n ** 17n).toString());
    assert.deepEqual([json.collateral.symbol, json.collateral.decimals], ["COL", 18]);
    const human = await runTask(["feed", "create"], {
      ...withFactory(3),
      ...level,
      minStake: "1.5",
    });
    assert.match(human.stdout, /^config\.minStake: +1\.5 COL$/m);
    const none = await runTask(["feed", "create"], {
      ...withFactory(3, true),
      ...level,
      minStake: "0",
    });
    assert.equal(none.result.success, true, none.stderr);
    assert.equal((JSON.parse(none.stdout) as typeof json).config.minStake, "0");
    const refused: [Record<string, unknown>, RegExp][] = [
      [
        { minStake: "1.5", wei: true },
        /--min-stake "1\.5" is not a whole number of COL base units \(--wei\): drop --wei/,
      ],
      [{ minStake: " -1" }, /--min-stake must be zero or more, got " -1"/],
      [
        { minStake: "0.0000000000000000001" },
        /--min-stake "0\.0000000000000000001" is not an amount of COL with at most 18 decimals .*add --wei/,
      ],
    ];
    for (const [args, message] of refused) {
      const out = await runTask(["feed", "create"], { ...withFactory(3), ...level, ...args });
      assert.equal(out.result.error?.code, "INVALID_INPUT", out.stderr);
      assert.match(out.stderr, message);
    }
  });

  it("feed create refuses bounds in the wrong order before sending anything", async function () {
    const out = await runTask(["feed", "create"], {
      ...withFactory(3),
      ...pressure,
      decimals: 2,
      minValue: "10",
      maxValue: "-10",
    });
    assert.equal(out.result.success, false);
    assert.match(out.stderr, /Error INVALID_INPUT: --min-value 1000 is above --max-value -1000/);
  });

  it("feed add-device invites devices the owner does not operate; anyone else gets a sentence", async function () {
    const ids = s.devices.map((d) => d.deviceId).join(",");
    const stranger = await runTask(["feed", "add-device"], {
      ...chain(5),
      feed: created.feed,
      deviceIds: ids,
    });
    assert.equal(stranger.result.success, false);
    assert.match(stranger.stderr, /OwnableUnauthorizedAccount\(.*\): .* is not the feed's owner/);
    const out = await runTask(["feed", "add-device"], {
      ...chain(3, true),
      feed: created.feedId,
      deviceIds: ids,
    });
    assert.equal(out.result.success, true, out.stderr);
    const json = JSON.parse(out.stdout) as {
      added: { result: string }[];
      members: number;
      note: string;
    };
    // The owner (account 3) does not operate them (account 2 does): invitations, not members.
    assert.deepEqual(
      json.added.map((a) => a.result),
      ["invited", "invited", "invited", "invited"],
    );
    assert.equal(json.members, 0);
    assert.match(json.note, /^4 invited: each becomes a member when its operator accepts/);

    const notOperator = await runTask(["feed", "join"], {
      ...chain(3),
      feed: created.feed,
      deviceIds: ids,
    });
    assert.equal(notOperator.result.success, false);
    assert.match(notOperator.stderr, /^Error DeviceFeedNotOperator: .*only its operator joins/m);
    const joined = await runTask(["feed", "join"], {
      ...chain(2),
      feed: created.feed,
      deviceIds: ids,
    });
    assert.equal(joined.result.success, true, joined.stderr);
    assert.match(joined.stdout, /^members: +4$/m);
    const again = await runTask(["feed", "add-device"], {
      ...chain(3),
      feed: created.feed,
      deviceIds: s.devices[0]?.deviceId ?? "",
    });
    assert.match(again.stderr, /DeviceFeedAlreadyMember.*already a member of this feed/);
  });

  it("feed read says in a sentence that there is no round yet, then answers", async function () {
    const none = await runTask(["feed", "read"], { ...chain(0), feed: created.feed, maxAge: 0 });
    assert.equal(none.result.success, false);
    assert.match(
      none.stderr,
      /^Error DeviceFeedNoRound: DeviceFeedNoRound\(\): the feed has committed no round yet: a round commits once a quorum of members have fresh readings/m,
    );
    assert.doesNotMatch(none.stderr, /\n\s+at /, "no stack trace");
    await submitRound(created.feedId, 1n, 2n * 10n ** 8n);
    const human = await runTask(["feed", "read"], { ...chain(0), feed: created.feed, maxAge: 0 });
    assert.equal(human.result.success, true, human.stderr);
    // Values 2.0, 2.1, 2.2, 2.3 bar: the median of four is the mean of the middle two.
    assert.match(human.stdout, /^value: +2\.15$/m);
    assert.match(human.stdout, /^roundId: +1$/m);
    assert.match(human.stdout, /^method: +latestRoundData$/m);
    const json = await runTask(["feed", "read"], {
      ...chain(0, true),
      feed: created.feed,
      maxAge: 300,
    });
    const answer = JSON.parse(json.stdout) as { answer: string; method: string; roundId: null };
    assert.equal(answer.answer, "215000000");
    assert.equal(answer.method, "readFresh(300)");
  });

  it("feed show lists the latest round, members with trust, stake and last reading", async function () {
    const show = await runTask(["feed", "show"], { ...withFactory(0), feed: created.feed });
    assert.equal(show.result.success, true, show.stderr);
    assert.match(show.stdout, /^tripped: +false$/m);
    assert.match(show.stdout, /^latestRound\.roundId: +1$/m);
    // The answer both as the contract holds it and in the feed's units.
    assert.match(show.stdout, /^latestRound\.answer: +215000000$/m);
    assert.match(show.stdout, /^latestRound\.value: +2\.15$/m);
    assert.match(show.stdout, /^latestRound\.startedAt: +\d+$/m);
    assert.match(show.stdout, /^latestRound\.updatedAt: +\d+$/m);
    assert.match(show.stdout, /^latestRound\.age: +\d+s ago$/m);
    assert.match(show.stdout, /^latestRound\.readings: +4$/m);
    assert.match(show.stdout, /^quarantined: +0$/m);
    assert.match(show.stdout, /^config\.heartbeat: +300$/m);
    assert.match(show.stdout, /^members\[0\]\.trusted: +true$/m);
    assert.match(show.stdout, /^members\[0\]\.quarantine: +-$/m);
    // Stakes in units of the collateral (COL, 18 decimals): these devices stake 1000 to 1300 base units.
    assert.match(show.stdout, /^members\[3\]\.slashable: +0\.0000000000000013 COL$/m);
    assert.match(show.stdout, /^config\.minStake: +0\.000000000000001 COL$/m);
    assert.match(show.stdout, /^collateral\.symbol: +COL$/m);
    // Readings and the physical range in the feed's units (8 decimals), the raw integers beside them.
    assert.match(show.stdout, /^members\[1\]\.value: +2\.1$/m);
    assert.match(show.stdout, /^members\[1\]\.answer: +210000000$/m);
    assert.match(show.stdout, /^range\.minValue: +-40\.5$/m);
    // One operator runs all 4: corrupting the median takes its whole stake (1000 + 1100 + 1200 + 1300).
    assert.match(show.stdout, /^costOfCorruption: +0\.0000000000000046 COL$/m);
    assert.match(show.stdout, /^operatorsToControl: +1$/m);
    assert.match(show.stdout, /^corruption: +ONE operator controls the median alone; /m);
    assert.match(show.stdout, /^members\[3\]\.active: +0\.0000000000000013 COL$/m);
    assert.match(show.stdout, /^status: +answering$/m);
    // --wei: base units, as the contracts count them; --json always has them so, as decimal strings.
    const wei = await runTask(["feed", "show"], {
      ...withFactory(0),
      feed: created.feed,
      wei: true,
    });
    assert.match(wei.stdout, /^costOfCorruption: +4600$/m);
    assert.match(wei.stdout, /^members\[3\]\.active: +1300$/m);
    const json = await runTask(["feed", "show"], { ...withFactory(0, true), feed: created.feed });
    const view = JSON.parse(json.stdout) as {
      config: { minStake: string };
      costOfCorruption: string;
      members: { active: string; slashable: string }[];
      collateral: { address: string; symbol: string; decimals: number };
    };
    assert.deepEqual(
      [
        view.config.minStake,
        view.costOfCorruption,
        view.members[3]?.active,
        view.members[3]?.slashable,
      ],
      ["1000", "4600", "1300", "1300"],
    );
    assert.deepEqual([view.collateral.symbol, view.collateral.decimals], ["COL", 18]);
  });

  it("says in one sentence when --feed, --factory or --registry is not such a DeviceTrust contract", async function () {
    const { chainId } = await ethers.provider.getNetwork();
    const cases: [Record<string, unknown>, RegExp][] = [
      // Another DeviceTrust contract: code, but no feedId().
      [
        { feed: s.stakingAddress },
        new RegExp(
          `^Error NOT_A_DEVICETRUST_CONTRACT: ${s.stakingAddress} is not a DeviceTrust DeviceFeed on chain ${chainId.toString()} \\(does not answer feedId\\(\\)\\): check --feed and --network$`,
          "m",
        ),
      ],
      [
        { feed: s.feedAddress, factory: s.registryAddress },
        /is not a DeviceTrust DeviceFeedFactory .*\(does not answer isFeed\(address\)\)/,
      ],
      [
        { feed: s.feedAddress, registry: s.owner.address },
        /is not a DeviceTrust DeviceRegistry on chain \d+ \(no code\): check --registry/,
      ],
    ];
    for (const [args, message] of cases) {
      const out = await runTask(["feed", "show"], { ...withFactory(0), ...args });
      assert.equal(out.result.error?.code, "NOT_A_DEVICETRUST_CONTRACT", out.stderr);
      assert.match(out.stderr, message);
    }
  });

  it("feed show names a quarantined member's anomaly; feed readmit takes it back once re-attested", async function () {
    // Device 0 reports again within the 10 s minimum interval: it alone is quarantined.
    await helpers.time.increase(2);
    await submitRound(created.feedId, 2n, 2n * 10n ** 8n, [0]);
    const show = await runTask(["feed", "show"], { ...withFactory(0, true), feed: created.feed });
    assert.equal(show.result.success, true, show.stderr);
    const view = JSON.parse(show.stdout) as {
      tripReason: string;
      quarantined: number;
      status: string;
      members: { counts: boolean; quarantine: Record<string, string> | null }[];
    };
    assert.deepEqual([view.tripReason, view.quarantined, view.status], ["None", 1, "answering"]);
    const q = view.members[0]?.quarantine;
    assert.ok(q !== undefined && q !== null);
    assert.equal(q.anomaly, "TooFrequent");
    assert.equal(q.meaning, "it reported faster than the feed's minInterval");
    assert.equal(BigInt(q.readmitAfter ?? ""), BigInt(q.since ?? "") + 3_600n);
    assert.equal(view.members[0]?.counts, false);
    assert.equal(view.members[1]?.quarantine, null);
    const human = await runTask(["feed", "show"], { ...withFactory(0), feed: created.feed });
    assert.match(human.stdout, /^members\[0\]\.quarantine\.anomaly: +TooFrequent$/m);
    assert.match(human.stdout, /^members\[0\]\.quarantine\.since: +\d+$/m);

    const device = s.devices[0];
    assert.ok(device !== undefined);
    const stranger = await runTask(["feed", "readmit"], {
      ...chain(0),
      feed: created.feed,
      device: device.deviceId,
    });
    assert.equal(stranger.result.success, false);
    assert.match(
      stranger.stderr,
      /^Error DeviceFeedCoolingOff: .*cooling off after its quarantine: readmit after \d+ \(.*\), or ask a guardian/m,
    );
    const unattested = await runTask(["feed", "readmit"], {
      ...chain(3, true),
      feed: created.feed,
      device: device.deviceId,
    });
    assert.equal(unattested.result.success, false);
    assert.match(
      unattested.stderr,
      /^Error DeviceFeedNotReattested: .*: attest the device again \(device attest\), then readmit \(feed readmit\)$/m,
    );
    assert.match(unattested.stdout, /"code": "DeviceFeedNotReattested"/);
    await reattest(ethers, s, device);
    // The feed's owner is a guardian: it readmits the re-attested device before the cool-off ends.
    const readmitted = await runTask(["feed", "readmit"], {
      ...chain(3, true),
      feed: created.feedId,
      device: device.deviceId,
    });
    assert.equal(readmitted.result.success, true, readmitted.stderr);
    const result = JSON.parse(readmitted.stdout) as { by: string; quarantined: number };
    assert.deepEqual(result, {
      ...result,
      by: s.owner.address.toLowerCase(),
      quarantined: 0,
    });
    const missing = await runTask(["feed", "readmit"], { ...chain(3), feed: created.feed });
    assert.match(missing.stderr, /^Error INVALID_INPUT: name the device: --device <id>$/m);
  });

  it("feed round prints a committed round, unchanged by later ones", async function () {
    // Past the 5-minute heartbeat, 0.05 higher: round 2 (the readmitted device reports again too).
    await helpers.time.increase(300);
    await submitRound(created.feedId, 3n, 205n * 10n ** 6n);
    const first = await runTask(["feed", "round"], {
      ...chain(0, true),
      feed: created.feed,
      id: 1n,
    });
    assert.equal(first.result.success, true, first.stderr);
    const round = JSON.parse(first.stdout) as Record<string, unknown>;
    assert.deepEqual(
      [round.roundId, round.answer, round.value, round.readings, round.latestRound],
      ["1", "215000000", "2.15", 4, "2"],
    );
    const latest = await runTask(["feed", "round"], { ...chain(0), feed: created.feed });
    assert.equal(latest.result.success, true, latest.stderr);
    assert.match(latest.stdout, /^roundId: +2$/m);
    // 2.05, 2.15, 2.25, 2.35: the median is 2.20.
    assert.match(latest.stdout, /^value: +2\.2$/m);
    assert.match(latest.stdout, /^answer: +220000000$/m);
    const missing = await runTask(["feed", "round"], {
      ...chain(0, true),
      feed: created.feed,
      id: 9n,
    });
    assert.equal(missing.result.success, false);
    assert.match(
      missing.stderr,
      /^Error DeviceFeedRoundNotAvailable: DeviceFeedRoundNotAvailable\(9, 2\): round 9 was not committed: committed rounds are 1\.\.2/m,
    );
  });

  it("a burst of every member quarantines them and trips the feed; latestRoundData keeps the last round", async function () {
    await helpers.time.increase(2);
    await submitRound(created.feedId, 4n, 205n * 10n ** 6n); // within minInterval: all TooFrequent
    const fresh = await runTask(["feed", "read"], {
      ...chain(0, true),
      feed: created.feed,
      maxAge: 300,
    });
    assert.equal(fresh.result.success, false);
    assert.match(
      fresh.stderr,
      /DeviceFeedTripped\(2\): the feed's circuit breaker tripped \(Quarantines: more members were quarantined/,
    );
    assert.match(fresh.stdout, /"code": "DeviceFeedTripped"/);
    const latest = await runTask(["feed", "read"], { ...chain(0), feed: created.feed, maxAge: 0 });
    assert.equal(latest.result.success, true, latest.stderr);
    assert.match(latest.stdout, /^roundId: +2$/m);
    const tripped = await runTask(["feed", "show"], {
      ...withFactory(0, true),
      feed: created.feed,
    });
    const view = JSON.parse(tripped.stdout) as {
      tripped: boolean;
      tripReason: string;
      quarantined: number;
      status: string;
      latestRound: { roundId: string };
    };
    assert.equal(view.tripped, true);
    assert.equal(view.tripReason, "Quarantines");
    // The second quarantine within maxReadingAge trips the feed (maxQuarantines 1); the others follow.
    assert.equal(view.quarantined, 4);
    assert.equal(view.latestRound.roundId, "2");
    assert.match(view.status, /circuit breaker tripped/);
  });

  it("feed leave keeps the member for the unbonding period; feed complete-leave ends it", async function () {
    const device = s.devices[3]?.deviceId ?? "";
    const stranger = await runTask(["feed", "leave"], {
      ...chain(0),
      feed: created.feed,
      deviceId: device,
    });
    assert.match(stranger.stderr, /^Error DeviceFeedNotOperator: /m);
    const leave = await runTask(["feed", "leave"], {
      ...chain(2, true),
      feed: created.feed,
      deviceId: device,
    });
    assert.equal(leave.result.success, true, leave.stderr);
    const { leaveAt } = JSON.parse(leave.stdout) as { leaveAt: string };
    const early = await runTask(["feed", "complete-leave"], {
      ...chain(0),
      feed: created.feed,
      deviceId: device,
    });
    assert.equal(early.result.success, false);
    assert.match(early.stderr, /^Error DeviceFeedNotYetLeaving: .*complete the leave then$/m);
    await helpers.time.increaseTo(BigInt(leaveAt));
    const done = await runTask(["feed", "complete-leave"], {
      ...chain(0),
      feed: created.feed,
      deviceId: device,
    });
    assert.equal(done.result.success, true, done.stderr);
    assert.match(done.stdout, /^members: +3$/m);
    const missing = await runTask(["feed", "leave"], {
      ...chain(2),
      feed: created.feed,
      deviceId: "",
    });
    assert.match(missing.stderr, /^Error INVALID_INPUT: name the device: --device-id <id>$/m);
  });

  it("feed read names a missing --feed", async function () {
    const out = await runTask(["feed", "read"], { ...chain(0), feed: "", maxAge: 0 });
    assert.match(out.stderr, /name the feed: --feed/);
  });
});

import assert from "node:assert/strict";
import hre from "hardhat";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";
import { ChainSubmitter } from "../../src/gateway/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { pino } from "pino";
import { chainTime, deployFeedSystem, type FeedSystem } from "../client/feed-fixture.js";
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

  async function submitRound(feedId: Hex, sequence: bigint, base: bigint): Promise<void> {
    const now = await chainTime(ethers);
    const readings = await Promise.all(
      s.devices.map(async (d, i) => {
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
    maxReadingAge: 600,
    minInterval: 10,
    maxAttestationAge: 86_400,
    minStake: 1_000n,
    minValue: "-40.5",
    maxValue: "125",
  };

  it("feed create takes every Config field and prints the feed and its id", async function () {
    const out = await runTask(["feed", "create"], { ...withFactory(3, true), ...pressure });
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

  it("feed read says in a sentence that there is no quorum yet, then answers", async function () {
    const none = await runTask(["feed", "read"], { ...chain(0), feed: created.feed, maxAge: 0 });
    assert.equal(none.result.success, false);
    assert.match(
      none.stderr,
      /^Error DeviceFeedNoQuorum: DeviceFeedNoQuorum\(0, 3\): only 0 member devices have a fresh reading, the feed needs 3/m,
    );
    assert.doesNotMatch(none.stderr, /\n\s+at /, "no stack trace");
    await submitRound(created.feedId, 1n, 2n * 10n ** 8n);
    const human = await runTask(["feed", "read"], { ...chain(0), feed: created.feed, maxAge: 0 });
    assert.equal(human.result.success, true, human.stderr);
    // Values 2.0, 2.1, 2.2, 2.3 bar: the median of four is the mean of the middle two.
    assert.match(human.stdout, /^value: +2\.15$/m);
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

  it("feed show lists members with trust, stake and last reading; a trip is read as a sentence", async function () {
    const show = await runTask(["feed", "show"], { ...withFactory(0), feed: created.feed });
    assert.equal(show.result.success, true, show.stderr);
    assert.match(show.stdout, /^tripped: +false$/m);
    assert.match(show.stdout, /^members\[0\]\.trusted: +true$/m);
    assert.match(show.stdout, /^members\[3\]\.slashable: +1300$/m);
    assert.match(show.stdout, /^members\[1\]\.value: +210000000$/m);
    // One operator runs all 4: corrupting the median takes its whole stake (1000 + 1100 + 1200 + 1300).
    assert.match(show.stdout, /^costOfCorruption: +4600$/m);
    assert.match(show.stdout, /^operatorsToControl: +1$/m);
    assert.match(show.stdout, /^corruption: +ONE operator controls the median alone; /m);
    assert.match(show.stdout, /^members\[3\]\.active: +1300$/m);
    assert.match(show.stdout, /^status: +answering$/m);

    await helpers.time.increase(2);
    await submitRound(created.feedId, 2n, 2n * 10n ** 8n); // within minInterval: TooFrequent
    const read = await runTask(["feed", "read"], {
      ...chain(0, true),
      feed: created.feed,
      maxAge: 0,
    });
    assert.equal(read.result.success, false);
    assert.match(
      read.stderr,
      /DeviceFeedTripped\(2\): the feed's circuit breaker tripped \(TooFrequent/,
    );
    assert.match(read.stdout, /"code": "DeviceFeedTripped"/);
    const tripped = await runTask(["feed", "show"], {
      ...withFactory(0, true),
      feed: created.feed,
    });
    const view = JSON.parse(tripped.stdout) as {
      tripped: boolean;
      tripReason: string;
      status: string;
    };
    assert.equal(view.tripped, true);
    assert.equal(view.tripReason, "TooFrequent");
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

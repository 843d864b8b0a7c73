import assert from "node:assert/strict";
import { network } from "hardhat";
import { registryAt, stakingAt, feedAt, poolAt } from "../../src/client/index.js";
import {
  ChainSync,
  EventIndex,
  fleetPage,
  feedDetail,
  insuranceDetail,
  verdictOf,
  type HexString,
  type ViewContext,
} from "../../src/console/index.js";
import { TRUST_VERDICTS } from "../../src/verify/enum-names.js";
import { consoleStory, type Story } from "./story.js";

const MAX_AGE = 86_400;

describe("console ChainSync on the demo's story", function () {
  this.timeout(120_000);
  let conn: Awaited<ReturnType<typeof network.create>>;
  let story: Story;
  let index: EventIndex;
  let sync: ChainSync;

  before(async function () {
    conn = await network.create();
    story = await consoleStory(conn);
    index = new EventIndex();
    sync = new ChainSync(conn.ethers.provider, story.addresses, index, { chunk: 7 });
    await sync.sync();
  });

  after(async function () {
    await conn.close();
  });

  const ctx = (): ViewContext => ({ index, now: index.blockTime, maxAge: MAX_AGE });

  it("indexes every device with the verdict trustReport gives, at the same head", async function () {
    const registry = registryAt(story.addresses.registry, conn.ethers.provider);
    assert.equal(index.deviceOrder.length, story.devices.length);
    for (const d of index.deviceOrder) {
      const report = await registry.trustReport(d.id, MAX_AGE, { blockTag: index.block });
      assert.equal(verdictOf(ctx(), d), TRUST_VERDICTS[Number(report.verdict)], d.id);
      assert.equal(d.attestedAt, Number(report.attestedAt));
      assert.equal(d.custody[0]?.event, "DeviceRegistered");
    }
    const page = fleetPage(ctx());
    assert.equal(page.counts.Trusted, story.devices.length);
    assert.equal(page.rows.length, story.devices.length);
  });

  it("reads each device's stake as DeviceStaking holds it", async function () {
    const staking = stakingAt(story.addresses.staking as string, conn.ethers.provider);
    for (const d of index.deviceOrder) {
      const s = await staking.stakeOf(d.id);
      assert.deepEqual([d.stake?.active, d.stake?.pending], [s.active, s.pending]);
    }
  });

  it("holds the feed's answers, members and readings as its events and views give them", async function () {
    const feed = feedAt(story.feed, conn.ethers.provider);
    const f = index.feeds.get(story.feed);
    assert.ok(f !== undefined);
    assert.equal(f.answers.length, Number(await feed.latestRound()));
    assert.equal(f.answers.at(-1)?.value, (await feed.latestRoundData()).answer.toString());
    assert.equal(f.members.size, (await feed.members()).length);
    const detail = feedDetail(ctx(), f);
    for (const m of detail.members) {
      assert.equal(m.readings.length, story.rounds, "one accepted reading per round");
    }
    assert.equal(detail.quorum, 3);
    assert.equal(detail.decimals, 8);
    const [cost] = await feed.corruption();
    assert.equal(f.state?.costOfCorruption, cost);
  });

  it("reads the pool's totals and a share price point per block with pool events", async function () {
    const pool = poolAt(story.addresses.pool as string, conn.ethers.provider);
    const view = insuranceDetail(ctx(), story.addresses.pool as HexString);
    assert.equal(view.totalAssets, (await pool.totalAssets()).toString());
    assert.equal(view.lockedCapital, (await pool.lockedCapital()).toString());
    assert.equal(view.policies.length, 1);
    const policy = view.policies[0];
    assert.ok(policy !== undefined);
    assert.equal(policy.members.length, story.devices.length);
    assert.equal(policy.active, true);
    assert.ok(view.sharePrice.length >= 2, "the deposit's block and the sale's");
  });

  it("reads in smaller ranges where the node refuses large ones, and passes other errors on", async function () {
    const real = conn.ethers.provider;
    let calls = 0;
    let refusal = (span: number): Error | null =>
      span > 8 ? new Error("query exceeds max block range 8") : null;
    const capped = new Proxy(real, {
      get(target, key, receiver) {
        if (key === "getLogs") {
          return (filter: { fromBlock: number; toBlock: number }) => {
            calls++;
            const err = refusal(filter.toBlock - filter.fromBlock + 1);
            return err === null ? target.getLogs(filter) : Promise.reject(err);
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === "function"
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
    const fresh = new EventIndex();
    await new ChainSync(capped, story.addresses, fresh).sync();
    assert.equal(fresh.events, index.events, "every event, once");
    assert.deepEqual(
      fresh.deviceOrder.map((d) => [d.id, d.custody.length, d.attestations.length]),
      index.deviceOrder.map((d) => [d.id, d.custody.length, d.attestations.length]),
    );
    assert.equal(
      fresh.feeds.get(story.feed)?.answers.length,
      index.feeds.get(story.feed)?.answers.length,
    );
    calls = 0;
    refusal = () => new Error("connect ECONNREFUSED 127.0.0.1:8545");
    await assert.rejects(
      new ChainSync(capped, story.addresses, new EventIndex()).sync(),
      /ECONNREFUSED/,
    );
    assert.equal(calls, 1, "not split: the node is down, not refusing a range");
  });

  it("applies each event once and reads the touched state again when a read failed mid-sync", async function () {
    // A provider whose eth_calls fail while `failing` is set: logs are read, state is not.
    let failing = true;
    const real = conn.ethers.provider;
    const flaky = new Proxy(real, {
      get(target, key, receiver) {
        if (key === "call") {
          return (...args: Parameters<typeof real.call>) =>
            failing ? Promise.reject(new Error("node unavailable")) : target.call(...args);
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === "function"
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
    const fresh = new EventIndex();
    const flakySync = new ChainSync(flaky, story.addresses, fresh);
    await assert.rejects(flakySync.sync(), /node unavailable/);
    assert.equal(fresh.deviceOrder.length, story.devices.length, "the events were applied");
    assert.equal(fresh.deviceOrder[0]?.stake, null, "no stake read yet");
    failing = false;
    await flakySync.sync();
    const custody = fresh.deviceOrder.map((d) => d.custody.length);
    assert.deepEqual(
      custody,
      index.deviceOrder.map((d) => d.custody.length),
      "each event once",
    );
    for (const d of fresh.deviceOrder) {
      assert.equal(d.stake?.active, index.device(d.id)?.stake?.active, "stakes read at the retry");
    }
    assert.equal(fresh.feeds.get(story.feed)?.state?.quorum, 3);
  });

  it("takes a trip, a proven clone and a claim from new blocks only", async function () {
    const before = sync.nextBlock;
    await story.trip();
    const incident = await story.cloneProven();
    const payout = await story.claim(incident);
    await sync.sync();
    assert.ok(sync.nextBlock > before);
    const f = index.feeds.get(story.feed);
    assert.equal(f?.tripped, true);
    assert.equal(f.tripReason, "Quarantines");
    assert.equal(f.quarantined.size, 3);
    const victim = index.device(story.devices[0]?.deviceId ?? "");
    assert.equal(victim?.status, "Suspended");
    assert.equal(victim.incidents[0]?.incident, incident);
    assert.equal(verdictOf(ctx(), victim), "NotActive");
    assert.deepEqual(victim.custody.map((c) => c.event).slice(-2), [
      "DeviceSuspended",
      "IncidentRecorded",
    ]);
    const view = insuranceDetail(ctx(), story.addresses.pool as HexString);
    assert.equal(view.claims.length, 1);
    assert.equal(view.claims[0]?.payout, payout.toString());
    assert.equal(view.recoveries.length, 1);
    // A sync with no new block changes nothing.
    const version = index.version;
    assert.equal(await sync.sync(), false);
    assert.equal(index.version, version);
  });
});

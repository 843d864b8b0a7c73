import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { network } from "hardhat";
import { buildDeviceTrustModule } from "../../deploy/modules/DeviceTrust.js";
import {
  allocateToPool,
  benchMaker,
  passWaitingPeriod,
  trustedStakedDevice,
  type InsuredDevice,
  type InsuranceSystem,
} from "../../src/bench/insurance.js";
import {
  addFeedDevices,
  collateralTokenAt,
  coverBuy,
  coverClaim,
  createFeed,
  feedAt,
  feedFactoryAt,
  parseTarget,
  poolAt,
  poolDeposit,
  proofsAt,
  submitProof,
  equivocationProof,
  type FeedConfig,
} from "../../src/client/index.js";
import type { ConsoleAddresses } from "../../src/console/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { MockERC20__factory } from "../../types/ethers-contracts/index.js";

/**
 * The demo's story, compact, for the console's tests: the whole system deployed by Ignition, a maker, five
 * trusted sensors staked and allocated to the pool for one feed, three rounds of readings, an insurer's
 * deposit and an integrator's coverage on the feed past its waiting period. What happens next (a breaker
 * trip, a clone proven, a claim) the tests do while the console watches: `story.trip()`,
 * `story.cloneProven()`, `story.claim()`. No describe() here.
 */
export const STORY_STAKE = 100n * 10n ** 18n;
const STORY_CONFIG: FeedConfig = {
  quorum: 3,
  decimals: 8,
  maxDeviationBps: 500,
  maxSpreadBps: 1_000,
  deviationThresholdBps: 50,
  heartbeat: 60,
  maxReadingAge: 600,
  minInterval: 10,
  maxAttestationAge: 24 * 3600,
  quarantinePeriod: 3600,
  maxQuarantines: 2,
  lockdown: false,
  minStake: STORY_STAKE,
  minValue: -5_000_000_000n,
  maxValue: 15_000_000_000n,
  description: "Warehouse 7 temperature (°C)",
};
const BASE = 2_150_000_000n;

export interface Story {
  readonly addresses: ConsoleAddresses;
  readonly devices: readonly InsuredDevice[];
  readonly feed: Hex;
  readonly feedId: Hex;
  readonly rounds: number;
  readonly policySerial: number;
  /** Three members report too fast: quarantined, and the third trips the feed-wide breaker. */
  trip(): Promise<void>;
  /** A clone of device 0 signs another value for its next sequence; the watcher proves it. */
  cloneProven(): Promise<Hex>;
  /** The integrator's feed policy pays the proven member's share. */
  claim(incident: Hex): Promise<bigint>;
}

async function signers(ethers: HardhatEthers): Promise<HardhatEthersSigner[]> {
  const all = await ethers.getSigners();
  if (all.length < 8) throw new Error("the story needs 8 accounts");
  return all;
}

export async function consoleStory(
  conn: Awaited<ReturnType<typeof network.create>>,
): Promise<Story> {
  const { ethers, ignition } = conn;
  const [governance, , operator, insurer, integrator, watcher, relayer] = (await signers(
    ethers,
  )) as [
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
    HardhatEthersSigner,
  ];
  const deployed = await ignition.deploy(
    buildDeviceTrustModule({ collateral: "mock", handover: false }),
    {
      parameters: { DeviceStaking: { minStake: STORY_STAKE, bountyBps: 1000n } },
    },
  );
  const at = async (c: { getAddress(): Promise<string> }): Promise<Hex> =>
    (await c.getAddress()).toLowerCase() as Hex;
  const addresses = {
    registry: await at(deployed.deviceRegistry),
    staking: await at(deployed.deviceStaking),
    proofs: await at(deployed.fraudProofs),
    pool: await at(deployed.insurancePool),
    feedFactory: await at(deployed.deviceFeedFactory),
  };
  const token = await at(deployed.collateralToken);
  const system: InsuranceSystem = { ethers, ...addresses, governance };
  const maker = await benchMaker(system);
  const devices: InsuredDevice[] = [];
  for (let i = 0; i < 5; i++) {
    devices.push(
      await trustedStakedDevice(
        system,
        maker,
        operator,
        STORY_STAKE,
        i % 2 === 0 ? "p256" : "secp256k1",
      ),
    );
  }
  const created = await createFeed(feedFactoryAt(addresses.feedFactory, operator), STORY_CONFIG);
  const feed = feedAt(created.feed, relayer);
  await addFeedDevices(
    feedAt(created.feed, operator),
    devices.map((d) => d.deviceId),
  );
  for (const d of devices) await allocateToPool(system, d, operator, { feed: created.feed });

  const now = async (): Promise<bigint> =>
    BigInt((await ethers.provider.getBlock("latest"))?.timestamp ?? 0);
  const increase = async (seconds: number): Promise<void> => {
    await ethers.provider.send("evm_increaseTime", [seconds]);
    await ethers.provider.send("evm_mine", []);
  };
  let round = 0;
  /** One reading per device (`only`: those indices), the value warming by 0.01 °C a round. */
  const submitRound = async (only?: readonly number[]): Promise<void> => {
    const t = await now();
    const readings = [];
    for (const [i, d] of devices.entries()) {
      if (only !== undefined && !only.includes(i)) continue;
      const r = await d.signer.signReading({
        feedId: created.feedId,
        sequence: d.signer.nextSequence(created.feedId),
        timestamp: t,
        value: BASE + BigInt(i) * 1_000_000n + BigInt(round) * 1_000_000n,
      });
      readings.push({ reading: r.message, key: r.key, signature: r.signature });
    }
    await (await feed.submitMany(readings)).wait();
    round++;
  };
  for (let r = 0; r < 3; r++) {
    await submitRound();
    await increase(STORY_CONFIG.heartbeat);
  }

  for (const who of [insurer, integrator]) {
    await (
      await MockERC20__factory.connect(token, who).mint(who.address, 10_000n * 10n ** 18n)
    ).wait();
  }
  await poolDeposit({
    pool: poolAt(addresses.pool, insurer),
    token: collateralTokenAt(token, insurer),
    assets: 1_000n * 10n ** 18n,
  });
  const target = parseTarget({ feed: created.feed });
  const cover = await coverBuy({
    pool: poolAt(addresses.pool, integrator),
    token: collateralTokenAt(token, integrator),
    target,
    amount: 150n * 10n ** 18n,
    term: 30n * 86_400n,
    beneficiary: integrator.address,
  });
  await passWaitingPeriod(system);
  await submitRound();

  return {
    addresses,
    devices,
    feed: created.feed,
    feedId: created.feedId,
    rounds: round,
    policySerial: cover.serial,
    trip: async () => {
      await increase(STORY_CONFIG.heartbeat);
      await submitRound();
      // Three members again within minInterval: each quarantined (TooFrequent), the third trips the feed.
      await increase(1);
      await submitRound([1, 2, 3]);
    },
    cloneProven: async () => {
      const d = devices[0];
      if (d === undefined) throw new Error("no device");
      const reading = {
        feedId: created.feedId,
        sequence: d.signer.nextSequence(created.feedId),
        timestamp: await now(),
        value: BASE,
      };
      const proof = equivocationProof(
        await d.signer.signReading(reading),
        await d.clone.signReading({ ...reading, value: 3_500_000_000n }),
      );
      return (await submitProof(proofsAt(addresses.proofs, watcher), proof, watcher.address))
        .incident;
    },
    claim: async (incident: Hex) => {
      const r = await coverClaim(poolAt(addresses.pool, watcher), target, cover.serial, incident);
      return r.payout;
    },
  };
}

import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Interface, MaxUint256, type ContractTransactionResponse, type Signer } from "ethers";
import type { DeviceSigner } from "../device/index.js";
import type { Curve, Hex } from "../protocol/index.js";
import { equivocationProof, proofsAt, submitProof } from "../client/index.js";
import { benchMaker, registerTrustedSigner } from "./insurance.js";
import {
  DeviceFeed__factory,
  DeviceFeedFactory__factory,
  DeviceRegistry__factory,
  DeviceStaking__factory,
  FraudProofs__factory,
  InsurancePool__factory,
  MockERC20__factory,
  type DeviceFeed,
  type DeviceFeedFactory,
  type DeviceStaking,
  type FraudProofs,
  type InsurancePool,
  type MockERC20,
} from "../../types/ethers-contracts/index.js";

/**
 * The adversarial bench's world (issue 10): the real registry, staking, fraud proofs, feed factory and two
 * insurance pools over a mintable collateral, deployed once per governance configuration (bounty, cover
 * factor) that the contracts accept, with trusted devices of an attacker and of victims staked at the
 * minimum. Trials start from an EVM snapshot of that state.
 */

export const DAY = 86_400n;
export const BPS = 10_000n;
export const UNIT = 10n ** 18n;
export const MIN_STAKE = 100n * UNIT;
export const UNBONDING = 14n * DAY;
export const EVIDENCE_WINDOW = 7n * DAY;
/** The honest insurer's capital in each pool. */
export const HONEST_CAPITAL = 1_000_000n * UNIT;
/** Devices per side: a feed holds up to 9 members, all of them the attacker's in the self-insurance plans. */
export const ATTACKER_DEVICES = 9;
export const VICTIM_DEVICES = 4;

/** Governance parameters that matter to an attacker: the staking bounty and every pool's cover factor. */
export interface GovernanceConfig {
  readonly bountyBps: bigint;
  readonly coverFactorBps: bigint;
}

/** The pool parameters of the bench (coverFactorBps from the configuration). */
export function poolParams(coverFactorBps: bigint) {
  return {
    maxUtilizationBps: 8_000n,
    coverFactorBps,
    baseRateBps: 200n,
    utilizationRateBps: 1_000n,
    capacityRateBps: 1_000n,
    attestationRateBps: 500n,
    minPremiumBps: 10n,
    maxAttestationAge: 365n * DAY,
    minTerm: DAY,
    maxTerm: 365n * DAY,
    cooldown: 8n * DAY,
    withdrawalWindow: 2n * DAY,
    waitingPeriod: DAY,
    claimWindow: 8n * DAY,
    recoveryVesting: 30n * DAY,
  };
}
export const PAYOUT_BPS = [0n, 10_000n, 10_000n, 5_000n, 5_000n] as const;

export interface BenchDevice {
  readonly id: Hex;
  readonly signer: DeviceSigner;
  /** The same key elsewhere: it signs the conflicting reading of a lie. */
  readonly clone: DeviceSigner;
  readonly operator: Signer;
}

/** Named accounts. The attacker plays with several addresses (its operator and four others). */
export interface Accounts {
  readonly governance: Signer;
  readonly attacker: Signer;
  readonly beneficiary: Signer;
  readonly insurer: Signer;
  readonly watcher: Signer;
  readonly feedOwner: Signer;
  readonly victims: readonly Signer[];
  readonly honestInsurer: Signer;
  readonly honestBuyer: Signer;
  readonly treasury: Signer;
}

export interface World {
  readonly ethers: HardhatEthers;
  readonly time: {
    latest(): Promise<number>;
    increaseTo(t: bigint | number): Promise<void>;
    setNextBlockTimestamp(t: bigint | number): Promise<void>;
  };
  readonly accounts: Accounts;
  readonly attackerAddresses: readonly string[];
  readonly attackerDevices: readonly BenchDevice[];
  readonly victimDevices: readonly BenchDevice[];
  readonly config: GovernanceConfig;
  readonly token: MockERC20;
  readonly staking: DeviceStaking;
  readonly proofs: FraudProofs;
  readonly factory: DeviceFeedFactory;
  readonly pools: readonly InsurancePool[];
  /** A counter for lie sequences, so every lie in a trial is fresh evidence. */
  nextSequence: bigint;
}

/** What the registry side of the world needs before any configuration is deployed. */
export interface Base {
  readonly ethers: HardhatEthers;
  readonly time: World["time"];
  readonly registry: string;
  readonly accounts: Accounts;
  readonly attackerDevices: readonly BenchDevice[];
  readonly victimDevices: readonly BenchDevice[];
}

/** The feed id lies name (any feed: equivocation needs no feed contract). */
const EVIDENCE_FEED: Hex = `0x${"1e".repeat(32)}`;

export async function send(tx: Promise<ContractTransactionResponse>): Promise<void> {
  await (await tx).wait();
}

const ERRORS = new Interface(
  [
    ...DeviceStaking__factory.abi,
    ...InsurancePool__factory.abi,
    ...FraudProofs__factory.abi,
    ...DeviceFeed__factory.abi,
    ...DeviceRegistry__factory.abi,
  ].filter((f) => f.type === "error"),
);

/** The custom error name of a revert (any of the system's contracts), or its message. */
export function revertName(e: unknown): string {
  const data = findData(e);
  if (data !== undefined) {
    try {
      const parsed = ERRORS.parseError(data);
      if (parsed !== null) return parsed.name;
    } catch {
      // not one of ours
    }
  }
  return e instanceof Error ? (e.message.split("\n")[0] ?? "error") : String(e);
}

function findData(e: unknown): string | undefined {
  for (let x: unknown = e, i = 0; x !== null && typeof x === "object" && i < 5; i++) {
    const data = (x as { data?: unknown }).data;
    if (typeof data === "string" && data.startsWith("0x") && data.length >= 10) return data;
    x = (x as { cause?: unknown; error?: unknown }).error ?? (x as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Runs `action`; on a revert returns its error name (the step the contracts refused). */
export async function attempt(action: () => Promise<void>): Promise<string | undefined> {
  try {
    await action();
    return undefined;
  } catch (e: unknown) {
    return revertName(e);
  }
}

async function registerTrusted(
  ethers: HardhatEthers,
  registry: string,
  maker: Awaited<ReturnType<typeof benchMaker>>,
  operator: Signer,
  curve: Curve,
): Promise<BenchDevice> {
  const { signer, clone } = await registerTrustedSigner(
    ethers.provider,
    registry,
    maker,
    operator,
    curve,
  );
  return { id: signer.deviceId, signer, clone, operator };
}

/**
 * The registry with a maker, its firmware, and trusted devices of the attacker (alternating P-256 and
 * secp256k1 keys) and of three victim operators. Nothing here depends on the governance configuration.
 */
export async function createBase(
  ethers: HardhatEthers,
  time: World["time"],
  registry: string,
): Promise<Base> {
  const signers = await ethers.getSigners();
  const at = (i: number): Signer => {
    const s = signers[i];
    if (s === undefined) throw new Error(`the in-process network has no account ${String(i)}`);
    return s;
  };
  const accounts: Accounts = {
    governance: at(0),
    attacker: at(1),
    beneficiary: at(2),
    insurer: at(3),
    watcher: at(4),
    feedOwner: at(5),
    victims: [at(6), at(7), at(8)],
    honestInsurer: at(9),
    honestBuyer: at(10),
    treasury: at(11),
  };
  const maker = await benchMaker({
    ethers,
    registry,
    staking: registry,
    proofs: registry,
    pool: registry,
    governance: accounts.governance,
  });
  const curves: Curve[] = ["p256", "secp256k1"];
  const attackerDevices: BenchDevice[] = [];
  for (let i = 0; i < ATTACKER_DEVICES; i++) {
    attackerDevices.push(
      await registerTrusted(ethers, registry, maker, accounts.attacker, curves[i % 2] ?? "p256"),
    );
  }
  const victimDevices: BenchDevice[] = [];
  for (let i = 0; i < VICTIM_DEVICES; i++) {
    const operator = accounts.victims[i % accounts.victims.length] ?? accounts.governance;
    victimDevices.push(
      await registerTrusted(ethers, registry, maker, operator, curves[i % 2] ?? "p256"),
    );
  }
  return { ethers, time, registry, accounts, attackerDevices, victimDevices };
}

/**
 * Deploys collateral, staking (bounty from `config`), fraud proofs, the feed factory and two pools (cover
 * factor from `config`; the constructors and setBacker enforce bounty + cover factor < 100%), stakes every
 * device at the minimum and gives each pool the honest insurer's capital. Every party approves the pools
 * and staking for the collateral.
 */
export async function deployConfig(base: Base, config: GovernanceConfig): Promise<World> {
  const { ethers, accounts } = base;
  const gov = accounts.governance;
  const govAddress = await gov.getAddress();
  const token = await new MockERC20__factory(gov).deploy("Attack Collateral", "ACOL");
  const staking = await new DeviceStaking__factory(gov).deploy(
    base.registry,
    await token.getAddress(),
    govAddress,
    {
      minStake: MIN_STAKE,
      unbondingPeriod: UNBONDING,
      bountyBps: config.bountyBps,
      lossRecipient: await accounts.treasury.getAddress(),
    },
  );
  const stakingAddress = await staking.getAddress();
  const proofs = await new FraudProofs__factory(gov).deploy(
    base.registry,
    stakingAddress,
    EVIDENCE_WINDOW,
  );
  await send(staking.setProofs(await proofs.getAddress()));
  const registry = DeviceRegistry__factory.connect(base.registry, gov);
  await send(registry.grantRole(await registry.SUSPENDER_ROLE(), stakingAddress));
  const factory = await new DeviceFeedFactory__factory(gov).deploy(base.registry, stakingAddress);
  const pools: InsurancePool[] = [];
  for (let i = 0; i < 2; i++) {
    const pool = await new InsurancePool__factory(gov).deploy(
      await token.getAddress(),
      base.registry,
      stakingAddress,
      await proofs.getAddress(),
      await factory.getAddress(),
      govAddress,
      poolParams(config.coverFactorBps),
      [...PAYOUT_BPS],
    );
    await send(staking.setBacker(await pool.getAddress(), true));
    pools.push(pool);
  }
  const parties = [
    accounts.attacker,
    accounts.beneficiary,
    accounts.insurer,
    accounts.watcher,
    accounts.feedOwner,
    ...accounts.victims,
    accounts.honestInsurer,
    accounts.honestBuyer,
  ];
  for (const party of parties) {
    const t = token.connect(party);
    await send(t.approve(stakingAddress, MaxUint256));
    for (const pool of pools) await send(t.approve(await pool.getAddress(), MaxUint256));
  }
  for (const d of [...base.attackerDevices, ...base.victimDevices]) {
    await send(token.mint(await d.operator.getAddress(), MIN_STAKE));
    await send(staking.connect(d.operator).stake(d.id, MIN_STAKE));
  }
  for (const pool of pools) {
    await send(token.mint(await accounts.honestInsurer.getAddress(), HONEST_CAPITAL));
    await send(
      pool
        .connect(accounts.honestInsurer)
        .deposit(HONEST_CAPITAL, await accounts.honestInsurer.getAddress()),
    );
  }
  const attackerAddresses = await Promise.all(
    [
      accounts.attacker,
      accounts.beneficiary,
      accounts.insurer,
      accounts.watcher,
      accounts.feedOwner,
    ].map((s) => s.getAddress()),
  );
  return {
    ethers,
    time: base.time,
    accounts,
    attackerAddresses,
    attackerDevices: base.attackerDevices,
    victimDevices: base.victimDevices,
    config,
    token,
    staking,
    proofs,
    factory,
    pools,
    nextSequence: 1n,
  };
}

/** Mints `amount` of collateral to `to`. */
export async function mint(world: World, to: Signer, amount: bigint): Promise<void> {
  if (amount > 0n) await send(world.token.mint(await to.getAddress(), amount));
}

/**
 * Stakes `amount` more on the device from its operator's balance (minted first only when the balance is
 * short: the attacker stakes from the working capital it was given, so no stake appears from nothing).
 */
export async function topUp(world: World, d: BenchDevice, amount: bigint): Promise<void> {
  if (amount <= 0n) return;
  const balance = await world.token.balanceOf(await d.operator.getAddress());
  if (balance < amount) await mint(world, d.operator, amount - balance);
  await send(world.staking.connect(d.operator).stake(d.id, amount));
}

/** A feed owned by `owner` (quorum 1, readings fresh for 6 days: under the 7-day evidence window). */
export async function createFeed(world: World, owner: Signer): Promise<DeviceFeed> {
  await send(
    world.factory.connect(owner).createFeed({
      quorum: 1,
      decimals: 8,
      maxDeviationBps: 0,
      maxSpreadBps: 0,
      deviationThresholdBps: 0,
      // Every transaction that brings a reading commits a round.
      heartbeat: 0,
      maxReadingAge: Number(6n * DAY),
      minInterval: 0,
      maxAttestationAge: Number(365n * DAY),
      // At least maxReadingAge (the feed's rule).
      quarantinePeriod: Number(6n * DAY),
      maxQuarantines: 2,
      lockdown: false,
      minStake: MIN_STAKE,
      minValue: -100_000_000_000n,
      maxValue: 100_000_000_000_000n,
      description: "attack bench feed",
    }),
  );
  const address = await world.factory.feedAt((await world.factory.feedCount()) - 1n);
  return DeviceFeed__factory.connect(address, owner);
}

/** One fresh reading of `d` on the feed, so the feed answers (pools insure only answering feeds). */
export async function feedReading(world: World, feed: DeviceFeed, d: BenchDevice): Promise<void> {
  const sequence = world.nextSequence++;
  const s = await d.signer.signReading({
    feedId: (await feed.feedId()) as Hex,
    sequence,
    timestamp: BigInt(await world.time.latest()),
    value: 2_150_000_000_000n,
  });
  await send(feed.submit(s.message, s.key, s.signature));
}

/** The device lies (two values for one sequence, signed at `timestamp`); `prover` proves it for `to`. */
export async function lieAndProve(
  world: World,
  d: BenchDevice,
  timestamp: bigint,
  prover: Signer,
  to: string,
): Promise<Hex> {
  const sequence = world.nextSequence++;
  const reading = { feedId: EVIDENCE_FEED, sequence, timestamp, value: 21_000n };
  const proof = equivocationProof(
    await d.signer.signReading(reading),
    await d.clone.signReading({ ...reading, value: 99_000n }),
  );
  const result = await submitProof(proofsAt(await world.proofs.getAddress(), prover), proof, to);
  return result.incident;
}

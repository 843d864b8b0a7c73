import { randomBytes } from "node:crypto";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Wallet, parseEther, type Provider, type Signer } from "ethers";
import { DeviceSigner, SoftwareKeyStore } from "../device/index.js";
import type { Curve, Hex } from "../protocol/index.js";
import {
  addMaker,
  collateralTokenAt,
  coverBuy,
  coverClaim,
  createFeed,
  equivocationProof,
  feedAt,
  feedFactoryAt,
  addFeedDevices,
  fetchChallenge,
  makerEndorse,
  parseTarget,
  poolAt,
  poolDeposit,
  proofsAt,
  publishFirmware,
  registerDevice,
  registryAt,
  registryDomain,
  stakeAllocate,
  stakeDeallocate,
  stakeDeposit,
  stakingAt,
  stakingToken,
  submitEvidence,
  submitProof,
  type DeviceRegistry,
  type ProofResult,
} from "../client/index.js";
import { InsurancePool__factory, MockERC20__factory } from "../../types/ethers-contracts/index.js";

/**
 * Issue 6's and issue 10's gas figures on a deployed system (registry, staking, proofs, insurance pool over
 * a mintable MockERC20 asset, the staking collateral; the pool approved as a backer in staking):
 * whole-transaction gasUsed from receipts, every transaction sent through the client (src/client). Also the
 * setup the insurance tests share: a registered, attested (trusted) and staked device with a clone of its
 * key, ready to equivocate, and its stake allocated to the pool.
 */

/** The deployed contracts and the account that governs the registry (it adds the bench's maker). */
export interface InsuranceSystem {
  readonly ethers: HardhatEthers;
  readonly registry: string;
  readonly staking: string;
  readonly proofs: string;
  readonly pool: string;
  /** Holds GOVERNOR_ROLE on the registry. */
  readonly governance: Signer;
}

export interface InsuranceGas {
  /** A device's first allocation to the pool (a new allocation slot). */
  readonly "staking.allocate.first": number;
  /** Part of an allocation taken back (the pool's requiredAllocation is asked). */
  readonly "staking.deallocate": number;
  /** An insurer's first deposit into a pool that already holds capital (approval sent beforehand). */
  readonly "insurance.deposit": number;
  /** The first policy on a device (premium approved beforehand). */
  readonly "insurance.buyCoverage.device": number;
  /** The first policy on a feed of 7 members (each checked: trust, incident, allocation; snapshot). */
  readonly "insurance.buyCoverage.feed7": number;
  /** An equivocation proof on a device with one allocation to the pool: the slash pays and books it. */
  readonly "proofs.equivocation.p256.backed": number;
  /** A claim paying out on an equivocation FraudProofs recorded. */
  readonly "insurance.claim.payout": number;
  /** A claim on the feed policy paying one proven member's share (the 7-member snapshot passed). */
  readonly "insurance.claim.feed7": number;
}

const MODEL = 61;
/** The feed id the equivocating readings name (any feed: equivocation needs no feed contract). */
const EVIDENCE_FEED: Hex = `0x${"1e".repeat(32)}`;

/** A maker with a fresh key (funded with gas money by governance), added by governance; and its firmware. */
export async function benchMaker(system: InsuranceSystem): Promise<{
  readonly wallet: Wallet;
  readonly registry: DeviceRegistry;
  readonly measurement: Hex;
}> {
  const wallet = await freshAccount(system);
  await addMaker(
    registryAt(system.registry, system.governance),
    wallet.address,
    "Bench Insurer Maker",
  );
  const registry = registryAt(system.registry, wallet);
  const version = `ins-${randomBytes(4).toString("hex")}`;
  const published = await publishFirmware({
    registry,
    model: MODEL,
    version,
    images: [
      new TextEncoder().encode(`bootloader ${version}`),
      new TextEncoder().encode(`app ${version}`),
    ],
  });
  return { wallet, registry, measurement: published.measurement };
}

export interface InsuredDevice {
  readonly deviceId: Hex;
  readonly signer: DeviceSigner;
  /** The same key in a second key store: it signs a conflicting reading (equivocation). */
  readonly clone: DeviceSigner;
  readonly stake: bigint;
}

/**
 * A device of `maker`'s model registered to `operator`, attested just now on the maker's firmware (so
 * trusted), and staked with `stake` of the collateral (minted to the operator, which must be a MockERC20).
 */
export async function trustedStakedDevice(
  system: InsuranceSystem,
  maker: Awaited<ReturnType<typeof benchMaker>>,
  operator: Signer,
  stake: bigint,
  curve: Curve = "p256",
): Promise<InsuredDevice> {
  const { signer, clone } = await registerTrustedSigner(
    system.ethers.provider,
    system.registry,
    maker,
    operator,
    curve,
  );
  const operatorAddress = await operator.getAddress();
  const staking = stakingAt(system.staking, operator);
  const token = await stakingToken(staking);
  await (await MockERC20__factory.connect(token, operator).mint(operatorAddress, stake)).wait();
  await stakeDeposit({
    staking,
    token: collateralTokenAt(token, operator),
    deviceId: signer.deviceId,
    amount: stake,
  });
  return { deviceId: signer.deviceId, signer, clone, stake };
}

/**
 * A new software key of `curve` registered to `operator` with `maker`'s endorsement and attested just now
 * on the maker's firmware (so trusted), and a clone of it (the same key: what an attacker who extracted
 * it signs with).
 */
export async function registerTrustedSigner(
  provider: Provider,
  registry: string,
  maker: Awaited<ReturnType<typeof benchMaker>>,
  operator: Signer,
  curve: Curve,
): Promise<{ signer: DeviceSigner; clone: DeviceSigner }> {
  const store = SoftwareKeyStore.generate(curve);
  const asOperator = registryAt(registry, operator);
  const domain = await registryDomain(asOperator);
  const signer = new DeviceSigner(store, domain);
  const latest = await provider.getBlock("latest");
  await registerDevice({
    registry: asOperator,
    device: signer,
    operator: await operator.getAddress(),
    deadline: BigInt(latest?.timestamp ?? 0) + 3600n,
    model: MODEL,
    endorsement: await makerEndorse(maker.registry, maker.wallet, signer.deviceId, MODEL),
  });
  const challenge = await fetchChallenge(asOperator, signer.deviceId, "block");
  await submitEvidence(
    asOperator,
    await signer.signAttestation({
      measurement: maker.measurement,
      challenge: challenge.challenge,
      timestamp: challenge.timestamp,
      bootCount: 1n,
    }),
    challenge.challengeBlock,
  );
  const clone = new DeviceSigner(
    SoftwareKeyStore.fromPrivateKey(curve, store.exportPrivateKey()),
    domain,
  );
  return { signer, clone };
}

/**
 * The device signs its next reading and its clone (the same key, another signing record) a different
 * value for the same (feed, sequence), dated now (the incident's time); `watcher` proves it. The
 * proof's result (incident id, slash, backers paid, losses booked).
 */
export async function equivocateProof(
  system: InsuranceSystem,
  device: InsuredDevice,
  watcher: Signer,
): Promise<ProofResult> {
  const latest = await system.ethers.provider.getBlock("latest");
  const reading = {
    feedId: EVIDENCE_FEED,
    sequence: device.signer.nextSequence(EVIDENCE_FEED),
    timestamp: BigInt(latest?.timestamp ?? 0),
    value: 21_000n,
  };
  const proof = equivocationProof(
    await device.signer.signReading(reading),
    await device.clone.signReading({ ...reading, value: 99_000n }),
  );
  return submitProof(proofsAt(system.proofs, watcher), proof, await watcher.getAddress());
}

/** equivocateProof, returning the incident id. */
export async function equivocate(
  system: InsuranceSystem,
  device: InsuredDevice,
  watcher: Signer,
): Promise<Hex> {
  return (await equivocateProof(system, device, watcher)).incident;
}

/**
 * The operator allocates `amount` (default: all its active stake) of the device's stake to the pool, for
 * the device itself or for `feed`. The allocation's gas.
 */
export async function allocateToPool(
  system: InsuranceSystem,
  device: InsuredDevice,
  operator: Signer,
  options: { readonly amount?: bigint; readonly feed?: string } = {},
): Promise<bigint> {
  const r = await stakeAllocate({
    staking: stakingAt(system.staking, operator),
    deviceId: device.deviceId,
    backer: system.pool,
    feed: options.feed,
    amount: options.amount ?? device.stake,
  });
  return r.gasUsed;
}

/** Moves the chain's clock past the pool's waiting period: policies sold before now cover what follows. */
export async function passWaitingPeriod(system: InsuranceSystem): Promise<void> {
  const params = await poolAt(system.pool, system.governance).params();
  await system.ethers.provider.send("evm_increaseTime", [Number(params.waitingPeriod)]);
  await system.ethers.provider.send("evm_mine", []);
}

function clamp(value: bigint, min: bigint, max: bigint): bigint {
  return value < min ? min : value > max ? max : value;
}

async function mint(token: string, to: Signer, amount: bigint): Promise<void> {
  await (await MockERC20__factory.connect(token, to).mint(await to.getAddress(), amount)).wait();
}

/** A fresh account with gas money from governance: every run measures first-time operations. */
async function freshAccount(system: InsuranceSystem): Promise<Wallet> {
  const wallet = new Wallet(Wallet.createRandom().privateKey, system.ethers.provider);
  await (
    await system.governance.sendTransaction({ to: wallet.address, value: parseEther("10") })
  ).wait();
  return wallet;
}

/** Members of the bench's feed policy. */
const FEED_MEMBERS = 7;

/**
 * A feed of FEED_MEMBERS trusted devices of `operator` (who creates it through the pool's feed factory, so
 * each joins at once), each with its whole stake allocated to the pool for the feed, and one reading from
 * each so the feed answers. The feed's address and its members.
 */
async function insuredFeed(
  system: InsuranceSystem,
  maker: Awaited<ReturnType<typeof benchMaker>>,
  operator: Signer,
  stake: bigint,
): Promise<{ readonly feed: Hex; readonly members: InsuredDevice[] }> {
  const factory = await InsurancePool__factory.connect(system.pool, operator).FEED_FACTORY();
  const created = await createFeed(feedFactoryAt(factory, operator), {
    quorum: 4,
    decimals: 2,
    maxDeviationBps: 0,
    maxSpreadBps: 0,
    deviationThresholdBps: 0,
    // Every transaction that brings a reading commits a round.
    heartbeat: 0,
    maxReadingAge: 3600,
    minInterval: 0,
    maxAttestationAge: 24 * 3600,
    quarantinePeriod: 86_400,
    maxQuarantines: 2,
    lockdown: false,
    minStake: stake,
    minValue: -100_000n,
    maxValue: 100_000n,
    description: "Bench insured feed",
  });
  const members: InsuredDevice[] = [];
  for (let i = 0; i < FEED_MEMBERS; i++) {
    members.push(await trustedStakedDevice(system, maker, operator, stake));
  }
  const feed = feedAt(created.feed, operator);
  await addFeedDevices(
    feed,
    members.map((m) => m.deviceId),
  );
  const latest = await system.ethers.provider.getBlock("latest");
  for (const m of members) {
    await allocateToPool(system, m, operator, { feed: created.feed });
    const signed = await m.signer.signReading({
      feedId: created.feedId,
      sequence: 1n,
      timestamp: BigInt(latest?.timestamp ?? 0),
      value: 2_150n,
    });
    await (await feed.submit(signed.message, signed.key, signed.signature)).wait();
  }
  return { feed: created.feed, members };
}

/**
 * Measures allocate, deallocate, deposit, buyCoverage (a device, a 7-member feed), the backed proof and the
 * claims on `system`. Every party is a fresh account funded by governance (operators, two insurers,
 * integrator, watcher; the beneficiary is a fresh address), so a second run on the same chain measures the
 * same first-time operations.
 */
export async function benchInsurance(system: InsuranceSystem): Promise<InsuranceGas> {
  const operator = await freshAccount(system);
  const feedOperator = await freshAccount(system);
  const seedInsurer = await freshAccount(system);
  const insurer = await freshAccount(system);
  const integrator = await freshAccount(system);
  const watcher = await freshAccount(system);
  const maker = await benchMaker(system);
  const minStake = (await stakingAt(system.staking, operator).params()).minStake;
  const device = await trustedStakedDevice(system, maker, operator, 10n * minStake);
  const allocateGas = await allocateToPool(system, device, operator);

  const pool = poolAt(system.pool, insurer);
  const asset = await pool.asset();
  const params = await pool.params();
  // Half the device's capacity (its whole stake allocated); the pool holds 8x that, far under any cap.
  const coverage = (device.stake * params.coverFactorBps) / 20_000n;
  await mint(asset, seedInsurer, 8n * coverage);
  await poolDeposit({
    pool: poolAt(system.pool, seedInsurer),
    token: collateralTokenAt(asset, seedInsurer),
    assets: 8n * coverage,
  });
  // A policy on another device first: the measured sales and deposit find the pool's premium streams
  // running (its steady state), as in every run after the first.
  const warm = await trustedStakedDevice(system, maker, operator, device.stake);
  await allocateToPool(system, warm, operator);
  await mint(asset, seedInsurer, coverage);
  await coverBuy({
    pool: poolAt(system.pool, seedInsurer),
    token: collateralTokenAt(asset, seedInsurer),
    target: parseTarget({ device: warm.deviceId }),
    amount: coverage,
    term: clamp(30n * 86_400n, params.minTerm, params.maxTerm),
    beneficiary: Wallet.createRandom().address,
  });
  await mint(asset, insurer, coverage);
  const insurerToken = collateralTokenAt(asset, insurer);
  await (await insurerToken.approve(system.pool, coverage)).wait();
  const deposit = await poolDeposit({ pool, token: insurerToken, assets: coverage });

  await mint(asset, integrator, 2n * coverage);
  const integratorToken = collateralTokenAt(asset, integrator);
  await (await integratorToken.approve(system.pool, 2n * coverage)).wait();
  const term = clamp(30n * 86_400n, params.minTerm, params.maxTerm);
  const target = parseTarget({ device: device.deviceId });
  const beneficiary = Wallet.createRandom().address;
  const bought = await coverBuy({
    pool: poolAt(system.pool, integrator),
    token: integratorToken,
    target,
    amount: coverage,
    term,
    beneficiary,
  });
  // The coverage uses half the allocation: a quarter of it can go back.
  const deallocated = await stakeDeallocate({
    staking: stakingAt(system.staking, operator),
    deviceId: device.deviceId,
    backer: system.pool,
    amount: device.stake / 4n,
  });
  // Back again: the proof below slashes a device whose whole stake is its one allocation to the pool.
  await allocateToPool(system, device, operator, { amount: device.stake / 4n });

  const insured = await insuredFeed(system, maker, feedOperator, 2n * minStake);
  const feedTarget = parseTarget({ feed: insured.feed });
  // Each of the 7 members carries ceil(amount / 4): half its capacity.
  const feedCoverage = (2n * minStake * params.coverFactorBps) / 10_000n;
  const feedBought = await coverBuy({
    pool: poolAt(system.pool, integrator),
    token: integratorToken,
    target: feedTarget,
    amount: feedCoverage,
    term,
    beneficiary,
  });

  await passWaitingPeriod(system);
  const proof = await equivocateProof(system, device, watcher);
  if (proof.lossesBooked.length !== 1)
    throw new Error("the backed proof booked no loss in the pool");
  const claim = await coverClaim(
    poolAt(system.pool, watcher),
    target,
    bought.serial,
    proof.incident,
  );
  if (claim.payout === 0n) throw new Error("the bench's claim paid nothing: check payoutBps");
  const liar = insured.members[0];
  if (liar === undefined) throw new Error("the bench feed has no members");
  const feedIncident = await equivocate(system, liar, watcher);
  const feedClaim = await coverClaim(
    poolAt(system.pool, watcher),
    feedTarget,
    feedBought.serial,
    feedIncident,
  );
  if (feedClaim.payout === 0n) throw new Error("the bench's feed claim paid nothing");
  return {
    "staking.allocate.first": Number(allocateGas),
    "staking.deallocate": Number(deallocated.gasUsed),
    "insurance.deposit": Number(deposit.gasUsed),
    "insurance.buyCoverage.device": Number(bought.gasUsed),
    "insurance.buyCoverage.feed7": Number(feedBought.gasUsed),
    "proofs.equivocation.p256.backed": Number(proof.gasUsed),
    "insurance.claim.payout": Number(claim.gasUsed),
    "insurance.claim.feed7": Number(feedClaim.gasUsed),
  };
}

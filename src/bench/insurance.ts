import { randomBytes } from "node:crypto";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Wallet, parseEther, type Signer } from "ethers";
import { DeviceSigner, SoftwareKeyStore } from "../device/index.js";
import type { Curve, Hex } from "../protocol/index.js";
import {
  addMaker,
  collateralTokenAt,
  coverBuy,
  coverClaim,
  equivocationProof,
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
  stakeDeposit,
  stakingAt,
  stakingToken,
  submitEvidence,
  submitProof,
  type DeviceRegistry,
} from "../client/index.js";
import { MockERC20__factory } from "../../types/ethers-contracts/index.js";

/**
 * Issue 6's gas figures on a deployed system (registry, staking, proofs, insurance pool over a mintable
 * MockERC20 asset, the staking collateral): whole-transaction gasUsed from receipts, every transaction
 * sent through the client (src/client/insurance*.ts). Also the setup the insurance tests share: a
 * registered, attested (trusted) and staked device with a clone of its key, ready to equivocate.
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
  /** An insurer's first deposit into a pool that already holds capital (approval sent beforehand). */
  readonly "insurance.deposit": number;
  /** The first policy on a device (premium approved beforehand). */
  readonly "insurance.buyCoverage.device": number;
  /** A claim paying out on an equivocation FraudProofs recorded. */
  readonly "insurance.claim.payout": number;
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
  const store = SoftwareKeyStore.generate(curve);
  const asOperator = registryAt(system.registry, operator);
  const domain = await registryDomain(asOperator);
  const signer = new DeviceSigner(store, domain);
  const operatorAddress = await operator.getAddress();
  const latest = await system.ethers.provider.getBlock("latest");
  await registerDevice({
    registry: asOperator,
    device: signer,
    operator: operatorAddress,
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
  const staking = stakingAt(system.staking, operator);
  const token = await stakingToken(staking);
  await (await MockERC20__factory.connect(token, operator).mint(operatorAddress, stake)).wait();
  await stakeDeposit({
    staking,
    token: collateralTokenAt(token, operator),
    deviceId: signer.deviceId,
    amount: stake,
  });
  const clone = new DeviceSigner(
    SoftwareKeyStore.fromPrivateKey(curve, store.exportPrivateKey()),
    domain,
  );
  return { deviceId: signer.deviceId, signer, clone, stake };
}

/** The device signs two different values for one (feed, sequence); `watcher` proves it. The incident id. */
export async function equivocate(
  system: InsuranceSystem,
  device: InsuredDevice,
  watcher: Signer,
): Promise<Hex> {
  const latest = await system.ethers.provider.getBlock("latest");
  const reading = {
    feedId: EVIDENCE_FEED,
    sequence: 1n,
    timestamp: BigInt(latest?.timestamp ?? 0),
    value: 21_000n,
  };
  const proof = equivocationProof(
    await device.signer.signReading(reading),
    await device.clone.signReading({ ...reading, value: 99_000n }),
  );
  const result = await submitProof(
    proofsAt(system.proofs, watcher),
    proof,
    await watcher.getAddress(),
  );
  return result.incident;
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

/**
 * Measures deposit, buyCoverage and claim on `system`. Every party is a fresh account funded by
 * governance (operator, two insurers, integrator, watcher; the beneficiary is a fresh address), so a second
 * run on the same chain measures the same first-time operations.
 */
export async function benchInsurance(system: InsuranceSystem): Promise<InsuranceGas> {
  const operator = await freshAccount(system);
  const seedInsurer = await freshAccount(system);
  const insurer = await freshAccount(system);
  const integrator = await freshAccount(system);
  const watcher = await freshAccount(system);
  const maker = await benchMaker(system);
  const minStake = (await stakingAt(system.staking, operator).params()).minStake;
  const device = await trustedStakedDevice(system, maker, operator, 10n * minStake);

  const pool = poolAt(system.pool, insurer);
  const asset = await pool.asset();
  const params = await pool.params();
  // Half the device's capacity; the pool holds 4x that, far under any utilization cap.
  const coverage = (device.stake * params.coverFactorBps) / 20_000n;
  await mint(asset, seedInsurer, 4n * coverage);
  await poolDeposit({
    pool: poolAt(system.pool, seedInsurer),
    token: collateralTokenAt(asset, seedInsurer),
    assets: 4n * coverage,
  });
  await mint(asset, insurer, coverage);
  const insurerToken = collateralTokenAt(asset, insurer);
  await (await insurerToken.approve(system.pool, coverage)).wait();
  const deposit = await poolDeposit({ pool, token: insurerToken, assets: coverage });

  await mint(asset, integrator, coverage);
  const integratorToken = collateralTokenAt(asset, integrator);
  await (await integratorToken.approve(system.pool, coverage)).wait();
  const target = parseTarget({ device: device.deviceId });
  const beneficiary = Wallet.createRandom().address;
  const bought = await coverBuy({
    pool: poolAt(system.pool, integrator),
    token: integratorToken,
    target,
    amount: coverage,
    term: clamp(30n * 86_400n, params.minTerm, params.maxTerm),
    beneficiary,
  });

  const incident = await equivocate(system, device, watcher);
  const claim = await coverClaim(poolAt(system.pool, watcher), target, bought.serial, incident);
  if (claim.payout === 0n) throw new Error("the bench's claim paid nothing: check payoutBps");
  return {
    "insurance.deposit": Number(deposit.gasUsed),
    "insurance.buyCoverage.device": Number(bought.gasUsed),
    "insurance.claim.payout": Number(claim.gasUsed),
  };
}

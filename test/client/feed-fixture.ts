import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  addFeedDevices,
  addMaker,
  collateralTokenAt,
  createFeed,
  feedAt,
  feedFactoryAt,
  fetchChallenge,
  joinFeed,
  makerEndorse,
  publishFirmware,
  registerDevice,
  registryAt,
  registryDomain,
  stakeDeposit,
  stakingAt,
  submitEvidence,
  type FeedConfig,
} from "../../src/client/index.js";
import {
  deviceIdOf,
  measure,
  type Curve,
  type Domain,
  type Hex,
} from "../../src/protocol/index.js";
import { MockERC20__factory } from "../../types/ethers-contracts/index.js";

/**
 * A whole feed system on any Hardhat connection (the client tests' own chain, or the shared one the
 * tasks use): registry, staking with a mock collateral, fraud proofs, firmware, `devices` registered,
 * attested, staked devices (P-256 at even indices, secp256k1 at odd ones), a DeviceFeedFactory, a
 * ReadingAnchor and one feed with every device a member (the owner invites them, their operator joins).
 * FEED_CONFIG: quorum 4, rounds at a 10-minute heartbeat or a 0.5% move, a member quarantined for a
 * reading within 10 s of its last, a 10% jump or a 20% spread from the answer, a day's cool-off.
 * Accounts: 0 governance, 1 maker, 2 operator, 3 feed owner, 4 loss recipient, 5 watcher. No describe() here.
 */
export const FEED_MODEL = 9;
export const FEED_MIN_STAKE = 1_000n;
export const FEED_CONFIG: FeedConfig = {
  quorum: 4,
  decimals: 8,
  maxDeviationBps: 1_000,
  maxSpreadBps: 2_000,
  deviationThresholdBps: 50,
  heartbeat: 600,
  maxReadingAge: 3_600,
  minInterval: 10,
  maxAttestationAge: 30 * 24 * 3_600,
  quarantinePeriod: 86_400,
  maxQuarantines: 2,
  lockdown: false,
  minStake: FEED_MIN_STAKE,
  minValue: -1_000n * 10n ** 8n,
  maxValue: 1_000_000n * 10n ** 8n,
  description: "Temperature, Hall 3 (C, 8 decimals)",
};
const IMAGES = [new TextEncoder().encode("bootloader 1"), new TextEncoder().encode("meter 1.0")];

export interface FeedDevice {
  readonly curve: Curve;
  readonly store: SoftwareKeyStore;
  readonly deviceId: Hex;
  readonly signer: DeviceSigner;
}

async function accounts(ethers: HardhatEthers) {
  const [governance, maker, operator, owner, loss, watcher] = await ethers.getSigners();
  if (
    governance === undefined ||
    maker === undefined ||
    operator === undefined ||
    owner === undefined ||
    loss === undefined ||
    watcher === undefined
  ) {
    throw new Error("the network must have at least 6 accounts");
  }
  return { governance, maker, operator, owner, loss, watcher };
}

export async function deployFeedSystem(
  ethers: HardhatEthers,
  options: { readonly devices?: number; readonly config?: FeedConfig } = {},
) {
  const a = await accounts(ethers);
  const registryContract = await ethers.deployContract("DeviceRegistry", [a.governance.address]);
  const registryAddress = (await registryContract.getAddress()).toLowerCase() as Hex;
  const token = await ethers.deployContract("MockERC20", ["Collateral", "COL"]);
  const tokenAddress = (await token.getAddress()).toLowerCase() as Hex;
  const stakingContract = await ethers.deployContract("DeviceStaking", [
    registryAddress,
    tokenAddress,
    a.governance.address,
    {
      minStake: FEED_MIN_STAKE,
      unbondingPeriod: 7n * 86_400n,
      bountyBps: 1_000n,
      lossRecipient: a.loss.address,
    },
  ]);
  const stakingAddress = (await stakingContract.getAddress()).toLowerCase() as Hex;
  const proofsContract = await ethers.deployContract("FraudProofs", [
    registryAddress,
    stakingAddress,
    3n * 86_400n,
  ]);
  const proofsAddress = (await proofsContract.getAddress()).toLowerCase() as Hex;
  await (await stakingAt(stakingAddress, a.governance).setProofs(proofsAddress)).wait();
  const asGovernance = registryAt(registryAddress, a.governance);
  await (await asGovernance.grantRole(await asGovernance.SUSPENDER_ROLE(), stakingAddress)).wait();
  await (
    await MockERC20__factory.connect(tokenAddress, a.governance).mint(a.operator.address, 10n ** 9n)
  ).wait();
  await addMaker(asGovernance, a.maker.address, "Acme Sensors");
  const asMaker = registryAt(registryAddress, a.maker);
  await publishFirmware({ registry: asMaker, model: FEED_MODEL, version: "1.0.0", images: IMAGES });
  const factoryContract = await ethers.deployContract("DeviceFeedFactory", [
    registryAddress,
    stakingAddress,
  ]);
  const factoryAddress = (await factoryContract.getAddress()).toLowerCase() as Hex;
  const anchorContract = await ethers.deployContract("ReadingAnchor", [registryAddress]);
  const anchorAddress = (await anchorContract.getAddress()).toLowerCase() as Hex;
  const asOperator = registryAt(registryAddress, a.operator);
  const domain: Domain = await registryDomain(asOperator);
  const system = {
    ...a,
    registryAddress,
    stakingAddress,
    proofsAddress,
    tokenAddress,
    factoryAddress,
    anchorAddress,
    domain,
  };
  const devices: FeedDevice[] = [];
  for (let i = 0; i < (options.devices ?? 7); i++) {
    devices.push(await feedDevice(ethers, system, i % 2 === 0 ? "p256" : "secp256k1", i));
  }
  const created = await createFeed(
    feedFactoryAt(factoryAddress, a.owner),
    options.config ?? FEED_CONFIG,
  );
  const feed = feedAt(created.feed, a.owner);
  if (devices.length > 0) {
    const ids = devices.map((d) => d.deviceId);
    // The owner does not operate the devices: it invites them, and their operator consents by joining.
    await addFeedDevices(feed, ids);
    await joinFeed(feedAt(created.feed, a.operator), ids);
  }
  return { ...system, devices, feedAddress: created.feed, feedId: created.feedId, feed };
}

export type FeedSystem = Awaited<ReturnType<typeof deployFeedSystem>>;

/** A device registered (endorsed by the maker), attested on the published firmware and staked. */
export async function feedDevice(
  ethers: HardhatEthers,
  system: Pick<FeedSystem, "registryAddress" | "stakingAddress" | "tokenAddress" | "domain">,
  curve: Curve,
  index = 0,
): Promise<FeedDevice> {
  const a = await accounts(ethers);
  const store = SoftwareKeyStore.generate(curve);
  const deviceId = deviceIdOf(store.deviceKey);
  const asOperator = registryAt(system.registryAddress, a.operator);
  const latest = await ethers.provider.getBlock("latest");
  await registerDevice({
    registry: asOperator,
    device: store,
    operator: a.operator.address,
    deadline: BigInt(latest?.timestamp ?? 0) + 3_600n,
    model: FEED_MODEL,
    endorsement: await makerEndorse(
      registryAt(system.registryAddress, a.maker),
      a.maker,
      deviceId,
      FEED_MODEL,
    ),
  });
  const signer = new DeviceSigner(store, system.domain);
  const challenge = await fetchChallenge(asOperator, deviceId, "block");
  const evidence = await signer.signAttestation({
    measurement: (await measure(IMAGES)).measurement,
    challenge: challenge.challenge,
    timestamp: challenge.timestamp,
    bootCount: 0n,
  });
  await submitEvidence(asOperator, evidence, challenge.challengeBlock);
  await stakeDeposit({
    staking: stakingAt(system.stakingAddress, a.operator),
    token: collateralTokenAt(system.tokenAddress, a.operator),
    deviceId,
    amount: FEED_MIN_STAKE + BigInt(index) * 100n,
  });
  return { curve, store, deviceId, signer };
}

/**
 * The device attests again (a fresh block challenge, one second after the latest block so its evidence is
 * newer than anything before): what a quarantined member needs before it is readmitted.
 */
export async function reattest(
  ethers: HardhatEthers,
  system: Pick<FeedSystem, "registryAddress">,
  device: FeedDevice,
): Promise<void> {
  const a = await accounts(ethers);
  await ethers.provider.send("evm_increaseTime", [1]);
  await ethers.provider.send("evm_mine", []);
  const asOperator = registryAt(system.registryAddress, a.operator);
  const challenge = await fetchChallenge(asOperator, device.deviceId, "block");
  const evidence = await device.signer.signAttestation({
    measurement: (await measure(IMAGES)).measurement,
    challenge: challenge.challenge,
    timestamp: challenge.timestamp,
    bootCount: 1n,
  });
  await submitEvidence(asOperator, evidence, challenge.challengeBlock);
}

/** The latest block's timestamp. */
export async function chainTime(ethers: HardhatEthers): Promise<bigint> {
  const block = await ethers.provider.getBlock("latest");
  return BigInt(block?.timestamp ?? 0);
}

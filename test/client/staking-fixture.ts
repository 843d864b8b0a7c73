import { id } from "ethers";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import type { Curve, Hex } from "../../src/protocol/index.js";
import {
  collateralTokenAt,
  proofsAt,
  registryDomain,
  stakeDeposit,
  stakingAt,
} from "../../src/client/index.js";
import { MockERC20__factory } from "../../types/ethers-contracts/index.js";
import { MODEL, deployFixture, ethers, registeredDevice, type Fixture } from "./fixture.js";

/**
 * The client fixture plus the staking system: a MockERC20 collateral, DeviceStaking (governed by account
 * 0, SUSPENDER_ROLE on the registry), FraudProofs, the maker's sensor range for MODEL, a loss recipient
 * (account 4) and a watchtower beneficiary (account 5). No describe() here.
 */
export const MIN_STAKE = 1_000n;
export const UNBONDING = 7n * 24n * 3600n;
export const EVIDENCE_WINDOW = 3n * 24n * 3600n;
export const BOUNTY_BPS = 1_000n;
export const RANGE = { min: -40_000n, max: 85_000n } as const;
export const FEED = id("temperature") as Hex;

export async function stakingFixture() {
  const f = await deployFixture();
  const signers = await ethers.getSigners();
  const lossRecipient = signers[4];
  const beneficiary = signers[5];
  if (lossRecipient === undefined || beneficiary === undefined) {
    throw new Error("the in-process network must have at least 6 accounts");
  }
  const token = await ethers.deployContract("MockERC20", ["Collateral", "COL"]);
  const tokenAddress = await token.getAddress();
  const staking = await ethers.deployContract("DeviceStaking", [
    f.address,
    tokenAddress,
    f.governance.address,
    {
      minStake: MIN_STAKE,
      unbondingPeriod: UNBONDING,
      bountyBps: BOUNTY_BPS,
      lossRecipient: lossRecipient.address,
    },
  ]);
  const stakingAddress = await staking.getAddress();
  const proofs = await ethers.deployContract("FraudProofs", [
    f.address,
    stakingAddress,
    EVIDENCE_WINDOW,
  ]);
  const proofsAddress = await proofs.getAddress();
  await (await stakingAt(stakingAddress, f.governance).setProofs(proofsAddress)).wait();
  await (
    await f.asGovernance.grantRole(await f.asGovernance.SUSPENDER_ROLE(), stakingAddress)
  ).wait();
  await (
    await proofsAt(proofsAddress, f.makerAccount).setSensorRange(MODEL, RANGE.min, RANGE.max)
  ).wait();
  await (
    await MockERC20__factory.connect(tokenAddress, f.governance).mint(
      f.operator.address,
      1_000_000n,
    )
  ).wait();
  return {
    ...f,
    lossRecipient,
    beneficiary,
    tokenAddress: tokenAddress.toLowerCase() as Hex,
    stakingAddress: stakingAddress.toLowerCase() as Hex,
    proofsAddress: proofsAddress.toLowerCase() as Hex,
    tokenAsOperator: collateralTokenAt(tokenAddress, f.operator),
    tokenAsOther: collateralTokenAt(tokenAddress, f.other),
    stakingAsOperator: stakingAt(stakingAddress, f.operator),
    stakingAsOther: stakingAt(stakingAddress, f.other),
    proofsAsOther: proofsAt(proofsAddress, f.other),
  };
}

export type StakingFixture = Awaited<ReturnType<typeof stakingFixture>>;

/** A registered device, its signer, and a clone: a second key store loaded from the exported secret. */
export async function clonedDevice(f: Fixture, curve: Curve = "p256") {
  const { store, deviceId } = await registeredDevice(f, curve);
  const domain = await registryDomain(f.asOperator);
  const clone = SoftwareKeyStore.fromPrivateKey(curve, store.exportPrivateKey());
  return {
    deviceId,
    store,
    signer: new DeviceSigner(store, domain),
    cloneSigner: new DeviceSigner(clone, domain),
  };
}

/** A cloned device (clonedDevice) with `amount` staked by the fixture's operator. */
export async function stakedClonedDevice(
  f: StakingFixture,
  curve: Curve = "p256",
  amount = 10_000n,
) {
  const device = await clonedDevice(f, curve);
  await stakeDeposit({
    staking: f.stakingAsOperator,
    token: f.tokenAsOperator,
    deviceId: device.deviceId,
    amount,
  });
  return device;
}

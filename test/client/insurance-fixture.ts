import { buildDeviceFeedsModule } from "../../deploy/modules/DeviceFeeds.js";
import { buildDeviceStakingModule } from "../../deploy/modules/DeviceStaking.js";
import { buildInsurancePoolModule } from "../../deploy/modules/InsurancePool.js";
import {
  allocateToPool,
  benchMaker,
  equivocate,
  passWaitingPeriod,
  trustedStakedDevice,
  type InsuranceSystem,
} from "../../src/bench/insurance.js";
import { collateralTokenAt, parseTarget, poolAt, poolDeposit } from "../../src/client/index.js";
import type { ContractRunner } from "ethers";
import type { Hex } from "../../src/protocol/index.js";
import { MockERC20__factory } from "../../types/ethers-contracts/index.js";
import { connection } from "./fixture.js";

/**
 * The insurance tests' system, deployed by the Ignition modules (the deployer, account 0, governs and
 * approved the pool as a backer): a maker and its firmware, a trusted device staked with STAKE and all of
 * it allocated to the pool for the device itself (operator: account 2), the pool funded with CAPITAL by
 * account 3. No describe() here.
 */
export const STAKE = 10n * 10n ** 18n;
export const CAPITAL = 100n * 10n ** 18n;
/** Longer than the default 7-day evidence window, as the pool requires; not the module's default 8 days. */
export const COOLDOWN = 9n * 24n * 3600n;

/** What the deployment needs of a network connection (the client tests' own, or the tasks' getOrCreate). */
export type InsuranceConnection = Pick<typeof connection, "ethers" | "ignition">;

export async function insuranceFixture() {
  return deployInsurance(connection);
}

export async function deployInsurance(conn: InsuranceConnection) {
  const { ethers } = conn;
  const signers = await ethers.getSigners();
  const [governance, , operator, insurer, insurer2, integrator, beneficiary, watcher] = signers;
  if (
    governance === undefined ||
    operator === undefined ||
    insurer === undefined ||
    insurer2 === undefined ||
    integrator === undefined ||
    beneficiary === undefined ||
    watcher === undefined
  ) {
    throw new Error("the in-process network must have at least 8 accounts");
  }
  const stakingModule = buildDeviceStakingModule();
  const feedsModule = buildDeviceFeedsModule({ stakingModule });
  const deployed = await conn.ignition.deploy(
    buildInsurancePoolModule({ stakingModule, feedsModule }),
    { parameters: { InsurancePool: { cooldown: COOLDOWN } } },
  );
  const address = async (c: { getAddress(): Promise<string> }) =>
    (await c.getAddress()).toLowerCase() as Hex;
  const system: InsuranceSystem = {
    ethers,
    registry: await address(deployed.deviceRegistry),
    staking: await address(deployed.deviceStaking),
    proofs: await address(deployed.fraudProofs),
    pool: await address(deployed.insurancePool),
    governance,
  };
  const asset = await address(deployed.collateralToken);
  for (const account of [insurer, insurer2, integrator]) {
    await (await MockERC20__factory.connect(asset, account).mint(account.address, CAPITAL)).wait();
  }
  const maker = await benchMaker(system);
  const device = await trustedStakedDevice(system, maker, operator, STAKE);
  await allocateToPool(system, device, operator);
  await poolDeposit({
    pool: poolAt(system.pool, insurer),
    token: collateralTokenAt(asset, insurer),
    assets: CAPITAL / 2n,
  });
  return {
    system,
    asset,
    maker,
    device,
    target: parseTarget({ device: device.deviceId }),
    governance,
    operator,
    insurer,
    insurer2,
    integrator,
    beneficiary,
    watcher,
    poolAs: (account: ContractRunner) => poolAt(system.pool, account),
    tokenAs: (account: ContractRunner) => collateralTokenAt(asset, account),
    /** The device equivocates once the pool's waiting period passed (policies bought before cover it). */
    equivocate: async () => {
      await passWaitingPeriod(system);
      return equivocate(system, device, watcher);
    },
  };
}

export type InsuranceFixture = Awaited<ReturnType<typeof insuranceFixture>>;

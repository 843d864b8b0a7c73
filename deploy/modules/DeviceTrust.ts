import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import DeviceRegistryModule from "./DeviceRegistry.js";
import { buildDeviceFeedsModule } from "./DeviceFeeds.js";
import { buildDeviceStakingModule, type DeviceStakingModuleOptions } from "./DeviceStaking.js";
import { buildInsurancePoolModule } from "./InsurancePool.js";

/**
 * The whole DeviceTrust system: the registry (identity and attestation), staking with its collateral
 * token, fraud proofs wired to both (setProofs, SUSPENDER_ROLE for staking), and the feeds' factory
 * and reading anchor over the registry and staking, and the insurance pool over all of them, approved by
 * governance as a backer in staking so operators can allocate stake to it (see
 * deploy/modules/InsurancePool.ts).
 *
 * The wiring calls are sent from the governance account (`governanceAccount`, default account 1), so
 * DeviceRegistry's `governance` parameter must be that account's address (deploy/parameters.json names
 * it). To deploy without parameters (the deployer governs), build with `{ governanceAccount: 0 }`.
 */
export function buildDeviceTrustModule(options: DeviceStakingModuleOptions = {}) {
  const stakingModule = buildDeviceStakingModule(options);
  const feedsModule = buildDeviceFeedsModule({ stakingModule });
  const insuranceModule = buildInsurancePoolModule({
    stakingModule,
    feedsModule,
    governanceAccount: options.governanceAccount,
  });
  return buildModule("DeviceTrust", (m) => {
    const { deviceRegistry } = m.useModule(DeviceRegistryModule);
    const { collateralToken, deviceStaking, fraudProofs } = m.useModule(stakingModule);
    const { deviceFeedFactory, readingAnchor } = m.useModule(feedsModule);
    const { insurancePool } = m.useModule(insuranceModule);
    return {
      deviceRegistry,
      collateralToken,
      deviceStaking,
      fraudProofs,
      deviceFeedFactory,
      readingAnchor,
      insurancePool,
    };
  });
}

export default buildDeviceTrustModule();

import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import DeviceRegistryModule from "./DeviceRegistry.js";
import { buildDeviceStakingModule, type DeviceStakingModuleOptions } from "./DeviceStaking.js";

/**
 * The whole DeviceTrust system: the registry (identity and attestation), staking with its collateral
 * token, and fraud proofs wired to both (setProofs, SUSPENDER_ROLE for staking). Feeds and insurance
 * join here as they are built (each in its own module, wired to the registry).
 *
 * The wiring calls are sent from the governance account (`governanceAccount`, default account 1), so
 * DeviceRegistry's `governance` parameter must be that account's address (deploy/parameters.json names
 * it). To deploy without parameters (the deployer governs), build with `{ governanceAccount: 0 }`.
 */
export function buildDeviceTrustModule(options: DeviceStakingModuleOptions = {}) {
  const stakingModule = buildDeviceStakingModule(options);
  return buildModule("DeviceTrust", (m) => {
    const { deviceRegistry } = m.useModule(DeviceRegistryModule);
    const { collateralToken, deviceStaking, fraudProofs } = m.useModule(stakingModule);
    return { deviceRegistry, collateralToken, deviceStaking, fraudProofs };
  });
}

export default buildDeviceTrustModule();

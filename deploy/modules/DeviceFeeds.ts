import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import DeviceRegistryModule from "./DeviceRegistry.js";
import DeviceStakingModule from "./DeviceStaking.js";

export interface DeviceFeedsModuleOptions {
  /**
   * The staking module whose DeviceStaking the feeds read stake from (default: DeviceStaking's default
   * module). Pass the one the system module builds, so both use the same future ids.
   */
  readonly stakingModule?: typeof DeviceStakingModule;
  /** The registry module (default: DeviceRegistry's default). */
  readonly registryModule?: typeof DeviceRegistryModule;
}

/**
 * Device data feeds next to the registry and staking: a DeviceFeedFactory (feeds it creates check
 * devices against the registry and stake against DeviceStaking; `feed create` uses it) and a
 * ReadingAnchor (device-signed batch roots, under the registry's EIP-712 domain). No parameters (module
 * id "DeviceFeeds"): feeds are created afterwards, each with its own configuration, by their owners.
 */
export function buildDeviceFeedsModule(options: DeviceFeedsModuleOptions = {}) {
  const stakingModule = options.stakingModule ?? DeviceStakingModule;
  const registryModule = options.registryModule ?? DeviceRegistryModule;
  return buildModule("DeviceFeeds", (m) => {
    const { deviceRegistry } = m.useModule(registryModule);
    const { deviceStaking } = m.useModule(stakingModule);
    const deviceFeedFactory = m.contract("DeviceFeedFactory", [deviceRegistry, deviceStaking]);
    const readingAnchor = m.contract("ReadingAnchor", [deviceRegistry]);
    return { deviceFeedFactory, readingAnchor };
  });
}

/** Over the default registry and staking modules. */
export default buildDeviceFeedsModule();

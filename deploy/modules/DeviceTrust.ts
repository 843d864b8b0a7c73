import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import DeviceRegistryModule from "./DeviceRegistry.js";

/**
 * The whole DeviceTrust system. Today: the identity layer. Attestation, staking, feeds and insurance
 * join here as they are built (each in its own module, wired to the registry).
 */
export default buildModule("DeviceTrust", (m) => {
  const { deviceRegistry } = m.useModule(DeviceRegistryModule);
  return { deviceRegistry };
});

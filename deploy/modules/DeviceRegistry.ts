import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { id } from "ethers";

/** keccak256("SUSPENDER_ROLE"), as DeviceRegistry.SUSPENDER_ROLE. */
export const SUSPENDER_ROLE = id("SUSPENDER_ROLE");

/**
 * Builds the DeviceRegistry module. Parameters (module id "DeviceRegistry"):
 * - `governance`: holds DEFAULT_ADMIN_ROLE and GOVERNOR_ROLE (defaults to the deploying account).
 *
 * Ignition modules are static (parameters are resolved at execution, after the module is built), so a
 * list of SUSPENDER_ROLE holders cannot come from a parameter: pass it here. The grants are sent from
 * the `governance` account, so they succeed only when the deploying side controls governance; otherwise
 * governance grants the role later (`grantRole(SUSPENDER_ROLE, account)`).
 */
export function buildDeviceRegistryModule(options: { suspenders?: readonly string[] } = {}) {
  const suspenders = options.suspenders ?? [];
  return buildModule("DeviceRegistry", (m) => {
    const governance = m.getParameter("governance", m.getAccount(0));
    const deviceRegistry = m.contract("DeviceRegistry", [governance]);
    suspenders.forEach((account, i) => {
      m.call(deviceRegistry, "grantRole", [SUSPENDER_ROLE, account], {
        id: `grantSuspender${String(i)}`,
      });
    });
    return { deviceRegistry };
  });
}

/** The registry with its governance and no extra suspenders (later components get the role as they deploy). */
export default buildDeviceRegistryModule();

import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { id } from "ethers";

/** keccak256("SUSPENDER_ROLE"), as DeviceRegistry.SUSPENDER_ROLE. */
export const SUSPENDER_ROLE = id("SUSPENDER_ROLE");
/** keccak256("APPRAISER_ROLE"), as DeviceRegistry.APPRAISER_ROLE: held by hardware-evidence appraisers. */
export const APPRAISER_ROLE = id("APPRAISER_ROLE");
/** keccak256("KEY_RECOVERY_ROLE"), as DeviceRegistry.KEY_RECOVERY_ROLE: held by PqKeyRecovery. */
export const KEY_RECOVERY_ROLE = id("KEY_RECOVERY_ROLE");
/** keccak256("GOVERNOR_ROLE"), as DeviceRegistry.GOVERNOR_ROLE. */
export const GOVERNOR_ROLE = id("GOVERNOR_ROLE");
/** OpenZeppelin AccessControl's DEFAULT_ADMIN_ROLE. */
export const DEFAULT_ADMIN_ROLE = `0x${"00".repeat(32)}`;

/**
 * Builds the DeviceRegistry module. The deploying account (account 0) is the registry's first admin, so
 * the deployment can wire the system (grant SUSPENDER_ROLE to staking) with the one key a deployer has on
 * a public chain; governance is granted DEFAULT_ADMIN_ROLE and GOVERNOR_ROLE next to it. The system
 * module (deploy/modules/DeviceTrust.ts) has the deployer renounce its roles once the wiring is done.
 * Parameters (module id "DeviceRegistry", or `$global`):
 * - `governance`: the address that governs (default: the deploying account, which then keeps its roles).
 *
 * Ignition modules are static (parameters are resolved at execution, after the module is built), so a
 * list of extra SUSPENDER_ROLE holders cannot come from a parameter: pass it here.
 */
export function buildDeviceRegistryModule(options: { suspenders?: readonly string[] } = {}) {
  const suspenders = options.suspenders ?? [];
  return buildModule("DeviceRegistry", (m) => {
    const deployer = m.getAccount(0);
    const governance = m.getParameter("governance", deployer);
    const deviceRegistry = m.contract("DeviceRegistry", [deployer]);
    // A no-op when governance is the deployer.
    m.call(deviceRegistry, "grantRole", [DEFAULT_ADMIN_ROLE, governance], {
      id: "grantAdminToGovernance",
    });
    m.call(deviceRegistry, "grantRole", [GOVERNOR_ROLE, governance], {
      id: "grantGovernorToGovernance",
    });
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

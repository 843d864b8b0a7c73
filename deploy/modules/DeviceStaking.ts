import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { DEFAULT_STAKING_PARAMS } from "../../src/client/deploy-parameters.js";
import DeviceRegistryModule, { DEFAULT_ADMIN_ROLE, SUSPENDER_ROLE } from "./DeviceRegistry.js";

export interface DeviceStakingModuleOptions {
  /** The registry module the system uses (default: DeviceRegistry's default module). */
  readonly registryModule?: typeof DeviceRegistryModule;
  /**
   * "mock" (default): deploy a MockERC20 as collateral (it deploys on chain 31337 only: local chains and
   * demos). "parameter": use the ERC-20 at the module parameter `token` (Ignition modules are static, so
   * this is a build option).
   */
  readonly collateral?: "mock" | "parameter";
  /**
   * Whether this module sets the proofs contract on staking (default true). The system module leaves it
   * to the insurance pool module, which first makes the pool the loss recipient: that is possible at once
   * only while no proofs contract is set (DeviceStaking.setLossRecipient).
   */
  readonly setProofs?: boolean;
}

/**
 * Staking and fraud proofs next to the DeviceRegistry module. The deploying account (account 0) is
 * staking's first admin and wires it (setProofs; the registry's SUSPENDER_ROLE for staking, as the
 * registry's first admin); `governance` is granted staking's admin role next to it. The system module
 * (deploy/modules/DeviceTrust.ts) has the deployer renounce once everything is wired. Parameters (module
 * id "DeviceStaking", or `$global`):
 * - `governance`: staking's admin (default the deploying account);
 * - `token` (collateral "parameter" only): the collateral ERC-20, which is also the insurance pool's asset;
 * - `minStake` (base units of the token, default 1e18), `unbondingPeriod` (seconds, default 14 days),
 *   `bountyBps` (default 1000, 10%), `lossRecipient` (default the deploying account; the system
 *   deployment makes the insurance pool the recipient before any slash can happen);
 * - `evidenceWindow` (seconds, default 7 days; must be shorter than the unbonding period).
 */
export function buildDeviceStakingModule(options: DeviceStakingModuleOptions = {}) {
  const collateral = options.collateral ?? "mock";
  const registryModule = options.registryModule ?? DeviceRegistryModule;
  return buildModule("DeviceStaking", (m) => {
    const deployer = m.getAccount(0);
    const governance = m.getParameter("governance", deployer);
    const { deviceRegistry } = m.useModule(registryModule);
    const token =
      collateral === "mock"
        ? m.contract("MockERC20", ["DeviceTrust Collateral", "DTC"], { id: "CollateralToken" })
        : m.contractAt("MockERC20", m.getParameter<string>("token"), { id: "CollateralToken" });
    const deviceStaking = m.contract("DeviceStaking", [
      deviceRegistry,
      token,
      deployer,
      {
        minStake: m.getParameter("minStake", DEFAULT_STAKING_PARAMS.minStake),
        unbondingPeriod: m.getParameter("unbondingPeriod", DEFAULT_STAKING_PARAMS.unbondingPeriod),
        bountyBps: m.getParameter("bountyBps", DEFAULT_STAKING_PARAMS.bountyBps),
        lossRecipient: m.getParameter("lossRecipient", deployer),
      },
    ]);
    const fraudProofs = m.contract("FraudProofs", [
      deviceRegistry,
      deviceStaking,
      m.getParameter("evidenceWindow", DEFAULT_STAKING_PARAMS.evidenceWindow),
    ]);
    if (options.setProofs ?? true) m.call(deviceStaking, "setProofs", [fraudProofs]);
    m.call(deviceRegistry, "grantRole", [SUSPENDER_ROLE, deviceStaking], {
      id: "grantSuspenderToStaking",
    });
    // A no-op when governance is the deployer.
    m.call(deviceStaking, "grantRole", [DEFAULT_ADMIN_ROLE, governance], {
      id: "grantStakingAdminToGovernance",
    });
    return { collateralToken: token, deviceStaking, fraudProofs };
  });
}

/** A MockERC20 collateral (local chains), proofs set, the deployer governing unless `governance` says. */
export default buildDeviceStakingModule();

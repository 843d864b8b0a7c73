import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import DeviceRegistryModule, { SUSPENDER_ROLE } from "./DeviceRegistry.js";

/** Account 1 governs: deploy/parameters.json names its address as DeviceRegistry's governance. */
export const DEFAULT_GOVERNANCE_ACCOUNT = 1;

export interface DeviceStakingModuleOptions {
  /**
   * Index of the account that governs the system: it becomes staking governance and sends setProofs and
   * the registry's SUSPENDER_ROLE grant, so its address must be DeviceRegistry's `governance` parameter
   * (default 1: the governance of deploy/parameters.json, an account apart from the deployer; pass 0 to
   * deploy without parameters, the deployer then governs everything).
   */
  readonly governanceAccount?: number;
  /**
   * "mock" (default): deploy a MockERC20 as collateral (local chains and demos). "parameter": use the
   * ERC-20 at the module parameter `token` (ignition modules are static, so this is a build option).
   */
  readonly collateral?: "mock" | "parameter";
}

/**
 * Staking and fraud proofs next to the DeviceRegistry module. Parameters (module id "DeviceStaking"):
 * - `token` (collateral "parameter" only): the collateral ERC-20;
 * - `minStake` (default 1e18), `unbondingPeriod` (seconds, default 14 days), `bountyBps` (default 1000,
 *   10%), `lossRecipient` (default the governance account; the insurance pool once it exists);
 * - `evidenceWindow` (seconds, default 7 days; must be shorter than the unbonding period).
 * Then governance sets the proofs contract on staking and grants staking SUSPENDER_ROLE on the registry
 * (a slash suspends the device).
 */
export function buildDeviceStakingModule(options: DeviceStakingModuleOptions = {}) {
  const collateral = options.collateral ?? "mock";
  return buildModule("DeviceStaking", (m) => {
    const governance = m.getAccount(options.governanceAccount ?? DEFAULT_GOVERNANCE_ACCOUNT);
    const { deviceRegistry } = m.useModule(DeviceRegistryModule);
    const token =
      collateral === "mock"
        ? m.contract("MockERC20", ["DeviceTrust Collateral", "DTC"], { id: "CollateralToken" })
        : m.contractAt("MockERC20", m.getParameter<string>("token"), { id: "CollateralToken" });
    const deviceStaking = m.contract("DeviceStaking", [
      deviceRegistry,
      token,
      governance,
      {
        minStake: m.getParameter("minStake", 10n ** 18n),
        unbondingPeriod: m.getParameter("unbondingPeriod", 14n * 24n * 3600n),
        bountyBps: m.getParameter("bountyBps", 1000n),
        lossRecipient: m.getParameter("lossRecipient", governance),
      },
    ]);
    const fraudProofs = m.contract("FraudProofs", [
      deviceRegistry,
      deviceStaking,
      m.getParameter("evidenceWindow", 7n * 24n * 3600n),
    ]);
    m.call(deviceStaking, "setProofs", [fraudProofs], { from: governance });
    m.call(deviceRegistry, "grantRole", [SUSPENDER_ROLE, deviceStaking], {
      id: "grantSuspenderToStaking",
      from: governance,
    });
    return { collateralToken: token, deviceStaking, fraudProofs };
  });
}

/** A MockERC20 collateral, governance account 1 (deploy with --parameters deploy/parameters.json). */
export default buildDeviceStakingModule();

import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { buildDeviceFeedsModule } from "./DeviceFeeds.js";
import DeviceRegistryModule, {
  APPRAISER_ROLE,
  DEFAULT_ADMIN_ROLE,
  GOVERNOR_ROLE,
  KEY_RECOVERY_ROLE,
} from "./DeviceRegistry.js";
import { buildDeviceStakingModule } from "./DeviceStaking.js";
import { buildInsurancePoolModule } from "./InsurancePool.js";

export interface DeviceTrustModuleOptions {
  /**
   * "parameter" (default): the collateral is the ERC-20 at `DeviceStaking.token` (public chains). "mock":
   * a MockERC20 anyone mints, which deploys on chain 31337 only (local chains, tests, the demo).
   */
  readonly collateral?: "mock" | "parameter";
  /**
   * Hand the system over to the `governance` parameter (default true): once everything is wired, the
   * deploying account renounces every role it held. `governance` must then be another address than the
   * deployer's (`system deploy` refuses otherwise; renouncing would leave the system without governance).
   * false: the deployer keeps its roles (governs, with `governance` as a second admin when given).
   */
  readonly handover?: boolean;
}

/**
 * The whole DeviceTrust system, wired, in an order that waits out no parameter change:
 * 1. the registry and staking, each with the deploying account as first admin (the only key a deployer
 *    has on a public chain) and `governance` granted the same roles; staking gets the registry's
 *    SUSPENDER_ROLE (a slash suspends the device);
 * 2. fraud proofs, the feed factory and the reading anchor; the insurance pool over all of them; the TPM
 *    quote appraiser (TpmAttestation) and the PSA token appraiser (PsaAttestation), each granted the
 *    registry's APPRAISER_ROLE; post-quantum key recovery (PqKeyRecovery), granted its KEY_RECOVERY_ROLE;
 *    firmware signatures (FirmwareSignatures, no role);
 * 3. staking approves the pool as a backer and makes it the loss recipient (possible at once only before
 *    the proofs contract is set: no slash can have happened), then the proofs contract is set;
 * 4. with `handover`, the deployer renounces its roles on the registry and staking.
 * `system check` (tasks/system) then reads the wiring back from the chain.
 *
 * Parameters: `$global.governance` (or per module), `DeviceStaking.token` and the staking and pool
 * parameters (deploy/parameters/<network>.json; see deploy/modules/DeviceStaking.ts and InsurancePool.ts).
 */
export function buildDeviceTrustModule(options: DeviceTrustModuleOptions = {}) {
  const registryModule = DeviceRegistryModule;
  const stakingModule = buildDeviceStakingModule({
    registryModule,
    collateral: options.collateral ?? "parameter",
    setProofs: false,
  });
  const feedsModule = buildDeviceFeedsModule({ stakingModule, registryModule });
  const insuranceModule = buildInsurancePoolModule({
    stakingModule,
    feedsModule,
    registryModule,
    lossRecipient: true,
  });
  return buildModule("DeviceTrust", (m) => {
    const { deviceRegistry } = m.useModule(registryModule);
    const { collateralToken, deviceStaking, fraudProofs } = m.useModule(stakingModule);
    const { deviceFeedFactory, readingAnchor } = m.useModule(feedsModule);
    const { insurancePool } = m.useModule(insuranceModule);
    const tpmAttestation = m.contract("TpmAttestation", [deviceRegistry]);
    const appraiserGranted = m.call(deviceRegistry, "grantRole", [APPRAISER_ROLE, tpmAttestation], {
      id: "grantAppraiserToTpmAttestation",
    });
    const pqKeyRecovery = m.contract("PqKeyRecovery", [deviceRegistry]);
    const recoveryGranted = m.call(
      deviceRegistry,
      "grantRole",
      [KEY_RECOVERY_ROLE, pqKeyRecovery],
      { id: "grantKeyRecoveryToPqKeyRecovery" },
    );
    const firmwareSignatures = m.contract("FirmwareSignatures", [deviceRegistry]);
    const psaAttestation = m.contract("PsaAttestation", [deviceRegistry]);
    const psaAppraiserGranted = m.call(
      deviceRegistry,
      "grantRole",
      [APPRAISER_ROLE, psaAttestation],
      { id: "grantAppraiserToPsaAttestation" },
    );
    if (options.handover ?? true) {
      const deployer = m.getAccount(0);
      // After every wiring call of the modules above (Ignition runs a module's futures first).
      const after = [
        insurancePool,
        deviceFeedFactory,
        readingAnchor,
        appraiserGranted,
        recoveryGranted,
        psaAppraiserGranted,
      ];
      m.call(deviceStaking, "renounceRole", [DEFAULT_ADMIN_ROLE, deployer], {
        id: "deployerRenouncesStakingAdmin",
        after,
      });
      m.call(deviceRegistry, "renounceRole", [GOVERNOR_ROLE, deployer], {
        id: "deployerRenouncesGovernor",
        after,
      });
      m.call(deviceRegistry, "renounceRole", [DEFAULT_ADMIN_ROLE, deployer], {
        id: "deployerRenouncesRegistryAdmin",
        after,
      });
    }
    return {
      deviceRegistry,
      collateralToken,
      deviceStaking,
      fraudProofs,
      deviceFeedFactory,
      readingAnchor,
      insurancePool,
      tpmAttestation,
      pqKeyRecovery,
      firmwareSignatures,
      psaAttestation,
    };
  });
}

/** Public chains: the collateral and governance from the parameters, handed over once wired. */
export default buildDeviceTrustModule();

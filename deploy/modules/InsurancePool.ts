import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import DeviceFeedsModule from "./DeviceFeeds.js";
import DeviceRegistryModule from "./DeviceRegistry.js";
import DeviceStakingModule from "./DeviceStaking.js";
import { DEFAULT_POOL_PARAMS } from "../../src/client/deploy-parameters.js";

/** IInsurancePool.PoolParams by default (src/client/deploy-parameters.ts, which system deploy checks). */
export { DEFAULT_POOL_PARAMS };

/**
 * Payout per IFraudProofs.IncidentKind, in bps of the policy amount: None, Equivocation,
 * BatchEquivocation, OutOfBounds, RevokedFirmware. A cloned key lying is a total loss; a sensor past its
 * physical range or a device on revoked firmware pays half.
 */
export const DEFAULT_PAYOUT_BPS = [0n, 10_000n, 10_000n, 5_000n, 5_000n] as const;

export interface InsurancePoolModuleOptions {
  /**
   * The staking module whose token, staking and proofs the pool uses (default: DeviceStaking's default).
   * Pass the one the system module builds, so both use the same future ids.
   */
  readonly stakingModule?: typeof DeviceStakingModule;
  /** The feeds module whose DeviceFeedFactory's feeds may be insured (default: DeviceFeeds' default). */
  readonly feedsModule?: typeof DeviceFeedsModule;
  /** The registry module (default: DeviceRegistry's default). */
  readonly registryModule?: typeof DeviceRegistryModule;
  /**
   * Make the pool staking's loss recipient and then set the proofs contract (default false). Only for a
   * staking module built with `setProofs: false`: the loss recipient changes at once only while staking
   * has no proofs contract, so no slash can have happened (DeviceStaking.setLossRecipient).
   */
  readonly lossRecipient?: boolean;
}

/**
 * The insurance pool (issue 6) over the system's collateral token (its asset: slashed stake arrives in
 * it and is booked as recovery), registry, staking, fraud proofs and feed factory. Parameters (module id
 * "InsurancePool", or `$global`): `governance` (DEFAULT_ADMIN_ROLE: sets the parameters; default the
 * deploying account), each field of PoolParams (DEFAULT_POOL_PARAMS) and `payoutBps` (five bps by incident
 * kind, DEFAULT_PAYOUT_BPS).
 *
 * Then staking's admin (the deploying account, until the system module hands over) approves the pool as a
 * backer in DeviceStaking (setBacker): only then can operators allocate stake to it, and the pool sells
 * coverage only against allocations. A slash pays each allocation's slice (net of the bounty) to the pool
 * and books it in the proof's transaction. With `lossRecipient`, the pool also receives (and books) the
 * unallocated rest of every slash. The pool's claimWindow and cooldown must outlast FraudProofs' evidence
 * window (DeviceStaking's `evidenceWindow` parameter, 7 days by default), and its coverFactorBps plus
 * DeviceStaking's `bountyBps` must stay below 10_000: the constructor and setBacker refuse otherwise.
 */
export function buildInsurancePoolModule(options: InsurancePoolModuleOptions = {}) {
  const stakingModule = options.stakingModule ?? DeviceStakingModule;
  const feedsModule = options.feedsModule ?? DeviceFeedsModule;
  const registryModule = options.registryModule ?? DeviceRegistryModule;
  return buildModule("InsurancePool", (m) => {
    const { deviceRegistry } = m.useModule(registryModule);
    const { collateralToken, deviceStaking, fraudProofs } = m.useModule(stakingModule);
    const { deviceFeedFactory } = m.useModule(feedsModule);
    const governance = m.getParameter("governance", m.getAccount(0));
    const params = Object.fromEntries(
      Object.entries(DEFAULT_POOL_PARAMS).map(([name, value]) => [
        name,
        m.getParameter(name, value),
      ]),
    );
    const insurancePool = m.contract("InsurancePool", [
      collateralToken,
      deviceRegistry,
      deviceStaking,
      fraudProofs,
      deviceFeedFactory,
      governance,
      params,
      m.getParameter("payoutBps", [...DEFAULT_PAYOUT_BPS]),
    ]);
    // Staking's admin (the deployer until the handover) approves the pool for allocations.
    const approve = m.call(deviceStaking, "setBacker", [insurancePool, true], {
      id: "approvePoolAsBacker",
    });
    if (options.lossRecipient ?? false) {
      const recipient = m.call(deviceStaking, "setLossRecipient", [insurancePool], {
        id: "makePoolLossRecipient",
        after: [approve],
      });
      m.call(deviceStaking, "setProofs", [fraudProofs], { after: [recipient] });
    }
    return {
      insurancePool,
      deviceRegistry,
      collateralToken,
      deviceStaking,
      fraudProofs,
      deviceFeedFactory,
    };
  });
}

/** The pool over the default staking and feeds modules (the pool is a backer, not the loss recipient). */
export default buildInsurancePoolModule();

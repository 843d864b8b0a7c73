import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import DeviceFeedsModule from "./DeviceFeeds.js";
import DeviceRegistryModule from "./DeviceRegistry.js";
import DeviceStakingModule, { DEFAULT_GOVERNANCE_ACCOUNT } from "./DeviceStaking.js";

const DAY = 24n * 3600n;

/** IInsurancePool.PoolParams by default: the values deploy/parameters.json may override one by one. */
export const DEFAULT_POOL_PARAMS = {
  maxUtilizationBps: 8_000n,
  coverFactorBps: 5_000n,
  baseRateBps: 200n,
  utilizationRateBps: 1_000n,
  capacityRateBps: 1_000n,
  attestationRateBps: 500n,
  minPremiumBps: 10n,
  maxAttestationAge: DAY,
  minTerm: DAY,
  maxTerm: 365n * DAY,
  /** Longer than FraudProofs' evidence window (7 days by default), as the pool requires. */
  cooldown: 8n * DAY,
  withdrawalWindow: 2n * DAY,
  waitingPeriod: 3600n,
  /** Longer than the evidence window: a lie inside the term can still be proven and claimed. */
  claimWindow: 8n * DAY,
  recoveryVesting: 7n * DAY,
} as const;

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
  /** Index of the default governance account (as DeviceStaking's `governanceAccount`, default 1). */
  readonly governanceAccount?: number | undefined;
}

/**
 * The insurance pool (issue 6) over the system's collateral token (its asset: slashed stake arrives in
 * it and is booked as recovery), registry, staking, fraud proofs and feed factory. Parameters (module id
 * "InsurancePool"): `governance` (DEFAULT_ADMIN_ROLE: sets the parameters; default the governance
 * account), each field of PoolParams (DEFAULT_POOL_PARAMS) and `payoutBps` (five bps by incident kind,
 * DEFAULT_PAYOUT_BPS).
 *
 * Then the staking governance account approves the pool as a backer in DeviceStaking (setBacker): only
 * then can operators allocate stake to it, and the pool sells coverage only against allocations. A slash
 * pays each allocation's slice (net of the bounty) to the pool and books it in the proof's transaction.
 * The pool's claimWindow and cooldown must outlast FraudProofs' evidence window (DeviceStaking's
 * `evidenceWindow` parameter, 7 days by default), and its coverFactorBps plus DeviceStaking's
 * `bountyBps` must stay below 10_000: the constructor and setBacker refuse otherwise.
 *
 * Not done here: making the pool the staking contract's loss recipient (for the unallocated rest of a
 * slash). A change of staking parameters takes effect only after the unbonding period: governance
 * schedules it after deployment (scheduleParams with lossRecipient = the pool, then applyParams).
 */
export function buildInsurancePoolModule(options: InsurancePoolModuleOptions = {}) {
  const stakingModule = options.stakingModule ?? DeviceStakingModule;
  const feedsModule = options.feedsModule ?? DeviceFeedsModule;
  return buildModule("InsurancePool", (m) => {
    const { deviceRegistry } = m.useModule(DeviceRegistryModule);
    const { collateralToken, deviceStaking, fraudProofs } = m.useModule(stakingModule);
    const { deviceFeedFactory } = m.useModule(feedsModule);
    const governance = m.getParameter(
      "governance",
      m.getAccount(options.governanceAccount ?? DEFAULT_GOVERNANCE_ACCOUNT),
    );
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
    // Staking's governance (the module's governance account) approves the pool for allocations.
    m.call(deviceStaking, "setBacker", [insurancePool, true], {
      id: "approvePoolAsBacker",
      from: m.getAccount(options.governanceAccount ?? DEFAULT_GOVERNANCE_ACCOUNT),
    });
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

/** The pool over the default staking and feeds modules (deploy with --parameters deploy/parameters.json). */
export default buildInsurancePoolModule();

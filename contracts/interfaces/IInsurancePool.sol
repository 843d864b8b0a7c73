// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IFraudProofs} from "./IFraudProofs.sol";
import {IStakeBacker} from "./IStakeBacker.sol";
import {DeviceId} from "../types/DeviceId.sol";

/// @title IInsurancePool
/// @notice An ERC-4626 vault of insurers' capital (a stable ERC-20, the staking collateral) that sells
/// parametric coverage on a device or a feed, backed by stake the devices' operators allocated to it, and
/// pays automatically on an incident the fraud-proofs contract recorded.
///
/// Unique stake: coverage is sold only against stake allocated to this pool in DeviceStaking, per device and
/// scope (the device itself, or a feed). What a device's incidents can pay from this pool's policies (its
/// exposure) never exceeds its allocation times `coverFactorBps`; the allocation cannot leave while live
/// coverage needs it (`requiredAllocation`); and staking keeps `bounty + coverFactorCeilingBps < 100%`.
/// So whatever an operator buys through other addresses, a lie of its device costs it more stake than
/// every payout and bounty it can collect.
///
/// Feeds: a feed policy snapshots the feed's members at sale (each must have consented to membership, be
/// trusted, and have allocated stake to this pool for the feed). A median needs k = floor(n / 2) + 1 of the
/// n members, so each member's proven incident pays its share `ceil(amount / k)` times the incident kind's
/// payout rate, at most once per member: a median-controlling set of proven members pays the whole policy.
///
/// Capital: deposits mint shares (OpenZeppelin ERC4626, decimals offset against the inflation attack). The
/// vault counts only what it booked, so a donation changes no share's value. Premiums and recoveries beyond
/// proven liabilities are earned over time (premiums over the policy's term, recoveries over
/// `recoveryVesting`), so depositing right before a sale or a proof captures nothing earned before. A
/// proof's transaction books the loss at once: staking tells the pool, which reserves the device's whole
/// exposure as a liability (`totalAssets` drops) and books the recovery against it. Leaving is a request
/// (shares escrowed, still bearing losses), a cooldown longer than the evidence window, then a short window
/// in which `redeem`/`withdraw` of at most the request and the unlocked capital works; then it expires.
///
/// Coverage timing: coverage starts `waitingPeriod` after the sale and pays only for incidents whose time
/// (when the device misbehaved, not when the proof landed) lies inside its term; claims stay open
/// `claimWindow` (longer than the evidence window) after the term, then `release` unlocks the rest.
///
/// Pricing: the yearly rate is integrated over the utilization and capacity use the purchase moves
/// through (buying in pieces costs at least as much as at once), and a premium is at least `minPremiumBps`
/// of the amount.
interface IInsurancePool is IERC4626, IStakeBacker {
    /// @notice What a policy covers.
    enum TargetKind {
        Device,
        Feed
    }

    /// @notice Governance parameters of new sales and requests (existing policies keep their terms).
    struct PoolParams {
        /// @dev Locked coverage at most this share of the pool's assets, in bps.
        uint16 maxUtilizationBps;
        /// @dev A device's exposure at most its allocation to this pool times this, in bps; plus the staking
        /// bounty below 10_000.
        uint16 coverFactorBps;
        /// @dev Yearly premium rate, in bps of the amount: base + utilization (at 100%) + capacity use
        /// (at 100%) + attestation age (at maxAttestationAge), the middle two integrated over the purchase.
        uint16 baseRateBps;
        uint16 utilizationRateBps;
        uint16 capacityRateBps;
        uint16 attestationRateBps;
        /// @dev A premium is at least this share of the amount, whatever the term.
        uint16 minPremiumBps;
        /// @dev An attestation older than this makes a device uninsurable (and the age term saturates).
        uint32 maxAttestationAge;
        uint32 minTerm;
        uint32 maxTerm;
        /// @dev Between a withdrawal request and the first redeem; longer than the evidence window.
        uint32 cooldown;
        /// @dev How long a matured request can be redeemed before it expires.
        uint32 withdrawalWindow;
        /// @dev Between a sale and the start of its coverage (nonzero).
        uint32 waitingPeriod;
        /// @dev How long after the term claims stay open; longer than the evidence window.
        uint32 claimWindow;
        /// @dev Over how long a recovery beyond the liabilities it covers is earned (at least a day).
        uint32 recoveryVesting;
    }

    /// @notice One policy, identified by (target, serial). Two storage slots, three for a feed.
    struct Policy {
        address beneficiary;
        /// @dev Coverage starts (sale + waitingPeriod) and ends; incidents timed in [start, end] pay.
        uint40 start;
        uint40 end;
        TargetKind kind;
        /// @dev True once `release` unlocked the unpaid rest after the term and its claim window.
        bool released;
        uint128 amount;
        uint128 paid;
        /// @dev Feeds: keccak256(abi.encode(members)) of the member snapshot taken at sale (0 for a device).
        bytes32 members;
    }

    /// @notice Per target: coverage in force (for a device, also its exposure in its own scope), the
    /// number of policies sold (the next serial), and when the pool learnt of an incident on it (0 if none).
    struct TargetState {
        uint128 covered;
        uint32 policies;
        uint40 incidentAt;
    }

    /// @notice A withdrawal request: escrowed shares, when they may be redeemed and when the request expires.
    struct WithdrawalRequest {
        uint128 shares;
        uint40 unlockAt;
        uint40 expiresAt;
    }

    /// @notice The answer of `securityReport`.
    struct SecurityReport {
        /// @dev Active stake a provable lie forfeits: a device's, or the cheapest median-controlling set of
        /// a feed's operators.
        uint256 costOfCorruption;
        /// @dev What this pool's coverage on the target could pay colluding beneficiaries.
        uint256 coverageInForce;
        /// @dev costOfCorruption - (valueAtRisk + coverageInForce); negative when corruption pays.
        int256 margin;
        /// @dev The fewest operators that control the answer (1 for a device). False values INSIDE the
        /// physical range reported by that many colluding operators are not provable and forfeit nothing.
        uint256 operatorsToControl;
        /// @dev margin > 0 and, for a feed, no single operator controls its median.
        bool secure;
    }

    error InsuranceZeroAddress();
    error InsuranceInvalidParams();
    /// @notice The cover factor plus the staking bounty (in force or scheduled) must stay below 10_000.
    error InsuranceCoverFactorTooHigh(uint256 coverFactorBps, uint256 bountyBps);
    /// @notice A window that must outlast the evidence window does not.
    error InsuranceWindowTooShort(uint256 window, uint256 evidenceWindow);
    error InsuranceZeroAmount();
    error InsuranceInvalidTerm(uint256 term, uint32 minTerm, uint32 maxTerm);
    error InsuranceTargetNotInsurable(bytes32 target, uint8 reason);
    error InsuranceMemberNotInsurable(bytes32 target, DeviceId member, uint8 reason);
    error InsuranceOperatorBeneficiary(address beneficiary);
    error InsuranceUtilizationExceeded(uint256 lockedAfter, uint256 maxLocked);
    /// @notice The device's exposure would pass its allocation to this pool times the cover factor.
    error InsuranceCapacityExceeded(bytes32 target, DeviceId device, uint256 exposureAfter, uint256 capacity);
    error InsurancePremiumTooHigh(uint256 premium, uint256 maxPremium);
    error InsuranceUnknownPolicy(bytes32 target, uint32 serial);
    error InsuranceMembersMismatch(bytes32 target, uint32 serial);
    error InsuranceUnknownIncident(bytes32 incidentId);
    error InsuranceIncidentOutsideTerm(uint64 incidentTime, uint40 start, uint40 end);
    error InsuranceIncidentNotCovered(bytes32 target, bytes32 incidentId);
    error InsurancePolicyExhausted(bytes32 target, uint32 serial);
    error InsurancePolicyActive(bytes32 target, uint32 serial, uint256 releasableAfter);
    error InsurancePolicyReleased(bytes32 target, uint32 serial);
    error InsuranceNotStaking(address caller);
    error InsuranceNoWithdrawalRequest(address owner);
    error InsuranceCooldown(address owner, uint40 unlockAt);
    error InsuranceRequestExpired(address owner, uint40 expiresAt);
    error InsuranceExceedsRequest(address owner, uint256 shares, uint256 requested);
    error InsuranceCapitalLocked(uint256 assets, uint256 free);
    /// @notice A deposit, mint or premium delivered less than its amount: fee-on-transfer assets are not
    /// supported (crediting what arrived would break ERC-4626's preview promise), so the call reverts.
    error InsuranceTransferShortfall(uint256 expected, uint256 received);

    /// @notice Governance set the parameters of future sales and requests.
    event ParamsSet(PoolParams params);
    /// @notice A policy was sold: `premium` (earned over the term) for `amount` of coverage from `start` to `end`.
    event CoverageBought(
        bytes32 indexed target,
        uint32 indexed serial,
        address indexed beneficiary,
        TargetKind kind,
        uint256 amount,
        uint256 premium,
        uint40 start,
        uint40 end
    );
    /// @notice The member snapshot of a feed policy (claims and release name it).
    event CoverageMembers(bytes32 indexed target, uint32 indexed serial, DeviceId[] members);
    /// @notice An incident of `deviceId` paid `payout` of the policy to its beneficiary.
    event ClaimPaid(
        bytes32 indexed target,
        uint32 indexed serial,
        bytes32 indexed incidentId,
        DeviceId deviceId,
        address beneficiary,
        uint256 payout
    );
    /// @notice After its term and claim window, the unpaid rest of a policy (`unlocked`) stopped being locked.
    event CoverageReleased(bytes32 indexed target, uint32 indexed serial, uint256 unlocked);
    /// @notice A slash of `deviceId` reached the pool: `liability` more of its exposure in `scope` was
    /// reserved for claims, `recovery` arrived, `vested` of it is earned over `recoveryVesting`.
    event LossBooked(
        DeviceId indexed deviceId,
        bytes32 indexed scope,
        bytes32 indexed incidentId,
        uint256 liability,
        uint256 recovery,
        uint256 vested
    );
    /// @notice `shares` more were escrowed; the whole request may be redeemed from `unlockAt` until `expiresAt`.
    event WithdrawalRequested(address indexed owner, uint256 shares, uint40 unlockAt, uint40 expiresAt);
    /// @notice The owner took back all `shares` of its request.
    event WithdrawalCancelled(address indexed owner, uint256 shares);

    // ------------------------------------------------------------------ insurers

    /// @notice Escrows `shares` of the caller for withdrawal after the cooldown (adds to a pending
    /// request and restarts its clock). Escrowed shares keep earning premiums and bearing losses.
    function requestWithdrawal(uint256 shares) external;

    /// @notice Returns the caller's escrowed shares (also the way out of an expired request).
    function cancelWithdrawal() external;

    // ------------------------------------------------------------------ integrators

    /// @notice Buys `amount` of coverage on `target` (a DeviceId, or a feed address as bytes32) for `term`
    /// seconds starting `waitingPeriod` from now, paying at most `maxPremium` (pulled from the caller).
    /// @return serial The policy's serial within the target.
    /// @return premium What was paid.
    function buyCoverage(
        TargetKind kind,
        bytes32 target,
        uint256 amount,
        uint256 term,
        address beneficiary,
        uint256 maxPremium
    ) external returns (uint32 serial, uint256 premium);

    /// @notice Pays the policy's beneficiary for a recorded incident (anyone may call). `members` is the
    /// feed policy's snapshot (CoverageMembers), empty for a device policy.
    function claim(
        bytes32 target,
        uint32 serial,
        bytes32 incidentId,
        DeviceId[] calldata members
    ) external returns (uint256 payout);

    /// @notice After the term and its claim window, unlocks the unpaid rest of a policy (anyone may call).
    function release(bytes32 target, uint32 serial, DeviceId[] calldata members) external;

    /// @notice Books premiums and recoveries earned so far (every state change does it first).
    function accrue() external;

    // ------------------------------------------------------------------ governance

    /// @notice Sets the parameters of future sales and requests.
    function setParams(PoolParams calldata params) external;

    // ------------------------------------------------------------------ views

    /// @notice The premium `buyCoverage` would charge now (reverts as it would).
    function quote(TargetKind kind, bytes32 target, uint256 amount, uint256 term) external view returns (uint256);

    /// @notice Cost of corruption, coverage in force, margin against `valueAtRisk`, and the verdict.
    function securityReport(
        TargetKind kind,
        bytes32 target,
        uint256 valueAtRisk
    ) external view returns (SecurityReport memory);

    /// @notice The policy `serial` of `target` (all zero if none was sold).
    function policy(bytes32 target, uint32 serial) external view returns (Policy memory);

    /// @notice Coverage in force, policies sold and the incident mark of `target`.
    function targetState(bytes32 target) external view returns (TargetState memory);

    /// @notice What the device's incidents can still pay from this pool's coverage in `scope` and how much of
    /// it is reserved as a proven liability.
    function exposureOf(DeviceId deviceId, bytes32 scope) external view returns (uint256 exposure, uint256 reserved);

    /// @notice What the beneficiary of a policy was paid for incidents of `deviceId`.
    function paidFor(bytes32 target, uint32 serial, DeviceId deviceId) external view returns (uint256);

    /// @notice The pending withdrawal request of `owner` (zero if none).
    function withdrawalRequest(address owner) external view returns (WithdrawalRequest memory);

    /// @notice Coverage locked by policies not yet released.
    function lockedCapital() external view returns (uint256);

    /// @notice Assets not locked by coverage: the most that can leave now.
    function freeCapital() external view returns (uint256);

    /// @notice Proven liabilities not yet paid (at most the locked capital counts against totalAssets).
    function liabilities() external view returns (uint256);

    /// @notice Premiums and recoveries received but not yet earned.
    function unearned() external view returns (uint256);

    /// @notice Gains of claims and releases (reserves freed beyond what they paid) still held back from
    /// totalAssets: released linearly over recoveryVesting.
    function heldBack() external view returns (uint256);

    /// @notice Payout per incident kind, in bps of a covered share (fixed at deployment).
    function payoutBps(IFraudProofs.IncidentKind kind) external view returns (uint16);

    /// @notice The parameters in force.
    function params() external view returns (PoolParams memory);
}

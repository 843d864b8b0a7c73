// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IFraudProofs} from "./IFraudProofs.sol";

/// @title IInsurancePool
/// @notice An ERC-4626 vault of insurers' capital (a stable ERC-20) that sells parametric coverage on a
/// device or a feed and pays automatically on an incident the fraud-proofs contract recorded.
///
/// Capital: deposits mint shares (OpenZeppelin ERC4626 with a decimals offset against the inflation
/// attack). The vault counts only the assets it booked (deposits, premiums, recoveries, minus payouts and
/// withdrawals), so a direct transfer (a donation) changes no share's value. Leaving is a request that
/// escrows the shares, then a cooldown, then `redeem`/`withdraw` of at most the matured request and at
/// most the capital no coverage locks.
///
/// Coverage: anyone buys `amount` of coverage on a target for a term, naming a beneficiary (never the
/// device's operator). The premium (paid in the asset, raising the share price) grows with the amount,
/// the term, the pool's utilization and the target's risk (how much of its stake-backed capacity is used;
/// for a device, the age of its attestation). Capacity: locked coverage never exceeds `maxUtilizationBps`
/// of the pool's assets, and the coverage in force on a target never exceeds its slashable stake (a
/// device's, or a feed's cost of corruption) times `coverFactorBps`, so an operator who insures its own
/// device through a friend and makes it lie loses more stake than the friend is paid. No coverage is
/// sold on a device that is not active and trusted, or on which the pool knows an incident.
///
/// Claims: `claim(target, serial, incidentId)` by anyone pays the policy's beneficiary
/// `amount * payoutBps[kind] / 10_000` (at most what is left of the coverage) when the incident was
/// recorded inside the term on the covered device (or, for a feed, on a device that is or was a member
/// of the feed: `sequenceOf(device) > 0`). Each incident pays each policy at most once. After the term
/// `release` unlocks what was not paid.
///
/// Recovery: the pool is the staking contract's loss recipient. `bookRecovery(incidentId)` books the
/// loss share of that incident's slash (once per incident, at most the unbooked balance).
interface IInsurancePool is IERC4626 {
    /// @notice What a policy covers.
    enum TargetKind {
        Device,
        Feed
    }

    /// @notice Governance parameters of new sales (existing policies keep their terms).
    struct PoolParams {
        /// @dev Locked coverage at most this share of the pool's assets, in bps.
        uint16 maxUtilizationBps;
        /// @dev Coverage in force on a target at most its slashable stake times this, in bps.
        uint16 coverFactorBps;
        /// @dev Yearly premium rate, in bps of the amount: base + utilization (at 100%) + capacity use
        /// (at 100%) + attestation age (at maxAttestationAge).
        uint16 baseRateBps;
        uint16 utilizationRateBps;
        uint16 capacityRateBps;
        uint16 attestationRateBps;
        /// @dev An attestation older than this makes a device uninsurable (and the age term saturates).
        uint32 maxAttestationAge;
        uint32 minTerm;
        uint32 maxTerm;
        /// @dev Between a withdrawal request and the first redeem.
        uint32 cooldown;
    }

    /// @notice One policy. Two storage slots. Identified by (target, serial).
    struct Policy {
        address beneficiary;
        uint40 start;
        uint40 end;
        TargetKind kind;
        /// @dev True once `release` unlocked the unpaid rest after the term.
        bool released;
        uint128 amount;
        uint128 paid;
    }

    /// @notice Per target: coverage in force, the number of policies sold (the next serial), and the time
    /// of the last incident the pool learnt of on it (0 if none). One storage slot.
    struct TargetState {
        uint128 covered;
        uint32 policies;
        uint40 incidentAt;
    }

    /// @notice A withdrawal request: escrowed shares and when they may be redeemed.
    struct WithdrawalRequest {
        uint128 shares;
        uint40 unlockAt;
    }

    /// @notice The answer of `securityReport`.
    struct SecurityReport {
        /// @dev Stake slashed if the target lies: a device's slashable stake, a feed's cost of corruption.
        uint256 costOfCorruption;
        /// @dev Coverage in force on the target (what colluding beneficiaries could be paid).
        uint256 coverageInForce;
        /// @dev costOfCorruption - (valueAtRisk + coverageInForce); negative when corruption pays.
        int256 margin;
        /// @dev margin > 0.
        bool secure;
    }

    error InsuranceZeroAddress();
    error InsuranceInvalidParams();
    error InsuranceZeroAmount();
    error InsuranceInvalidTerm(uint256 term, uint32 minTerm, uint32 maxTerm);
    error InsuranceTargetNotInsurable(bytes32 target, uint8 reason);
    error InsuranceOperatorBeneficiary(address beneficiary);
    error InsuranceUtilizationExceeded(uint256 lockedAfter, uint256 maxLocked);
    error InsuranceCapacityExceeded(bytes32 target, uint256 coveredAfter, uint256 capacity);
    error InsurancePremiumTooHigh(uint256 premium, uint256 maxPremium);
    error InsuranceUnknownPolicy(bytes32 target, uint32 serial);
    error InsuranceUnknownIncident(bytes32 incidentId);
    error InsuranceIncidentOutsideTerm(uint64 incidentTime, uint40 start, uint40 end);
    error InsuranceIncidentNotCovered(bytes32 target, bytes32 incidentId);
    error InsuranceAlreadyClaimed(bytes32 target, uint32 serial, bytes32 incidentId);
    error InsurancePolicyExhausted(bytes32 target, uint32 serial);
    error InsurancePolicyActive(bytes32 target, uint32 serial, uint256 releasableAfter);
    error InsurancePolicyReleased(bytes32 target, uint32 serial);
    error InsuranceRecoveryBooked(bytes32 incidentId);
    error InsuranceNoWithdrawalRequest(address owner);
    error InsuranceCooldown(address owner, uint40 unlockAt);
    error InsuranceExceedsRequest(address owner, uint256 shares, uint256 requested);
    error InsuranceCapitalLocked(uint256 assets, uint256 free);
    /// @notice A deposit, mint or premium delivered less than its amount: fee-on-transfer assets are not
    /// supported (crediting what arrived would break ERC-4626's preview promise), so the call reverts.
    error InsuranceTransferShortfall(uint256 expected, uint256 received);

    /// @notice Governance set the parameters of future sales and requests.
    event ParamsSet(PoolParams params);
    /// @notice A policy was sold: `premium` was paid for `amount` of coverage from `start` to `end`.
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
    /// @notice An incident paid `payout` of the policy to its beneficiary.
    event ClaimPaid(
        bytes32 indexed target,
        uint32 indexed serial,
        bytes32 indexed incidentId,
        address beneficiary,
        uint256 payout
    );
    /// @notice After its term, the unpaid rest of a policy (`unlocked`) stopped being locked.
    event CoverageReleased(bytes32 indexed target, uint32 indexed serial, uint256 unlocked);
    /// @notice The loss share of an incident's slash (`amount`, possibly 0) was booked as assets.
    event RecoveryBooked(bytes32 indexed incidentId, uint256 amount);
    /// @notice `shares` more were escrowed for withdrawal; the whole request unlocks at `unlockAt`.
    event WithdrawalRequested(address indexed owner, uint256 shares, uint40 unlockAt);
    /// @notice The owner took back all `shares` of its request.
    event WithdrawalCancelled(address indexed owner, uint256 shares);

    // ------------------------------------------------------------------ insurers

    /// @notice Escrows `shares` of the caller for withdrawal after the cooldown (adds to a pending
    /// request and restarts its cooldown). Escrowed shares keep earning premiums and bearing payouts.
    function requestWithdrawal(uint256 shares) external;

    /// @notice Returns the caller's escrowed shares.
    function cancelWithdrawal() external;

    // ------------------------------------------------------------------ integrators

    /// @notice Buys `amount` of coverage on `target` (a DeviceId, or a feed address as bytes32) for `term`
    /// seconds from now, paying at most `maxPremium` (pulled from the caller).
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

    /// @notice Pays the policy's beneficiary for a recorded incident (anyone may call).
    function claim(bytes32 target, uint32 serial, bytes32 incidentId) external returns (uint256 payout);

    /// @notice After the term and its claim window, unlocks the unpaid rest of a policy (anyone may call).
    function release(bytes32 target, uint32 serial) external;

    /// @notice How long after a policy's term its beneficiary may still claim an incident recorded inside
    /// the term; the policy cannot be released before.
    function CLAIM_WINDOW() external view returns (uint256);

    /// @notice Books the pool's share of an incident's slash as recovery (anyone may call, once).
    function bookRecovery(bytes32 incidentId) external returns (uint256 amount);

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

    /// @notice Coverage in force, policies sold and the last known incident time of `target`.
    function targetState(bytes32 target) external view returns (TargetState memory);

    /// @notice The pending withdrawal request of `owner` (zero if none).
    function withdrawalRequest(address owner) external view returns (WithdrawalRequest memory);

    /// @notice Coverage locked by policies in force.
    function lockedCapital() external view returns (uint256);

    /// @notice Assets not locked by coverage: the most that can leave now.
    function freeCapital() external view returns (uint256);

    /// @notice Payout per incident kind, in bps of the policy amount (fixed at deployment).
    function payoutBps(IFraudProofs.IncidentKind kind) external view returns (uint16);

    /// @notice The parameters in force.
    function params() external view returns (PoolParams memory);

    /// @notice Whether `incidentId` already paid the policy.
    function claimed(bytes32 target, uint32 serial, bytes32 incidentId) external view returns (bool);
}

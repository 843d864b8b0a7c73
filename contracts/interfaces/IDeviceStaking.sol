// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";

/// @title IDeviceStaking
/// @notice Operators bond ERC-20 collateral per device. Withdrawal is a request that unlocks after the
/// unbonding period and stays slashable until withdrawn; stake pending withdrawal makes the device eligible
/// for nothing (feeds read `activeOf`) and backs no coverage.
///
/// Unique stake: a device's slashable stake is the one budget for everything that pays on its incidents.
/// Its operator allocates slices of the active stake to backers approved by governance (insurance pools),
/// each for a scope (the device itself, or a feed it joined); a pool sells coverage only against such a
/// slice. An allocated slice cannot be requested for withdrawal, and the part a backer's live coverage
/// uses (`IStakeBacker.requiredAllocation`) cannot be deallocated. At most MAX_ALLOCATIONS slices per
/// device, so a slash can pay every backer in its own transaction.
///
/// Only the fraud-proofs contract slashes; a slash takes all active and pending stake, pays the prover's
/// bounty to the beneficiary the proof names, pays each allocation's backer its slice net of the bounty
/// (and tells it, so its books show the loss and the recovery at once), sends the unallocated rest to the
/// loss recipient, and suspends the device. The bounty plus every approved backer's cover factor ceiling
/// stays below 100%, for parameters in force and scheduled: corruption never pays.
/// @dev Stake belongs to the device: deposits, withdrawal requests and withdrawals are made by (and paid
/// to) the device's current operator in the registry, so a custody transfer carries the bond with it.
interface IDeviceStaking {
    /// @notice One storage slot per device.
    struct DeviceStake {
        uint96 active;
        uint96 pending;
        /// @dev When the pending withdrawal unlocks (0 when none).
        uint40 unlockAt;
        /// @dev How many allocations the device has (at most MAX_ALLOCATIONS).
        uint8 allocations;
    }

    /// @notice A slice of a device's active stake backing `backer`'s coverage in `scope` (the device id for
    /// coverage on the device itself, a feed id for coverage on a feed the device is a member of).
    struct Allocation {
        address backer;
        uint96 amount;
        bytes32 scope;
    }

    /// @notice Governance parameters. Changes take effect only after a delay longer than the unbonding
    /// period in force, so no pending withdrawal escapes a change of slashing terms.
    struct Params {
        uint96 minStake;
        uint64 unbondingPeriod;
        /// @dev Share of a slash paid to the prover's beneficiary, in basis points.
        uint16 bountyBps;
        address lossRecipient;
    }

    error StakingNotOperator(DeviceId deviceId, address caller);
    error StakingNotProofs(address caller);
    error StakingZeroAmount();
    error StakingNothingReceived(uint256 amount);
    error StakingBelowMinimum(DeviceId deviceId, uint256 active, uint256 minStake);
    error StakingInsufficientStake(DeviceId deviceId, uint256 active, uint256 requested);
    error StakingNoWithdrawal(DeviceId deviceId);
    error StakingStillUnbonding(DeviceId deviceId, uint64 unlockAt, uint256 timestamp);
    error StakingTerminalDevice(DeviceId deviceId);
    error StakingNothingToSlash(DeviceId deviceId);
    error StakingInvalidParams();
    error StakingNoPendingParams();
    error StakingParamsNotYetEffective(uint64 effectiveAt, uint256 timestamp);
    error StakingProofsAlreadySet(address proofs);
    error StakingWindowNotShorter(uint256 evidenceWindow, uint256 unbondingPeriod);
    /// @notice `amount` is more than the active stake no allocation holds (`unallocated`).
    error StakingStakeAllocated(DeviceId deviceId, uint256 unallocated, uint256 amount);
    error StakingNotBacker(address backer);
    error StakingTooManyAllocations(DeviceId deviceId, uint256 max);
    error StakingTooManyBackers(uint256 max);
    error StakingInsufficientAllocation(DeviceId deviceId, address backer, bytes32 scope, uint256 allocation);
    /// @notice The backer's live coverage still uses `required` of the allocation; `remaining` would be left.
    error StakingAllocationInUse(DeviceId deviceId, address backer, bytes32 scope, uint256 remaining, uint256 required);
    /// @notice `bountyBps + coverFactorCeilingBps` must stay below 10_000, or corruption could pay.
    error StakingBountyTooHigh(uint256 bountyBps, uint256 coverFactorCeilingBps);
    error StakingBackerAssetMismatch(address backer, address asset);

    /// @notice `amount` (as received) was added to the device's active stake.
    event Staked(DeviceId indexed deviceId, address indexed operator, uint256 amount, uint256 active);
    /// @notice A withdrawal of `amount` was requested; it unlocks at `unlockAt`.
    event WithdrawalRequested(DeviceId indexed deviceId, address indexed operator, uint256 amount, uint64 unlockAt);
    /// @notice An unlocked withdrawal was paid out.
    event Withdrawn(DeviceId indexed deviceId, address indexed operator, uint256 amount);
    /// @notice A proof slashed the device: `bounty` to `beneficiary`, `loss` (the stake no allocation held,
    /// net of the bounty) to the loss recipient; each backer's share follows as BackerPaid.
    event Slashed(
        DeviceId indexed deviceId,
        address indexed beneficiary,
        bytes32 indexed incident,
        uint256 bounty,
        uint256 loss
    );
    /// @notice The operator allocated `amount` more of the device's active stake to `backer` for `scope`.
    event Allocated(
        DeviceId indexed deviceId,
        address indexed backer,
        bytes32 indexed scope,
        uint256 amount,
        uint256 allocation
    );
    /// @notice The operator took `amount` of the allocation back into unallocated active stake.
    event Deallocated(
        DeviceId indexed deviceId,
        address indexed backer,
        bytes32 indexed scope,
        uint256 amount,
        uint256 allocation
    );
    /// @notice A slash paid `amount` of the device's stake to a backer (scope 0: the unallocated rest).
    event BackerPaid(DeviceId indexed deviceId, address indexed backer, bytes32 indexed scope, uint256 amount);
    /// @notice Governance approved (or stopped approving) `backer` for new allocations.
    event BackerSet(address indexed backer, bool approved);
    /// @notice Governance scheduled new parameters, effective at `effectiveAt`.
    event ParamsScheduled(Params params, uint64 effectiveAt);
    /// @notice Scheduled parameters took effect.
    event ParamsApplied(Params params);
    /// @notice The fraud-proofs contract was set (once).
    event ProofsSet(address proofs);
    /// @notice The loss recipient was set at deployment, before any slash could happen (setLossRecipient).
    event LossRecipientSet(address lossRecipient);

    /// @notice The device's operator bonds `amount` of the collateral token (pulled with transferFrom;
    /// credited by what actually arrives). The result must reach the minimum stake.
    function stake(DeviceId deviceId, uint256 amount) external;

    /// @notice The operator asks to withdraw `amount` of active stake that no allocation holds; it unlocks
    /// after the unbonding period (a new request adds to the pending one and restarts its clock) and stays
    /// slashable until withdrawn. What remains active must be 0 or at least the minimum stake.
    function requestWithdrawal(DeviceId deviceId, uint256 amount) external;

    /// @notice The operator collects an unlocked withdrawal.
    function withdraw(DeviceId deviceId) external;

    /// @notice The operator allocates `amount` of the device's unallocated active stake to `backer` (approved
    /// by governance) for `scope`.
    function allocate(DeviceId deviceId, address backer, bytes32 scope, uint256 amount) external;

    /// @notice The operator takes `amount` of an allocation back; what remains must still cover what the
    /// backer's live coverage requires.
    function deallocate(DeviceId deviceId, address backer, bytes32 scope, uint256 amount) external;

    /// @notice Called by the fraud-proofs contract only: slashes all slashable stake of the device
    /// (active, then pending), pays the bounty, each allocation's backer and the loss recipient, suspends
    /// the device. Returns the amount slashed.
    function slash(DeviceId deviceId, address beneficiary, bytes32 incident) external returns (uint256 slashed);

    /// @notice Governance approves a backer (its asset must be the collateral, its cover factor ceiling plus
    /// every bounty in force or scheduled below 100%) or stops approving it for new allocations.
    function setBacker(address backer, bool approved) external;

    /// @notice Governance sets the fraud-proofs contract, once (it is deployed after staking).
    function setProofs(address proofs) external;

    /// @notice Governance sets the loss recipient at once, only before the fraud-proofs contract is set: no
    /// slash can happen before then, so nobody's funds depend on where slashes go (the deployment makes
    /// the insurance pool, deployed after staking, the recipient this way). Later changes are scheduled.
    function setLossRecipient(address lossRecipient) external;

    /// @notice Governance schedules new parameters (effective after the current unbonding period plus a day).
    function scheduleParams(Params calldata params) external;

    /// @notice Anyone applies scheduled parameters once they are effective.
    function applyParams() external;

    /// @notice The device's stake record.
    function stakeOf(DeviceId deviceId) external view returns (DeviceStake memory);

    /// @notice Active plus pending: what a proof would take now.
    function slashableOf(DeviceId deviceId) external view returns (uint256);

    /// @notice Active stake: what makes the device eligible and can back coverage (pending stake may unlock
    /// before a proof lands, so it counts for nothing).
    function activeOf(DeviceId deviceId) external view returns (uint256);

    /// @notice The device's allocation to `backer` for `scope`.
    function allocationOf(DeviceId deviceId, address backer, bytes32 scope) external view returns (uint256);

    /// @notice Every allocation of the device.
    function allocationsOf(DeviceId deviceId) external view returns (Allocation[] memory);

    /// @notice The sum of the device's allocations.
    function allocatedOf(DeviceId deviceId) external view returns (uint256);

    /// @notice The active stake of those of `deviceIds` whose current operator is `operator`.
    function slashableOfOperator(address operator, DeviceId[] calldata deviceIds) external view returns (uint256);

    /// @notice What corrupting all these devices would cost for sure: the sum of their active stake (a
    /// pending withdrawal may unlock before a proof lands).
    function costOfCorruption(DeviceId[] calldata deviceIds) external view returns (uint256);

    /// @notice Whether governance approves `backer` for new allocations.
    function isBacker(address backer) external view returns (bool);

    /// @notice The approved backers.
    function backers() external view returns (address[] memory);

    /// @notice The fraud-proofs contract (zero until governance sets it).
    function proofs() external view returns (address);

    /// @notice The most allocations a device holds.
    function MAX_ALLOCATIONS() external view returns (uint256);

    /// @notice The parameters in force.
    function params() external view returns (Params memory);

    /// @notice Scheduled parameters and when they take effect (effectiveAt 0: none).
    function pendingParams() external view returns (Params memory, uint64 effectiveAt);
}

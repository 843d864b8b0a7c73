// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {DeviceId} from "../types/DeviceId.sol";

/// @title IDeviceStaking
/// @notice Operators bond ERC-20 collateral per device. Withdrawal is a request that unlocks after the
/// unbonding period and stays slashable until withdrawn. Only the fraud-proofs contract slashes; a slash
/// takes active stake first, then the pending withdrawal, pays the prover's bounty to the beneficiary the
/// proof names, sends the rest to the loss recipient (the insurance pool), and suspends the device.
/// @dev Stake belongs to the device: deposits, withdrawal requests and withdrawals are made by (and paid
/// to) the device's current operator in the registry, so a custody transfer carries the bond with it.
interface IDeviceStaking {
    /// @notice One storage slot per device.
    struct DeviceStake {
        uint96 active;
        uint96 pending;
        /// @dev When the pending withdrawal unlocks (0 when none).
        uint64 unlockAt;
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

    /// @notice `amount` (as received) was added to the device's active stake.
    event Staked(DeviceId indexed deviceId, address indexed operator, uint256 amount, uint256 active);
    /// @notice A withdrawal of `amount` was requested; it unlocks at `unlockAt`.
    event WithdrawalRequested(DeviceId indexed deviceId, address indexed operator, uint256 amount, uint64 unlockAt);
    /// @notice An unlocked withdrawal was paid out.
    event Withdrawn(DeviceId indexed deviceId, address indexed operator, uint256 amount);
    /// @notice A proof slashed the device: `bounty` to `beneficiary`, `loss` to the loss recipient.
    event Slashed(
        DeviceId indexed deviceId,
        address indexed beneficiary,
        bytes32 indexed incident,
        uint256 bounty,
        uint256 loss
    );
    /// @notice Governance scheduled new parameters, effective at `effectiveAt`.
    event ParamsScheduled(Params params, uint64 effectiveAt);
    /// @notice Scheduled parameters took effect.
    event ParamsApplied(Params params);
    /// @notice The fraud-proofs contract was set (once).
    event ProofsSet(address proofs);

    /// @notice The device's operator bonds `amount` of the collateral token (pulled with transferFrom;
    /// credited by what actually arrives). The result must reach the minimum stake.
    function stake(DeviceId deviceId, uint256 amount) external;

    /// @notice The operator asks to withdraw `amount` of active stake; it unlocks after the unbonding
    /// period (a new request adds to the pending one and restarts its clock) and stays slashable until
    /// withdrawn. What remains active must be 0 or at least the minimum stake.
    function requestWithdrawal(DeviceId deviceId, uint256 amount) external;

    /// @notice The operator collects an unlocked withdrawal.
    function withdraw(DeviceId deviceId) external;

    /// @notice Called by the fraud-proofs contract only: slashes all slashable stake of the device
    /// (active, then pending), pays the bounty and the loss, suspends the device. Returns the amount slashed.
    function slash(DeviceId deviceId, address beneficiary, bytes32 incident) external returns (uint256 slashed);

    /// @notice Governance sets the fraud-proofs contract, once (it is deployed after staking).
    function setProofs(address proofs) external;

    /// @notice Governance schedules new parameters (effective after the current unbonding period plus a day).
    function scheduleParams(Params calldata params) external;

    /// @notice Anyone applies scheduled parameters once they are effective.
    function applyParams() external;

    /// @notice The device's stake record.
    function stakeOf(DeviceId deviceId) external view returns (DeviceStake memory);

    /// @notice Active plus pending: what a proof would take.
    function slashableOf(DeviceId deviceId) external view returns (uint256);

    /// @notice The slashable stake of those of `deviceIds` whose current operator is `operator`.
    function slashableOfOperator(address operator, DeviceId[] calldata deviceIds) external view returns (uint256);

    /// @notice What corrupting all these devices would cost: the sum of their slashable stake.
    function costOfCorruption(DeviceId[] calldata deviceIds) external view returns (uint256);

    /// @notice The parameters in force.
    function params() external view returns (Params memory);

    /// @notice Scheduled parameters and when they take effect (effectiveAt 0: none).
    function pendingParams() external view returns (Params memory, uint64 effectiveAt);
}
